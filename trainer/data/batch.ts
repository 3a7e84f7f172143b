/**
 * The in-memory batch every consumer (training loop, teacher cache, evaluation) reads.
 * Producers: the shard reader (trainer/data) and the synthetic generators. Plain typed arrays,
 * row-major, so a batch crosses worker/process boundaries and turns into tensors in one call.
 */

/** Special token ids, the same in every tokenizer this project writes or loads. */
export const SPECIAL_TOKENS = { PAD: 0, UNK: 1, BOS: 2, EOS: 3 } as const;
export const SPECIAL_TOKEN_STRINGS = ['[PAD]', '[UNK]', '[BOS]', '[EOS]'] as const;

export interface Batch {
  /** Number of examples B. */
  readonly size: number;
  /** Example ids (stable across runs: cache and evaluation key on them). */
  readonly ids: readonly string[];
  /** Normalised RGB pixels `[B, S, S, 3]` (S = imageSize), mean 0 / std 1 per channel. */
  readonly images: Float32Array;
  /** Encoder text ids `[B, Lt]` (question or source sentence), PAD = 0 after the end. */
  readonly text: Int32Array;
  /**
   * Decoder target `[B, Ld + 1]` = BOS, tokens…, EOS, PAD… ; the decoder reads `[:, :-1]` and
   * predicts `[:, 1:]` (PAD positions are excluded from losses). Absent for VQA.
   */
  readonly target?: Int32Array;
  /** VQA soft targets `[B, A]` (min(#annotators giving the answer / 3, 1)). Absent for generation. */
  readonly answerScores?: Float32Array;
  /** VQA hard label `[B]` (the most frequent answer's index, −1 when out of vocabulary). */
  readonly answerLabel?: Int32Array;
}
