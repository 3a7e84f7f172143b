/**
 * The learned map of the `projected` AMAD variant (paper Eq. 11, METHOD.md variant 3).
 *
 * Each student map, flattened to `s ∈ R^n` (n = Q·K), becomes `ReLU(W s + b)`, renormalised to
 * sum to 1 per query row (plus ε), and is then aligned as in `kl`. W is n×n, so the variant is
 * only allowed for small modules: n > 4096 (16.8 M parameters per module) is refused.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from './errors';
import { KL_EPSILON } from './tensor-utils';

/** Largest flattened map size n = Q·K the projection accepts. */
export const MAX_PROJECTION_SIZE = 4096;

/** Learned parameters of one module's projection. */
export interface ProjectionParams {
  /** The attention module these parameters belong to (in error messages and variable names). */
  readonly moduleName: string;
  /** Flattened map size n = Q·K. */
  readonly n: number;
  /**
   * `[n, n]`, stored so that the row-vector form `s · W` is used (a 2-D, untransposed matMul,
   * the fast path on wasm). Paper's W is this matrix transposed; with the identity
   * initialisation the two are the same.
   */
  readonly W: tf.Variable<tf.Rank.R2>;
  /** `[n]`, zeros at initialisation. */
  readonly b: tf.Variable<tf.Rank.R1>;
}

/**
 * Creates identity-initialised projection variables for one module.
 * @throws Error naming the module and n when n > 4096, or when variables of that module
 *   already exist (tfjs variable names are global).
 */
export function createProjection(moduleName: string, n: number): ProjectionParams {
  check(Number.isInteger(n) && n > 0, () => `createProjection(${moduleName}): n must be a positive integer, got ${n}`);
  check(
    n <= MAX_PROJECTION_SIZE,
    () =>
      `createProjection: module "${moduleName}" has n = Q·K = ${n} > ${MAX_PROJECTION_SIZE}; ` +
      `the projected variant needs n² = ${n * n} parameters for it. Use variant "kl" or "token" for this module, or map a smaller module`,
  );
  const wName = `amad/projection/${moduleName}/W`;
  check(
    !(wName in tf.engine().registeredVariables),
    () => `createProjection: a projection for module "${moduleName}" already exists; create it once and reuse it (or dispose it first)`,
  );
  const W = tf.variable(tf.eye(n) as tf.Tensor2D, true, wName);
  const b = tf.variable(tf.zeros([n]) as tf.Tensor1D, true, `amad/projection/${moduleName}/b`);
  return { moduleName, n, W, b };
}

/**
 * Projects student maps: `[B, H, Q, K]` → `[B, H, Q, K]`, each row ReLU'd then renormalised
 * to sum to 1 (plus ε, so an all-zero row stays finite).
 */
export function projectMaps(maps: tf.Tensor4D, params: ProjectionParams): tf.Tensor4D {
  const [B, H, Q, K] = maps.shape;
  check(
    Q * K === params.n,
    () => `projected variant: module "${params.moduleName}" has projection size n = ${params.n} but its maps are ${Q}×${K} = ${Q * K}; create the projection with n = Q·K`,
  );
  return tf.tidy(() => {
    const flat = tf.reshape(maps, [B * H, Q * K]) as tf.Tensor2D; // [B·H, n]
    const projected = tf.relu(affineRows(flat, params.W, params.b)); // [B·H, n]
    const rows = tf.reshape(projected, [B, H, Q, K]);
    return tf.div(rows, tf.add(tf.sum(rows, -1, true), KL_EPSILON)) as tf.Tensor4D;
  });
}

/**
 * `x @ W + b` for x `[N, n]`, W `[n, n]`, b `[n]` (N = B·H small, n up to 4096), with a
 * gradient of 2-D untransposed matMuls whose right operand is small. Why (wasm, n = 4096,
 * N = 64): tf's own MatMul gradient uses transpose flags (a scalar loop, ~2 GFLOP/s, for
 * 2 GFLOP per product), and `dy @ Wᵀ` written out would transpose W (16.8 M elements) and then
 * have XNNPACK repack it, since XNNPACK packs the right operand of every product. Here
 * dx = (W @ dyᵀ)ᵀ and dW = xᵀ @ dy only transpose and pack `[N, n]` tensors.
 */
function affineRows(x: tf.Tensor2D, W: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, bIn, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([xIn, wIn]);
    return {
      value: tf.add(tf.matMul(xIn, wIn), bIn), // [N, n]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dyT = tf.transpose(dy as tf.Tensor2D); // [n, N]
        const dx = tf.transpose(tf.matMul(ws, dyT)); // ([n, n] @ [n, N])ᵀ = dy @ Wᵀ, [N, n]
        const dW = tf.matMul(tf.transpose(xs), dy as tf.Tensor2D); // [n, N] @ [N, n]
        const db = tf.sum(dyT, 1); // [n]: a last-axis sum (native on wasm), not a column sum
        return [dx, dW, db];
      },
    };
  });
  return op(x, W, b) as tf.Tensor2D;
}
