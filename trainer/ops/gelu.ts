/**
 * GELU, tanh approximation, written as `x · σ(1.5958 · (x + 0.044715 x³))`.
 *
 * `0.5·(1 + tanh(z)) = σ(2z)`, so this is exactly the tanh form with 2·√(2/π) = 1.5958. On wasm,
 * `tanh` and `pow` are scalar (~7× slower than `sigmoid`), hence this form; the gradient is
 * written by hand so the tape holds one saved tensor instead of every intermediate.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom-op';

/** 2·√(2/π): the sigmoid form of the tanh-approximated GELU. */
export const GELU_SIGMOID_SCALE = 2 * Math.sqrt(2 / Math.PI);
export const GELU_CUBIC = 0.044715;

const geluOp = customOp(([x], save) => {
  const x2 = tf.square(x);
  const u = tf.mul(x, tf.add(tf.mul(x2, GELU_CUBIC * GELU_SIGMOID_SCALE), GELU_SIGMOID_SCALE)); // c·(x + a x³)
  const s = tf.sigmoid(u);
  save([x, s]);
  return {
    value: tf.mul(x, s),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ss] = saved;
      // d/dx [x σ(u)] = σ(u) + x σ(u)(1 − σ(u)) u',  u' = c (1 + 3a x²)
      const du = tf.add(tf.mul(tf.square(xs), 3 * GELU_CUBIC * GELU_SIGMOID_SCALE), GELU_SIGMOID_SCALE);
      const ds = tf.mul(ss, tf.sub(1, ss));
      return tf.mul(dy, tf.add(ss, tf.mul(tf.mul(xs, ds), du)));
    },
  };
});

/** Elementwise GELU (sigmoid form of the tanh approximation). */
export function gelu<T extends tf.Tensor>(x: T): T {
  return geluOp(x) as T;
}
