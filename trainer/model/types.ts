/**
 * The public contract of the model family: inputs, forward options and outputs.
 * The training loop, the distillation losses and the teacher cache code against these names.
 */
import type * as tf from '@tensorflow/tfjs';

/** The attention modules a model can have; AMAD maps each kind separately (METHOD.md "Layer mapping"). */
export type AttentionKind = 'visionSelf' | 'fusionSelf' | 'crossImage' | 'decoderSelf' | 'decoderCross';

export const ATTENTION_KINDS: readonly AttentionKind[] = ['visionSelf', 'fusionSelf', 'crossImage', 'decoderSelf', 'decoderCross'];

export interface ModelInputs {
  /** Normalised RGB pixels `[B, S, S, 3]` float32, S = config.imageSize. */
  images: tf.Tensor4D;
  /** Encoder text ids `[B, Lt]` int32, Lt ≤ config.maxTextLength, 0 = PAD. */
  text: tf.Tensor2D;
  /** Decoder input ids `[B, Ld]` int32 (BOS, tokens…), Ld ≤ config.maxTargetLength, 0 = PAD. Only for decoderLayers > 0; when absent the decoder is not run. */
  decoderInput?: tf.Tensor2D;
}

export interface ForwardOptions {
  /** Dropout on (true) or off (false). */
  training: boolean;
  /** Seed of this step's dropout masks (each dropout site derives its own); random when absent. */
  dropoutSeed?: number;
  /** Return the attention probabilities of every module. @default false */
  returnAttention?: boolean;
  /** Return the Q, K, V projections of every self-attention module. @default false */
  returnQKV?: boolean;
}

export interface ModelOutputs {
  /** VQA answer logits `[B, numAnswers]` (numAnswers > 0). */
  answerLogits?: tf.Tensor2D;
  /** Next-token logits `[B, Ld, vocabSize]` (decoderLayers > 0 and decoderInput given). */
  lmLogits?: tf.Tensor3D;
  /** Final-normalised encoder states `[B, T, width]`, T = numPatches + Lt (`[image ; text]` in both fusion styles). */
  encoderOutput: tf.Tensor3D;
  /** Per layer, `[B, H, Q, K]` softmax probabilities exactly as used in the forward pass; empty unless returnAttention. */
  attention: Partial<Record<AttentionKind, tf.Tensor4D[]>>;
  /** Per layer, heads concatenated `[B, T, width]`; self-attention kinds only; empty unless returnQKV. Q is unscaled. */
  qkv: Partial<Record<AttentionKind, { q: tf.Tensor3D; k: tf.Tensor3D; v: tf.Tensor3D }[]>>;
  /** `[B, Q]` 1 = real query row, 0 = padding, for every kind the model has. */
  queryMask: Partial<Record<AttentionKind, tf.Tensor2D>>;
}

/** `VLModel.encode`'s result: what the decoder attends to, batch-major so that rows can be gathered (one per beam). */
export interface EncodedBatch {
  /** Final-normalised encoder states `[B, P+Lt, width]` (as `ModelOutputs.encoderOutput`). */
  readonly states: tf.Tensor3D;
  /** `[B, P+Lt]` 1 = a key the decoder may attend to (patches and real text tokens), 0 = text padding. */
  readonly valid: tf.Tensor2D;
}

/** Thrown when forward inputs do not match the model's config; the message names the input and the fix. */
export class ModelInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelInputError';
  }
}
