/**
 * Autoregressive decoding with the model family's decoder: batched greedy search and beam search.
 *
 * Both search over the same per-step distribution, computed by `nextTokenCandidates`:
 *   - the decoder reads the prefix `[BOS, y_1 … y_{t-1}]` (`[R, t]`, R = rows of this step) and
 *     the next-token log-probabilities are the log-softmax of the LAST position's logits over
 *     the whole vocabulary, so a hypothesis' score is its exact model log-probability
 *     Σ_t log p(y_t | y_<t, image, text) (what `sequenceLogProbs` recomputes teacher-forced);
 *   - PAD and BOS are never generated (they are not output tokens: a PAD inside a prefix would
 *     be masked as a key, BOS only starts a sequence). They are removed from the choice, not
 *     from the softmax, so scores stay the model's own log-probabilities.
 * Rows are (example, live hypothesis) pairs: finished hypotheses and finished examples take no
 * row, so the batch shrinks as decoding proceeds. Beam hypotheses are flattened into the batch
 * dimension (an example with k live beams has k rows).
 *
 * Cost: the encoder runs once per batch (`VLModel.encode`); each step gathers the encoder
 * output of its rows (k rows share an example's under beam search) and runs the decoder on the
 * whole prefix (`VLModel.decodeFrom`). There is no key/value cache, so a decode of L tokens
 * still costs Σ_t decoder passes over t positions.
 *
 * One search, two drivers: the searches are written once as generators that yield each step's
 * rows and receive their candidates. `greedyDecode`/`beamSearch` drive them synchronously with
 * the TensorFlow.js model; `greedyDecodeWith`/`beamSearchWith` drive them with any `StepDecoder`
 * (ONNX Runtime's encoder.onnx/decoder.onnx in trainer/onnx/onnx-decoder.ts, or the tfjs model
 * through `tfjsStepDecoder`), asynchronously. Same rows, same ranking, same ties on every runtime.
 *
 * Output: per example, the generated ids WITHOUT the leading BOS, ending with EOS when the
 * hypothesis finished (nothing follows EOS), or exactly `maxLen` ids when it did not.
 */
import * as tf from '@tensorflow/tfjs';
import { SPECIAL_TOKENS } from '../data/batch';
import type { EncodedBatch, VLModel } from '../model';

/** Encoder inputs of a batch to decode. */
export interface DecodeInputs {
  /** Normalised RGB pixels `[B, S, S, 3]` float32. */
  readonly images: tf.Tensor4D;
  /** Encoder text ids `[B, Lt]` int32, 0 = PAD. */
  readonly text: tf.Tensor2D;
}

export interface BeamSearchOptions {
  /** Hypotheses kept per example; 1 gives exactly the greedy result. */
  readonly beamSize: number;
  /**
   * Exponent α of the GNMT length penalty lp(len) = ((5 + len) / 6)^α (Wu et al. 2016, "Google's
   * Neural Machine Translation System", Eq. 14); hypotheses are ranked by log P / lp(len), len =
   * generated tokens including EOS. 0 = rank by the raw log-probability. @default 0
   */
  readonly lengthPenalty?: number;
  /** Most tokens generated per example, EOS included. @default model.config.maxTargetLength */
  readonly maxLen?: number;
}

/** One decoded sequence with its score. */
export interface Hypothesis {
  /** Generated ids (no BOS; ends with EOS when `finished`). */
  readonly tokens: Int32Array;
  /** Model log-probability of `tokens` given the image and text (natural log). */
  readonly logProb: number;
  /** True when the sequence ended with EOS (false: cut at maxLen). */
  readonly finished: boolean;
}

/** Thrown for invalid decoding arguments; the message names the argument and the fix. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

const { PAD, BOS, EOS } = SPECIAL_TOKENS;

/** GNMT length penalty ((5 + len) / 6)^α; 1 for α = 0. */
export function lengthPenalty(length: number, alpha: number): number {
  return alpha === 0 ? 1 : ((5 + length) / 6) ** alpha;
}

/** Greedy decoding of every example of the batch (argmax token each step until EOS or maxLen). */
export function greedyDecode(model: VLModel, inputs: DecodeInputs, maxLen?: number): Int32Array[] {
  return greedyDecodeScored(model, inputs, maxLen).map((h) => h.tokens);
}

