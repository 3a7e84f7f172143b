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
    const flat = tf.reshape(maps, [B * H, Q * K]); // [B·H, n]
    const projected = tf.relu(tf.add(tf.matMul(flat, params.W), params.b)); // [B·H, n]
    const rows = tf.reshape(projected, [B, H, Q, K]);
    return tf.div(rows, tf.add(tf.sum(rows, -1, true), KL_EPSILON)) as tf.Tensor4D;
  });
}
