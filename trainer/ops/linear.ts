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

/**
 * Sums the rows of `m` `[N, C]` → `[C]` (bias gradients).
 *
 * `tf.sum(m, 0)`, not `ones[1, N] @ m`: the matMul form is fast only when `m` was already packed
 * by XNNPACK (the same tensor multiplied again, as in a micro-benchmark that reuses its input);
 * a gradient is always a fresh tensor, and packing it costs more than the reduction. Measured
 * on wasm with a fresh [2560, 512]: matMul 11.2 ms, sum 6.6 ms (and 1.1 ms for matMul when packed).
 */
export function sumRows(m: tf.Tensor2D): tf.Tensor1D {
  return tf.sum(m, 0);
}

/**
 * dW = xᵀ @ dy, `[in, out]`.
 *
 * On wasm the right operand of a matMul is packed by XNNPACK first (~7 ns per element for a
 * fresh tensor; the packed form is cached per buffer), and here it is the long `[N, ·]` side.
 * We therefore pack x — `(dyᵀ @ x)ᵀ` — unless x is the wider operand (in > out, e.g. the MLP
 * output layer). Packing x also lets the Q, K and V projections, which read the same x, share
 * one packed copy. Measured (fresh operands, [2560, 128] x): packing ≈ 2.2 ms vs the product
 * ≈ 3.5 ms; [128,2560]@[2560,512] 21.7 ms vs [512,2560]@[2560,128] 13.7 ms.
 */
function packX(x: tf.Tensor2D, dy: tf.Tensor2D): boolean {
  return dy.shape[1] >= x.shape[1];
}

function weightGrad(x: tf.Tensor2D, dy: tf.Tensor2D): tf.Tensor2D {
  if (packX(x, dy)) return tf.transpose(tf.matMul(tf.transpose(dy), x)); // ([out, N] @ [N, in])ᵀ, packs x
  return tf.matMul(tf.transpose(x), dy); // [in, N] @ [N, out], packs dy
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
      const dx = tf.matMul(dy2D, tf.transpose(ws)); // [N, in]
      if (packX(xs, dy2D)) {
        const dyT = tf.transpose(dy2D); // [out, N]
        // dyᵀ is at hand: the bias gradient is a last-axis sum (native on wasm), not a column sum.
        return [dx, tf.transpose(tf.matMul(dyT, xs)), tf.sum(dyT, 1)]; // dx, dW [in, out], db [out]
      }
      return [dx, tf.matMul(tf.transpose(xs), dy2D), sumRows(dy2D)]; // packs dy
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

/**
 * `mix @ x` for a constant mixing matrix (pooling), differentiable w.r.t. `x` only: the
 * gradient `mixᵀ @ dy` is one small 2-D product, and no gradient is computed for `mix`.
 * @param mix `[M, N]` constant
 * @param x `[N, D]`
 * @returns `[M, D]`
 */
export function mixRows(mix: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor2D {
  if (mix.shape[1] !== x.shape[0]) throw new Error(`mixRows: mix [${mix.shape}] does not match x [${x.shape}]`);
  const op = customOp(([xIn], save) => {
    save([mix]); // saved, not captured: the caller may dispose `mix` before the backward pass
    return {
      value: tf.matMul(mix, xIn as tf.Tensor2D), // [M, D]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.matMul(tf.transpose(saved[0]), dy as tf.Tensor2D), // [N, M] @ [M, D]
    };
  });
  return op(x) as tf.Tensor2D;
}