/** Beam search over every example of the batch; returns the best hypothesis' ids per example. */
export function beamSearch(model: VLModel, inputs: DecodeInputs, options: BeamSearchOptions): Int32Array[] {
  return beamSearchScored(model, inputs, options).map((h) => h.tokens);
}

/** `greedyDecode` with the log-probability of each output. */
export function greedyDecodeScored(model: VLModel, inputs: DecodeInputs, maxLen?: number): Hypothesis[] {
  const { batch, maxLen: L } = checkDecodeArgs(model, inputs, maxLen, 'greedyDecode');
  return withEncoded(model, inputs, (encoded) => driveSync(greedySearch(batch, L), (q) => nextTokenCandidates(model, encoded, q.rowExample, q.rowPrefix, q.t, q.k)));
}

/** What a search asks for at one step: the k best next tokens of each row. */
export interface StepQuery {
  /** Example of each row. */
  readonly rowExample: readonly number[];
  /** Generated prefix of each row (t − 1 ids, no BOS). */
  readonly rowPrefix: readonly (readonly number[])[];
  /** Step (1-based): the decoder reads `[BOS, prefix…]` of length t. */
  readonly t: number;
  readonly k: number;
}

/** The k most probable next tokens per row, for a search (see `candidatesFromLogits`). */
export interface Candidates {
  /** `[R, k]` log-probabilities, descending per row (−∞ for tokens that cannot be generated). */
  readonly logProbs: Float32Array;
  /** `[R, k]` token ids. */
  readonly tokens: Int32Array;
}

/**
 * A model's decoder as the searches see it, on any runtime: the batch is encoded once when the
 * decoder is made; `candidates` runs the decoder on the rows' prefixes.
 */
export interface StepDecoder {
  /** Examples B of the encoded batch. */
  readonly batch: number;
  /** Longest output the model supports (its decoder positions). */
  readonly maxTargetLength: number;
  candidates(query: StepQuery): Promise<Candidates>;
  /** Frees the encoder output. */
  dispose(): void;
}

/** Greedy decoding through any StepDecoder (same search as `greedyDecodeScored`). */
export async function greedyDecodeWith(decoder: StepDecoder, maxLen?: number): Promise<Hypothesis[]> {
  const L = checkMaxLen(maxLen, decoder.maxTargetLength, 'greedyDecodeWith');
  return driveAsync(greedySearch(decoder.batch, L), (q) => decoder.candidates(q));
}

/** Beam search through any StepDecoder (same search as `beamSearchScored`). */
export async function beamSearchWith(decoder: StepDecoder, options: BeamSearchOptions): Promise<Hypothesis[]> {
  const L = checkMaxLen(options.maxLen, decoder.maxTargetLength, 'beamSearchWith');
  return driveAsync(beamSearch_(decoder.batch, L, options), (q) => decoder.candidates(q));
}

/** The tfjs model as a StepDecoder (encodes `inputs` now; the caller disposes it). */
export function tfjsStepDecoder(model: VLModel, inputs: DecodeInputs): StepDecoder {
  const { batch } = checkDecodeArgs(model, inputs, undefined, 'tfjsStepDecoder');
  const [states, valid] = tf.tidy(() => {
    const e = model.encode(inputs);
    return [e.states, e.valid];
  });
  const encoded: EncodedBatch = { states: states as tf.Tensor3D, valid: valid as tf.Tensor2D };
  return {
    batch,
    maxTargetLength: model.config.maxTargetLength,
    candidates: async (q) => nextTokenCandidates(model, encoded, q.rowExample, q.rowPrefix, q.t, q.k),
    dispose: () => tf.dispose([encoded.states, encoded.valid]),
  };
}

type Search = Generator<StepQuery, Hypothesis[], Candidates>;

function driveSync(search: Search, step: (q: StepQuery) => Candidates): Hypothesis[] {
  let r = search.next();
  while (!r.done) r = search.next(step(r.value));
  return r.value;
}

async function driveAsync(search: Search, step: (q: StepQuery) => Promise<Candidates>): Promise<Hypothesis[]> {
  let r = search.next();
  while (!r.done) r = search.next(await step(r.value));
  return r.value;
}

