/**
 * Test oracle: the straightforward, op-by-op implementation of METHOD.md's attention losses
 * that trainer/distill/attention-loss.ts had before its performance rewrite (tf autodiff for
 * every gradient, two logs per KL term, unit-normalised maps). The fast implementation must
 * agree with it to float32 rounding on any input; bench/distill-overhead.ts times both.
 * Not a test file itself (no `.test.ts`).
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionLossOptions, AttentionVariant, ProjectionParams } from '../../../trainer/distill';

const KL_EPSILON = 1e-8;

/** The projection of the `projected` variant as it was: `ReLU(s · W + b)`, row-renormalised. */
function projectMaps(maps: tf.Tensor4D, params: ProjectionParams): tf.Tensor4D {
  const [B, H, Q, K] = maps.shape;
  return tf.tidy(() => {
    const flat = tf.reshape(maps, [B * H, Q * K]); // [B·H, n]
    const projected = tf.relu(tf.add(tf.matMul(flat, params.W), params.b)); // [B·H, n]
    const rows = tf.reshape(projected, [B, H, Q, K]);
    return tf.div(rows, tf.add(tf.sum(rows, -1, true), KL_EPSILON)) as tf.Tensor4D;
  });
}
const SQUARED_NORM_FLOOR = 1e-24;

/**
 * Identity whose gradient is zero: tfjs has no `stopGradient`, so a customGrad stands in
 * (TFJS-NOTES.md). Used for teacher tensors and for detached alignment weights.
 */
function stopGradient<T extends tf.Tensor>(x: T): T {
  const detached = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: (inputs[0] as tf.Tensor).clone(),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  }));
  return detached(x) as T;
}

/** L2 norm along `axis` (kept), safe at 0 (see SQUARED_NORM_FLOOR). */
function safeNorm(x: tf.Tensor, axis: number): tf.Tensor {
  return tf.sqrt(tf.maximum(tf.sum(tf.square(x), axis, true), SQUARED_NORM_FLOOR));
}

/**
 * Row-wise KL(p ‖ q) over the last axis with METHOD.md's ε: `[..., Q, K] → [..., Q]`.
 * Summed per row first (a float32 sum over K values), never as one giant sum: TFJS-NOTES.md
 * measured ~1e-3 relative error for the latter. Terms with p_k = 0 are 0·finite = 0.
 */
function rowKl(p: tf.Tensor, q: tf.Tensor): tf.Tensor {
  const logRatio = tf.sub(tf.log(tf.add(p, KL_EPSILON)), tf.log(tf.add(q, KL_EPSILON)));
  return tf.sum(tf.mul(p, logRatio), -1);
}

/**
 * Mean over valid query rows per example and head: `[B, H, Q]` values, `[B, Q]` mask (1 = real
 * row) or null (all rows valid) → `[B, H]`. An example with no valid row contributes 0 (its
 * count is floored at 1) rather than NaN.
 */
function maskedRowMean(values: tf.Tensor3D, rowMask: tf.Tensor2D | null): tf.Tensor2D {
  if (rowMask === null) return tf.mean(values, 2);
  const [B, , Q] = values.shape;
  const mask3D = tf.reshape(rowMask, [B, 1, Q]); // [B, 1, Q]
  const count = tf.maximum(tf.sum(mask3D, 2), 1); // [B, 1]
  return tf.div(tf.sum(tf.mul(values, mask3D), 2), count) as tf.Tensor2D; // [B, H]
}

/**
 * The attention distillation loss of one module, a scalar ≥ 0: the mean of the per-teacher-head
 * losses L_i over teacher heads and the batch (METHOD.md "Reduction"). Teacher maps never
 * receive gradients; the student maps do (through a_ij too unless `detachWeights`). Inputs are
 * not validated (the oracle is only called with valid ones).
 */
