/**
 * Attention masks in the additive-bias layout the attention core broadcasts against its
 * scores `[Tq, B, H, Tk]`.
 */
import * as tf from '@tensorflow/tfjs';
import { MASKED_SCORE } from '../ops/attention-core';

/** How keys are masked in one attention call. */
export interface AttentionMask {
  /** Additive bias, broadcastable to `[Tq, B, H, Tk]`; null = no masking. */
  readonly bias: tf.Tensor | null;
  /** 0/1 `[1, B, 1, Tk]` applied after softmax (rows with no valid key become all-zero); null when every row has a valid key. */
  readonly keyKeep: tf.Tensor | null;
}

export const NO_MASK: AttentionMask = { bias: null, keyKeep: null };

/** 1 for real tokens, 0 for PAD (id 0): int32 `[B, L]` → float32 `[B, L]`. */
export function tokenValidity(ids: tf.Tensor2D): tf.Tensor2D {
  return tf.cast(tf.notEqual(ids, 0), 'float32');
}

/** Bias `[1, B, 1, Tk]` that removes keys whose validity is 0. */
export function keyPaddingBias(keyValid: tf.Tensor2D): tf.Tensor4D {
  const [b, tk] = keyValid.shape;
  return tf.mul(tf.sub(1, keyValid), MASKED_SCORE).reshape([1, b, 1, tk]);
}

/** Bias `[T, 1, 1, T]` that removes keys after the query (causal). */
export function causalBias(t: number): tf.Tensor4D {
  const lower = tf.linalg.bandPart(tf.ones([t, t]), -1, 0); // 1 on and below the diagonal
  return tf.mul(tf.sub(1, lower), MASKED_SCORE).reshape([t, 1, 1, t]);
}

/** Key-padding mask; `guardEmptyRows` adds the post-softmax keep mask for sequences that may be all padding. */
export function paddingMask(keyValid: tf.Tensor2D, guardEmptyRows: boolean): AttentionMask {
  const [b, tk] = keyValid.shape;
  return { bias: keyPaddingBias(keyValid), keyKeep: guardEmptyRows ? keyValid.reshape([1, b, 1, tk]) : null };
}

/** Causal self-attention mask combined with key padding (the decoder's self-attention). */
export function causalPaddingMask(keyValid: tf.Tensor2D): AttentionMask {
  const [b, t] = keyValid.shape;
  return { bias: tf.add(causalBias(t), keyPaddingBias(keyValid)), keyKeep: keyValid.reshape([1, b, 1, t]) };
}