/** Greedy search over `batch` examples, at most L steps: one row per unfinished example. */
function* greedySearch(batch: number, L: number): Search {
  const tokens: number[][] = Array.from({ length: batch }, () => []);
  const logProb = new Float64Array(batch);
  const finished = new Array<boolean>(batch).fill(false);
  let active = Array.from({ length: batch }, (_, b) => b); // one row per unfinished example
  for (let t = 1; t <= L && active.length > 0; t++) {
    const next: Candidates = yield { rowExample: active, rowPrefix: active.map((b) => tokens[b]!), t, k: 1 };
    active.forEach((b, r) => {
      const token = next.tokens[r]!;
      tokens[b]!.push(token);
      logProb[b] += next.logProbs[r]!;
      if (token === EOS) finished[b] = true;
    });
    active = active.filter((b) => !finished[b]);
  }
  return tokens.map((ids, b) => ({ tokens: Int32Array.from(ids), logProb: logProb[b]!, finished: finished[b]! }));
}

/** A hypothesis during beam search. */
interface Beam {
  readonly tokens: readonly number[];
  readonly logProb: number;
  readonly finished: boolean;
  /** logProb / lp(len): the ranking key. */
  readonly rank: number;
}

/**
 * `beamSearch` with the log-probability of each output.
 *
 * Per example, up to `beamSize` hypotheses. Each step every live (unfinished) hypothesis is
 * extended by its `beamSize` most probable tokens; these candidates and the finished hypotheses
 * (carried unchanged: finished hypotheses stop growing) are ranked by log P / lp(len) and the
 * best `beamSize` survive (ties keep the earlier candidate: finished first, then by beam and
 * token rank). An example is done when its best hypothesis is finished and no live hypothesis
 * can still beat it: a live score can only fall and lp only grows up to lp(maxLen), so a live
 * hypothesis ends at best at logP_now / lp(maxLen) (logP ≤ 0). The result is the best-ranked
 * hypothesis after the last step. beamSize 1 reproduces greedyDecode exactly (same rows, same
 * candidates, same kernels), for any α.
 *
 * Beam search is a heuristic: a wider beam usually, but not provably, finds a sequence at
 * least as probable as greedy's (greedy's prefix can be pushed out of the beam by prefixes
 * that later end worse).
 */
export function beamSearchScored(model: VLModel, inputs: DecodeInputs, options: BeamSearchOptions): Hypothesis[] {
  const { batch, maxLen: L } = checkDecodeArgs(model, inputs, options.maxLen, 'beamSearch');
  const search = beamSearch_(batch, L, options); // validates the options before encoding
  return withEncoded(model, inputs, (encoded) => driveSync(search, (q) => nextTokenCandidates(model, encoded, q.rowExample, q.rowPrefix, q.t, q.k)));
}

/** The beam search of `beamSearchScored` as a generator (options checked when it is created). */
function beamSearch_(batch: number, L: number, options: BeamSearchOptions): Search {
  const K = options.beamSize;
  const alpha = options.lengthPenalty ?? 0;
  if (!Number.isInteger(K) || K < 1) throw new DecodeError(`beamSearch: beamSize must be an integer ≥ 1, got ${K}`);
  if (!Number.isFinite(alpha) || alpha < 0) throw new DecodeError(`beamSearch: lengthPenalty must be a finite number ≥ 0, got ${alpha}`);
  return beamSearchSteps(batch, L, K, alpha);
}

function* beamSearchSteps(batch: number, L: number, K: number, alpha: number): Search {
  const lpMax = lengthPenalty(L, alpha);
  const beams: Beam[][] = Array.from({ length: batch }, () => [{ tokens: [], logProb: 0, finished: false, rank: 0 }]);
  let active = Array.from({ length: batch }, (_, b) => b); // examples still searching
  for (let t = 1; t <= L && active.length > 0; t++) {
    // Rows: every live beam of every active example, in (example, beam) order.
    const rowExample: number[] = [];
    const rowPrefix: (readonly number[])[] = [];
    for (const b of active) {
      for (const beam of beams[b]!) {
        if (beam.finished) continue;
        rowExample.push(b);
        rowPrefix.push(beam.tokens);
      }
    }
    const next: Candidates = yield { rowExample, rowPrefix, t, k: K };
    const lp = lengthPenalty(t, alpha);
    let row = 0;
    const stillActive: number[] = [];
    for (const b of active) {
      const candidates: Beam[] = [];
      for (const beam of beams[b]!) if (beam.finished) candidates.push(beam);
      for (const beam of beams[b]!) {
        if (beam.finished) continue;
        for (let j = 0; j < K; j++) {
          const stepLogProb = next.logProbs[row * K + j]!;
          if (!Number.isFinite(stepLogProb)) continue; // PAD/BOS, or fewer than K generable tokens
          const token = next.tokens[row * K + j]!;
          const logProb = beam.logProb + stepLogProb;
          candidates.push({ tokens: [...beam.tokens, token], logProb, finished: token === EOS, rank: logProb / lp });
        }
        row++;
      }
      // Stable sort: equal ranks keep the candidate order above (deterministic ties).
      const kept = candidates
        .map((c, i) => ({ c, i }))
        .sort((x, y) => y.c.rank - x.c.rank || x.i - y.i)
        .slice(0, K)
        .map(({ c }) => c);
      beams[b] = kept;
      const best = kept[0]!;
      const settled = best.finished && kept.every((h) => h.finished || best.rank >= h.logProb / lpMax);
      if (!settled) stillActive.push(b);
    }
    active = stillActive;
  }
  return beams.map(([best]) => ({ tokens: Int32Array.from(best!.tokens), logProb: best!.logProb, finished: best!.finished }));
}