export function referenceAttentionLoss(
  teacherMaps: tf.Tensor4D,
  studentMaps: tf.Tensor4D,
  options: AttentionLossOptions = {},
): tf.Scalar {
  const variant: AttentionVariant = options.variant ?? 'kl';
  const temperature = options.temperature ?? 1;
  const detachWeights = options.detachWeights ?? false;
  const queryMask = options.queryMask ?? null;

  return tf.tidy(() => {
    const [B, , Q] = teacherMaps.shape;
    // [B, 1, Q, 1]: padded query rows are zeroed before any similarity (METHOD.md "Notation").
    const rowMask4D = queryMask === null ? null : tf.reshape(tf.cast(queryMask, 'float32'), [B, 1, Q, 1]);
    const rowMask2D = queryMask === null ? null : (tf.cast(queryMask, 'float32') as tf.Tensor2D);
    const zeroPadded = (x: tf.Tensor4D): tf.Tensor4D => (rowMask4D === null ? x : (tf.mul(x, rowMask4D) as tf.Tensor4D));

    const teacher = zeroPadded(stopGradient(teacherMaps)); // [B, Ht, Q, K]
    let student = zeroPadded(studentMaps); // [B, Hs, Q, K]
    if (variant === 'projected') {
      // Eq. 11: ReLU(W s + b), row-renormalised; the projection mixes rows, so re-zero padding.
      student = zeroPadded(projectMaps(student, options.projection as ProjectionParams));
    }
    const align = { temperature, detachWeights };
    let perHead: tf.Tensor2D; // [B, H'] per-example, per-teacher-head losses L_i
    switch (variant) {
      case 'kl':
      case 'projected':
        perHead = maskedRowMean(rowKl(teacher, mapAlignedStudent(teacher, student, align)) as tf.Tensor3D, rowMask2D);
        break;
      case 'mse':
        perHead = mseAligned(teacher, student, align);
        break;
      case 'token':
        perHead = maskedRowMean(rowKl(teacher, rowAlignedStudent(teacher, student, align)) as tf.Tensor3D, rowMask2D);
        break;
      case 'one-to-one':
        perHead = oneToOne(teacher, student, rowMask2D);
        break;
      case 'mean-head': {
        const teacherMean = tf.mean(teacher, 1, true); // [B, 1, Q, K]
        const studentMean = tf.mean(student, 1, true); // [B, 1, Q, K]
        perHead = maskedRowMean(rowKl(teacherMean, studentMean) as tf.Tensor3D, rowMask2D);
        break;
      }
    }
    return tf.mean(perHead) as tf.Scalar;
  });
}

interface AlignmentOptions {
  readonly temperature: number;
  readonly detachWeights: boolean;
}

/** a = softmax over student heads (last axis) of w / τ (Eq. 2), optionally detached. */
function alignmentWeights(cosine: tf.Tensor, { temperature, detachWeights }: AlignmentOptions): tf.Tensor {
  const weights = tf.softmax(tf.div(cosine, temperature), -1);
  return detachWeights ? stopGradient(weights) : weights;
}

/**
 * x / ‖x‖ along `axis`. Cosines are dot products of unit vectors rather than dot / (‖t‖‖s‖):
 * for a zeroed (padded) row the latter's gradient divides 0 by (‖t‖‖s‖)² which underflows to
 * 0 in float32 (NaN); here the gradient is 0 / ‖x‖² with ‖x‖ floored at 1e-12.
 */
function unit(x: tf.Tensor, axis: number): tf.Tensor {
  return tf.div(x, safeNorm(x, axis));
}

/**
 * Whole-map alignment weights a_ij (Eq. 2) `[B, Ht, Hs]`, from unit flattened maps t̂_i, ŝ_j.
 */
function mapAlignment(teacherUnit: tf.Tensor3D, studentUnit: tf.Tensor3D, align: AlignmentOptions): tf.Tensor3D {
  const cosine = tf.matMul(teacherUnit, studentUnit, false, true); // [B, Ht, Hs]
  return alignmentWeights(cosine, align) as tf.Tensor3D;
}

