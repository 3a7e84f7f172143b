/**
 * Small tensor helpers shared by the distillation losses.
 */
import * as tf from '@tensorflow/tfjs';

/** ε of every KL in METHOD.md: `Σ_k p_k (log(p_k + ε) − log(q_k + ε))`. */
export const KL_EPSILON = 1e-8;

/**
 * Floor under squared norms before the square root. A zeroed (padded) map or row has norm 0;
 * `sqrt` has an infinite derivative there, and ×0 from the mask would turn it into NaN. Through
 * `maximum`, the gradient of a floored norm goes to the constant, i.e. is 0.
 */
export const SQUARED_NORM_FLOOR = 1e-24;

/**
 * Identity whose gradient is zero: tfjs has no `stopGradient`, so a customGrad stands in
 * (TFJS-NOTES.md). Used for teacher tensors and for detached alignment weights. The value is a
 * reshape, which shares the input's memory: `clone()` copies on wasm (a teacher map set is MBs).
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const detached = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.reshape(inputs[0] as tf.Tensor, (inputs[0] as tf.Tensor).shape),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  }));
  return detached(x) as T;
}

/** L2 norm along `axis` (kept), safe at 0 (see SQUARED_NORM_FLOOR). */
export function safeNorm(x: tf.Tensor, axis: number): tf.Tensor {
  return tf.sqrt(tf.maximum(tf.sum(tf.square(x), axis, true), SQUARED_NORM_FLOOR));
}

/**
 * Row-wise KL(p ‖ q) over the last axis with METHOD.md's ε: `[..., Q, K] → [..., Q]`.
 * Summed per row first (a float32 sum over K values), never as one giant sum: TFJS-NOTES.md
 * measured ~1e-3 relative error for the latter. Terms with p_k = 0 are 0·finite = 0.
 * `log(p+ε) − log(q+ε)` is taken as one `log((p+ε)/(q+ε))`: the same value up to float32
 * rounding, and `log` is a slow scalar loop on wasm (~10× a multiply) while a division is not.
 */
export function rowKl(p: tf.Tensor, q: tf.Tensor): tf.Tensor {
  const logRatio = tf.log(tf.div(tf.add(p, KL_EPSILON), tf.add(q, KL_EPSILON)));
  return tf.sum(tf.mul(p, logRatio), -1);
}

/**
 * Mean over valid query rows per example and head: `[B, H, Q]` values, `[B, Q]` mask (1 = real
 * row) or null (all rows valid) → `[B, H]`. An example with no valid row contributes 0 (its
 * count is floored at 1) rather than NaN.
 */
export function maskedRowMean(values: tf.Tensor3D, rowMask: tf.Tensor2D | null): tf.Tensor2D {
  if (rowMask === null) return tf.mean(values, 2);
  const [B, , Q] = values.shape;
  const mask3D = tf.reshape(rowMask, [B, 1, Q]); // [B, 1, Q]
  const count = tf.maximum(tf.sum(mask3D, 2), 1); // [B, 1]
  return tf.div(tf.sum(tf.mul(values, mask3D), 2), count) as tf.Tensor2D; // [B, H]
}
