/**
 * Layer normalisation over the last axis of a 2-D tensor, with a hand-written gradient.
 *
 * Row statistics use last-axis reductions (native on wasm); the gradient is written by hand so
 * the tape holds three tensors per call instead of every intermediate. Closed form:
 *   dx = rstd · (g·dy − mean(g·dy) − x̂ · mean(g·dy · x̂)).
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom-op';
import { sumRows } from './linear';

/** Variance epsilon (PyTorch's LayerNorm default). */
export const LAYER_NORM_EPSILON = 1e-5;

/** Mean of each row of `m` `[N, D]` → `[N, 1]`. */
function rowMean(m: tf.Tensor2D): tf.Tensor2D {
  return tf.mean(m, -1, true);
}

const layerNormOp = customOp(([x, gamma, beta], save) => {
  const x2D = x as tf.Tensor2D; // [N, D]
  const centred = tf.sub(x2D, rowMean(x2D)) as tf.Tensor2D; // [N, D]
  const rstd = tf.rsqrt(tf.add(rowMean(tf.square(centred)), LAYER_NORM_EPSILON)); // [N, 1]
  const xHat = tf.mul(centred, rstd) as tf.Tensor2D; // [N, D]
  save([xHat, rstd, gamma]);
  return {
    value: tf.add(tf.mul(xHat, gamma), beta),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xh, rs, g] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
      const dy2D = dy as tf.Tensor2D;
      const gdy = tf.mul(dy2D, g) as tf.Tensor2D; // [N, D]
      const dx = tf.mul(rs, tf.sub(tf.sub(gdy, rowMean(gdy)), tf.mul(xh, rowMean(tf.mul(gdy, xh) as tf.Tensor2D))));
      return [dx, sumRows(tf.mul(dy2D, xh) as tf.Tensor2D), sumRows(dy2D)];
    },
  };
});

/**
 * @param x `[N, D]`
 * @param gamma `[D]` scale
 * @param beta `[D]` shift
 * @returns `[N, D]`
 */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D): tf.Tensor2D {
  if (x.rank !== 2 || gamma.shape[0] !== x.shape[1] || beta.shape[0] !== x.shape[1]) {
    throw new Error(`layerNorm: expected x [N, D] with gamma/beta [D], got x [${x.shape}], gamma [${gamma.shape}], beta [${beta.shape}]`);
  }
  return layerNormOp(x, gamma, beta) as tf.Tensor2D;
}