/**
 * Teacher-forced model log-probability of given output sequences (ids without BOS, as the
 * decoders return them; EOS, when present, is scored; nothing after EOS is). Uses the same
 * full-vocabulary log-softmax as the searches, so it reproduces their scores.
 */
export function sequenceLogProbs(model: VLModel, inputs: DecodeInputs, sequences: readonly ArrayLike<number>[]): number[] {
  const { batch } = checkDecodeArgs(model, inputs, undefined, 'sequenceLogProbs');
  if (sequences.length !== batch) throw new DecodeError(`sequenceLogProbs: got ${sequences.length} sequences for a batch of ${batch}`);
  const lengths = sequences.map((s) => {
    let n = 0;
    while (n < s.length && (n === 0 || s[n - 1] !== EOS)) n++;
    return n;
  });
  const T = Math.max(1, ...lengths);
  const Ld = model.config.maxTargetLength;
  if (T > Ld) throw new DecodeError(`sequenceLogProbs: a sequence has ${T} tokens, more than config.maxTargetLength = ${Ld}`);
  const decoderIds = new Int32Array(batch * T); // [B, T]: BOS, y_1 … y_{T-1}, PAD after the end
  const targetIds = new Int32Array(batch * T).fill(-1); // [B, T]: y_1 … y_T, −1 (no score) after the end
  sequences.forEach((s, b) => {
    decoderIds[b * T] = BOS;
    for (let t = 0; t < lengths[b]!; t++) {
      if (t + 1 < lengths[b]!) decoderIds[b * T + t + 1] = s[t]!;
      targetIds[b * T + t] = s[t]!;
    }
  });
  const V = model.config.vocabSize;
  const sums = tf.tidy(() => {
    const decoderInput = tf.tensor2d(decoderIds, [batch, T], 'int32');
    const { lmLogits } = model.apply({ images: inputs.images, text: inputs.text, decoderInput }, { training: false });
    const logp = tf.logSoftmax(lmLogits!); // [B, T, V]
    const pick = tf.oneHot(tf.tensor2d(targetIds, [batch, T], 'int32'), V); // [B, T, V], all-zero rows for −1
    return tf.sum(tf.mul(logp, pick), [1, 2]); // [B]
  });
  const out = Array.from(sums.dataSync());
  sums.dispose();
  return out;
}

/**
 * The k most probable next tokens of each row. Row r decodes example `rowExample[r]` with the
 * generated prefix `rowPrefix[r]` (t − 1 ids; BOS is prepended here), so the decoder input is
 * `[R, t]` and the prediction is read at its last position.
 */
