/**
 * Embedding lookup `table[ids]` with a gradient that works on every backend.
 *
 * Why: tf.gather's gradient needs the UnsortedSegmentSum kernel, which the wasm backend lacks.
 * The gradient of a lookup is `oneHot(ids)ᵀ @ dy`, with an explicit transpose so the product is
 * a 2-D untransposed matMul. (Building `[V, N]` as `equal(range, ids)` instead was ~40× slower
 * on wasm: broadcasting comparisons take a scalar path.)
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom-op';

/**
 * @param ids int32 `[N]`, each in [0, V)
 * @param table `[V, D]`
 * @returns `[N, D]`
 */
export function embeddingLookup(ids: tf.Tensor1D, table: tf.Tensor2D): tf.Tensor2D {
  if (ids.rank !== 1 || ids.dtype !== 'int32') {
    throw new Error(`embeddingLookup: ids must be int32 [N], got ${ids.dtype} [${ids.shape}]`);
  }
  const [vocab] = table.shape;
  const lookup = customOp(([t], save) => {
    save([ids]);
    return {
      value: tf.gather(t, ids), // [N, D]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        // int32 then cast: on wasm (tfjs 4.22) oneHot with dtype 'float32' returns all zeros.
        const oneHotT = tf.transpose(tf.cast(tf.oneHot(saved[0] as tf.Tensor1D, vocab), 'float32')); // [V, N]
        return tf.matMul(oneHotT as tf.Tensor2D, dy as tf.Tensor2D); // [V, D]
      },
    };
  });
  return lookup(table) as tf.Tensor2D;
}