/** `kl` (Eq. 9): M_i = Σ_j a_ij A_s[j], `[B, Ht, Q, K]`, row-stochastic on valid rows. */
function mapAlignedStudent(teacher: tf.Tensor4D, student: tf.Tensor4D, align: AlignmentOptions): tf.Tensor4D {
  const [B, Ht, Q, K] = teacher.shape;
  const Hs = student.shape[1];
  const studentFlat = tf.reshape(student, [B, Hs, Q * K]) as tf.Tensor3D; // [B, Hs, n]
  const teacherUnit = unit(tf.reshape(teacher, [B, Ht, Q * K]), 2) as tf.Tensor3D; // [B, Ht, n]
  const a = mapAlignment(teacherUnit, unit(studentFlat, 2) as tf.Tensor3D, align); // [B, Ht, Hs]
  return tf.reshape(tf.matMul(a, studentFlat), [B, Ht, Q, K]); // [B, Ht, n] → [B, Ht, Q, K]
}

/**
 * `mse` (Eq. 4–6): L_i = ‖ t_i/‖t_i‖ − Σ_j a_ij s_j/‖s_j‖ ‖², `[B, Ht]`. The squared error is
 * summed per query row first, then over rows (float32 accuracy, as for KL).
 */
function mseAligned(teacher: tf.Tensor4D, student: tf.Tensor4D, align: AlignmentOptions): tf.Tensor2D {
  const [B, Ht, Q, K] = teacher.shape;
  const Hs = student.shape[1];
  const teacherFlat = tf.reshape(teacher, [B, Ht, Q * K]) as tf.Tensor3D; // [B, Ht, n]
  const studentFlat = tf.reshape(student, [B, Hs, Q * K]) as tf.Tensor3D; // [B, Hs, n]
  const teacherUnit = unit(teacherFlat, 2) as tf.Tensor3D; // [B, Ht, n]
  const studentUnit = unit(studentFlat, 2) as tf.Tensor3D; // [B, Hs, n]
  const a = mapAlignment(teacherUnit, studentUnit, align); // [B, Ht, Hs]
  const diff = tf.reshape(tf.sub(teacherUnit, tf.matMul(a, studentUnit)), [B, Ht, Q, K]);
  return tf.sum(tf.sum(tf.square(diff), 3), 2) as tf.Tensor2D; // [B, Ht]
}

/**
 * `token` (Eq. 12): alignment per query row q, M_i[q,:] = Σ_j a^q_ij A_s[j][q,:], `[B, Ht, Q, K]`.
 * Zeroed (padded) rows get cosine 0 and are excluded from the row mean afterwards.
 */
function rowAlignedStudent(teacher: tf.Tensor4D, student: tf.Tensor4D, align: AlignmentOptions): tf.Tensor4D {
  const teacherRows = tf.transpose(teacher, [0, 2, 1, 3]); // [B, Q, Ht, K]
  const studentRows = tf.transpose(student, [0, 2, 1, 3]); // [B, Q, Hs, K]
  const cosine = tf.matMul(unit(teacherRows, 3), unit(studentRows, 3), false, true); // [B, Q, Ht, Hs]
  const a = alignmentWeights(cosine, align); // [B, Q, Ht, Hs]
  return tf.transpose(tf.matMul(a, studentRows), [0, 2, 1, 3]); // [B, Q, Ht, K] → [B, Ht, Q, K]
}

/** `one-to-one`: teacher head i ↔ student head i for i < min(Ht, Hs); `[B, min(Ht, Hs)]`. */
function oneToOne(teacher: tf.Tensor4D, student: tf.Tensor4D, rowMask: tf.Tensor2D | null): tf.Tensor2D {
  const [B, Ht, Q, K] = teacher.shape;
  const heads = Math.min(Ht, student.shape[1]);
  const teacherKept = tf.slice(teacher, [0, 0, 0, 0], [B, heads, Q, K]);
  const studentKept = tf.slice(student, [0, 0, 0, 0], [B, heads, Q, K]);
  return maskedRowMean(rowKl(teacherKept, studentKept) as tf.Tensor3D, rowMask);
}