function nextTokenCandidates(
  model: VLModel,
  encoded: EncodedBatch,
  rowExample: readonly number[],
  rowPrefix: readonly (readonly number[])[],
  t: number,
  k: number,
): Candidates {
  const R = rowExample.length;
  const V = model.config.vocabSize;
  const prefix = new Int32Array(R * t); // [R, t]
  rowPrefix.forEach((p, r) => {
    prefix[r * t] = BOS;
    for (let i = 0; i < t - 1; i++) prefix[r * t + 1 + i] = p[i]!;
  });
  const blocked = new Float32Array(V); // [V]: −∞ on tokens that are never generated
  blocked[PAD] = -Infinity;
  blocked[BOS] = -Infinity;
  const [values, indices] = tf.tidy(() => {
    const rows = tf.tensor1d(Int32Array.from(rowExample), 'int32');
    const states = tf.gather(encoded.states, rows) as tf.Tensor3D; // [R, P+Lt, width]
    const valid = tf.gather(encoded.valid, rows) as tf.Tensor2D; // [R, P+Lt]
    const decoderInput = tf.tensor2d(prefix, [R, t], 'int32');
    const lmLogits = model.decodeFrom({ states, valid }, decoderInput); // [R, t, V]
    const last = lmLogits.slice([0, t - 1, 0], [R, 1, V]).reshape([R, V]); // [R, V]
    const logp = tf.add(tf.logSoftmax(last), tf.tensor1d(blocked)) as tf.Tensor2D; // [R, V]
    const top = tf.topk(logp, Math.min(k, V)); // [R, k], sorted descending
    return [top.values, top.indices];
  });
  const kk = Math.min(k, V);
  const logProbs = new Float32Array(R * k).fill(-Infinity);
  const tokens = new Int32Array(R * k).fill(PAD);
  const v = values.dataSync();
  const ix = indices.dataSync();
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < kk; j++) {
      logProbs[r * k + j] = v[r * kk + j]!;
      tokens[r * k + j] = ix[r * kk + j]!;
    }
  }
  tf.dispose([values, indices]);
  return { logProbs, tokens };
}

/** Encodes the batch once, runs `decode` against it, and frees the encoder output afterwards. */
function withEncoded<T>(model: VLModel, inputs: DecodeInputs, decode: (encoded: EncodedBatch) => T): T {
  const [states, valid] = tf.tidy(() => {
    const e = model.encode(inputs);
    return [e.states, e.valid];
  });
  const encoded: EncodedBatch = { states: states as tf.Tensor3D, valid: valid as tf.Tensor2D };
  try {
    return decode(encoded);
  } finally {
    tf.dispose([encoded.states, encoded.valid]);
  }
}

function checkDecodeArgs(model: VLModel, inputs: DecodeInputs, maxLen: number | undefined, fn: string): { batch: number; maxLen: number } {
  const c = model.config;
  if (c.decoderLayers === 0) throw new DecodeError(`${fn}: the model has no decoder (config.decoderLayers = 0); decoding needs a generation model`);
  const { images, text } = inputs;
  if (!images || images.rank !== 4) throw new DecodeError(`${fn}: inputs.images must be [B, S, S, 3], got shape [${images?.shape}]`);
  if (!text || text.rank !== 2 || text.shape[0] !== images.shape[0]) {
    throw new DecodeError(`${fn}: inputs.text must be [${images.shape[0]}, Lt] (B from images), got shape [${text?.shape}]`);
  }
  return { batch: images.shape[0], maxLen: checkMaxLen(maxLen, c.maxTargetLength, fn) };
}

function checkMaxLen(maxLen: number | undefined, maxTargetLength: number, fn: string): number {
  const L = maxLen ?? maxTargetLength;
  if (!Number.isInteger(L) || L < 1 || L > maxTargetLength) {
    throw new DecodeError(`${fn}: maxLen must be an integer in [1, config.maxTargetLength = ${maxTargetLength}], got ${maxLen}`);
  }
  return L;
}

/**
 * Host-side candidates from the last position's logits `[R, V]` (runtimes that return arrays):
 * log-softmax over the whole vocabulary (float64 sums, so the scores are the model's own
 * log-probabilities), PAD and BOS removed from the choice, the k best per row in descending
 * order with ties to the lower token id (tf.topk's order).
 */
export function candidatesFromLogits(logits: Float32Array, R: number, V: number, k: number): Candidates {
  if (logits.length !== R * V) throw new DecodeError(`candidatesFromLogits: expected ${R} × ${V} logits, got ${logits.length}`);
  const kk = Math.min(k, V);
  const logProbs = new Float32Array(R * k).fill(-Infinity);
  const tokens = new Int32Array(R * k).fill(PAD);
  const order = Array.from({ length: V }, (_, v) => v);
  for (let r = 0; r < R; r++) {
    const row = logits.subarray(r * V, (r + 1) * V);
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, row[v]!);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(row[v]! - max);
    const logZ = max + Math.log(sum);
    const lp = (v: number) => (v === PAD || v === BOS ? -Infinity : Math.fround(row[v]! - logZ));
    const best = order.slice().sort((a, b) => lp(b) - lp(a) || a - b).slice(0, kk);
    best.forEach((v, j) => {
      logProbs[r * k + j] = lp(v);
      tokens[r * k + j] = v;
    });
  }
  return { logProbs, tokens };
}
