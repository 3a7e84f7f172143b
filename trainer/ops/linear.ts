/**
 * Dense layer `y = x @ W + b` with a hand-written gradient that keeps every matMul 2-D and
 * untransposed.
 *
 * Why: on the wasm backend only a 2-D matMul without transpose flags reaches XNNPACK
 * (~27 GFLOP/s on one thread); tf's own MatMul gradient emits transposed matMuls that fall back
 * to a scalar loop (~2 GFLOP/s). See docs TFJS-NOTES.md "Speed on the wasm backend".
 * The weights are explicit inputs of the customGrad function so that `optimizer.minimize`
 * (which differentiates w.r.t. variables) receives their gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom-op';

/** Row vector of ones `[1, n]`, used to sum rows with a fast 2-D matMul (>10× faster than `sum(dy, 0)` on wasm). */
export function onesRow(n: number): tf.Tensor2D {
  return tf.ones([1, n]);
}

/** Sums the rows of `m` `[N, C]` → `[C]` as `ones[1, N] @ m`. */
export const EXPERIMENT = { sumRowsMode: 'matmul' as 'matmul' | 'sum' };
export function sumRows(m: tf.Tensor2D): tf.Tensor1D {
  if (EXPERIMENT.sumRowsMode === 'sum') return tf.sum(m, 0);
  return tf.matMul(onesRow(m.shape[0]), m).reshape([m.shape[1]]);
}

/**
 * dW = xᵀ @ dy, `[in, out]`. XNNPACK is ~1.5× faster when the longer side of W is the row count
 * M of the product (measured: [128,2560]@[2560,512] 21.7 ms vs [512,2560]@[2560,128] 13.7 ms),
 * so when out > in we compute (dyᵀ @ x)ᵀ instead; the extra transpose of W's size is cheap.
 */
function weightGrad(x: tf.Tensor2D, dy: tf.Tensor2D): tf.Tensor2D {
  const [inSize, outSize] = [x.shape[1], dy.shape[1]];
  if (outSize > inSize) return tf.transpose(tf.matMul(tf.transpose(dy), x)); // ([out, N] @ [N, in])ᵀ
  return tf.matMul(tf.transpose(x), dy); // [in, N] @ [N, out]
}

const linearWithBias = customOp(([x, w, b], save) => {
  const x2D = x as tf.Tensor2D; // [N, in]
  const w2D = w as tf.Tensor2D; // [in, out]
  save([x2D, w2D]);
  const value = tf.fused.matMul({ a: x2D, b: w2D, bias: b }); // [N, out]
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      const dy2D = dy as tf.Tensor2D; // [N, out]
      return [
        tf.matMul(dy2D, tf.transpose(ws)), // dx [N, in]
        weightGrad(xs, dy2D), // dW [in, out]
        sumRows(dy2D), // db [out]
      ];
    },
  };
});

const linearNoBias = customOp(([x, w], save) => {
  const x2D = x as tf.Tensor2D;
  const w2D = w as tf.Tensor2D;
  save([x2D, w2D]);
  return {
    value: tf.matMul(x2D, w2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      const dy2D = dy as tf.Tensor2D;
      return [tf.matMul(dy2D, tf.transpose(ws)), weightGrad(xs, dy2D)];
    },
  };
});

/**
 * `x @ w + b`.
 * @param x `[N, in]`
 * @param w `[in, out]`
 * @param b `[out]` (optional)
 * @returns `[N, out]`
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0]) {
    throw new Error(`linear: expected x [N, ${w.shape[0]}] and w [in, out], got x [${x.shape}] and w [${w.shape}]`);
  }
  if (b && (b.rank !== 1 || b.shape[0] !== w.shape[1])) {
    throw new Error(`linear: bias must be [${w.shape[1]}], got [${b.shape}]`);
  }
  return (b ? linearWithBias(x, w, b) : linearNoBias(x, w)) as tf.Tensor2D;
}
