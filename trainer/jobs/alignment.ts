/**
 * The AMAD soft alignment weights a_ij (METHOD.md Eq. 2), averaged over a batch, for the
 * training log and the report's heatmaps: how strongly each teacher head i teaches each student
 * head j. Diagnostic only: computed without gradients on detached maps.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * @param teacher `[B, Ht, Q, K]`  @param student `[B, Hs, Q, K]`  @param queryMask `[B, Q]` or null
 * @returns `[Ht][Hs]` mean over the batch of softmax_j(cos(t_i, s_j) / τ)
 */
export function meanAlignmentWeights(teacher: tf.Tensor4D, student: tf.Tensor4D, queryMask: tf.Tensor2D | null | undefined, temperature = 1): number[][] {
  const [B, Ht, Q, K] = teacher.shape;
  const Hs = student.shape[1];
  const a = tf.tidy(() => {
    const mask = queryMask ? queryMask.cast('float32').reshape([B, 1, Q, 1]) : tf.scalar(1);
    const t = teacher.mul(mask).reshape([B, Ht, 1, Q * K]); // [B, Ht, 1, n]
    const s = student.mul(mask).reshape([B, 1, Hs, Q * K]); // [B, 1, Hs, n]
    const dot = t.mul(s).sum(-1); // [B, Ht, Hs]
    const norms = t.norm('euclidean', -1).mul(s.norm('euclidean', -1)).maximum(1e-12); // [B, Ht, Hs]
    return tf.softmax(dot.div(norms).div(temperature), -1).mean(0); // [Ht, Hs]
  });
  const out = a.arraySync() as number[][];
  a.dispose();
  return out.map((row) => row.map((v) => Math.round(v * 1e4) / 1e4));
}
