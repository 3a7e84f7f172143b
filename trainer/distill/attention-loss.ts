/**
 * Attention-map distillation losses for one attention module: AMAD (Zhao et al., "No Head Left
 * Behind – Multi-Head Alignment Distillation for Transformers", AAAI 2024) in its variants, and
 * the one-to-one and mean-head baselines. Every formula, reduction, mask rule and ε is exactly
 * METHOD.md's; comments cite its equation numbers.
 *
 * Shapes: teacher maps `[B, Ht, Q, K]`, student maps `[B, Hs, Q, K]`; each row a distribution
 * over keys. Q ≠ K (cross-attention) and Hs > Ht are both fine.
 */
import * as tf from '@tensorflow/tfjs';
import { alignedKlLoss } from './aligned-kl';
import { check, fmtShape } from './errors';
import { projectMaps, type ProjectionParams } from './projection';
import { maskedRowMean, rowKl, safeNorm, stopGradient } from './tensor-utils';

export const ATTENTION_VARIANTS = ['kl', 'mse', 'token', 'projected', 'one-to-one', 'mean-head'] as const;
export type AttentionVariant = (typeof ATTENTION_VARIANTS)[number];

/** The paper's best variant on VL-T5 + VQA-2.0 (METHOD.md). */
export const DEFAULT_ATTENTION_VARIANT: AttentionVariant = 'kl';
/** τ of the alignment softmax; 1 = the paper (no temperature). */
export const DEFAULT_ALIGNMENT_TEMPERATURE = 1;

export interface AttentionLossOptions {
  /** Which loss. @default 'kl' */
  readonly variant?: AttentionVariant;
  /** τ in `a_ij = softmax_j(w_ij / τ)`; must be > 0. Ignored by one-to-one and mean-head. @default 1 */
  readonly temperature?: number;
  /** Stop gradients through the alignment weights a_ij. @default false */
  readonly detachWeights?: boolean;
  /** `[B, Q]`, 1 = real query row, 0 = padding. null/absent = every row is real. @default null */
  readonly queryMask?: tf.Tensor2D | null;
  /** Learned parameters; required by (and only used by) variant 'projected'. */
  readonly projection?: ProjectionParams;
  /**
   * one-to-one only: the teacher head each student head copies (student head k ↔ teacher head
   * teacherHeads[k]); distinct, in [0, Ht), at most Hs of them. @default [0, 1, …, min(Ht, Hs) − 1]
   */
  readonly teacherHeads?: readonly number[];
}

const FN = 'attentionDistillationLoss';

/**
 * The attention distillation loss of one module, a scalar ≥ 0: the mean of the per-teacher-head
 * losses L_i over teacher heads and the batch (METHOD.md "Reduction"). Teacher maps never
 * receive gradients; the student maps do (through a_ij too unless `detachWeights`).
 * @throws DistillInputError naming the argument and both shapes when shapes disagree, or the
 *   option and its value when an option is invalid.
 */
export function attentionDistillationLoss(
  teacherMaps: tf.Tensor4D,
  studentMaps: tf.Tensor4D,
  options: AttentionLossOptions = {},
): tf.Scalar {
  const variant = options.variant ?? DEFAULT_ATTENTION_VARIANT;
  const temperature = options.temperature ?? DEFAULT_ALIGNMENT_TEMPERATURE;
  const detachWeights = options.detachWeights ?? false;
  const queryMask = options.queryMask ?? null;
  validateInputs(teacherMaps, studentMaps, variant, temperature, queryMask, options.projection);

  return tf.tidy(() => {
    const [B, , Q] = teacherMaps.shape;
    // [B, 1, Q, 1]: padded query rows are zeroed before any similarity (METHOD.md "Notation").
    const rowMask2D = queryMask === null ? null : (tf.cast(queryMask, 'float32') as tf.Tensor2D);
    const rowMask4D = rowMask2D === null ? null : tf.reshape(rowMask2D, [B, 1, Q, 1]);
    const zeroPadded = (x: tf.Tensor4D): tf.Tensor4D => (rowMask4D === null ? x : (tf.mul(x, rowMask4D) as tf.Tensor4D));
    const align = { temperature, detachWeights };

    // The default variant is one op with an analytic gradient (aligned-kl.ts: why, and the
    // exact definition); it masks padded rows itself and never differentiates the teacher.
    if (variant === 'kl') return alignedKlLoss(teacherMaps, studentMaps, rowMask2D, align);
    if (variant === 'projected') {
      // Eq. 11: ReLU(W s + b), row-renormalised; the projection mixes rows, so re-zero padding.
      const projected = zeroPadded(projectMaps(zeroPadded(studentMaps), options.projection as ProjectionParams));
      return alignedKlLoss(teacherMaps, projected, rowMask2D, align);
    }

    const teacher = zeroPadded(stopGradient(teacherMaps)); // [B, Ht, Q, K]
    const student = zeroPadded(studentMaps); // [B, Hs, Q, K]
    let perHead: tf.Tensor2D; // [B, H'] per-example, per-teacher-head losses L_i
    switch (variant) {
      case 'mse':
        perHead = mseAligned(teacher, student, align);
        break;
      case 'token':
        perHead = maskedRowMean(rowKl(teacher, rowAlignedStudent(teacher, student, align)) as tf.Tensor3D, rowMask2D);
        break;
      case 'one-to-one':
        perHead = oneToOne(teacher, student, rowMask2D, options.teacherHeads);
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

/**
 * `one-to-one`: student head k ↔ teacher head teacherHeads[k] (default: teacher head k, for
 * k < min(Ht, Hs)); `[B, number of pairs]`. Which teacher heads it keeps is a choice the baseline
 * makes blindly: the study compares subsets.
 */
function oneToOne(teacher: tf.Tensor4D, student: tf.Tensor4D, rowMask: tf.Tensor2D | null, teacherHeads?: readonly number[]): tf.Tensor2D {
  const [B, Ht, Q, K] = teacher.shape;
  const Hs = student.shape[1];
  const picked = teacherHeads ?? Array.from({ length: Math.min(Ht, Hs) }, (_, k) => k);
  check(
    picked.length >= 1 && picked.length <= Hs && new Set(picked).size === picked.length && picked.every((h) => Number.isInteger(h) && h >= 0 && h < Ht),
    () => `${FN}: option teacherHeads must list 1 to ${Hs} distinct teacher heads in [0, ${Ht}) (one per student head); got [${picked.join(', ')}]`,
  );
  const teacherKept = tf.gather(teacher, picked.map((h) => h), 1); // [B, n, Q, K]
  const studentKept = tf.slice(student, [0, 0, 0, 0], [B, picked.length, Q, K]); // [B, n, Q, K]
  return maskedRowMean(rowKl(teacherKept as tf.Tensor4D, studentKept) as tf.Tensor3D, rowMask);
}

function validateInputs(
  teacher: tf.Tensor,
  student: tf.Tensor,
  variant: string,
  temperature: number,
  queryMask: tf.Tensor | null,
  projection: ProjectionParams | undefined,
): void {
  check(
    (ATTENTION_VARIANTS as readonly string[]).includes(variant),
    () => `${FN}: option variant must be one of ${ATTENTION_VARIANTS.join(', ')}; got "${variant}"`,
  );
  check(teacher.rank === 4, () => `${FN}: teacherMaps must be rank 4 [B, Ht, Q, K], got rank ${teacher.rank} ${fmtShape(teacher.shape)}`);
  check(student.rank === 4, () => `${FN}: studentMaps must be rank 4 [B, Hs, Q, K], got rank ${student.rank} ${fmtShape(student.shape)}`);
  const [B, , Q, K] = teacher.shape;
  check(
    student.shape[0] === B && student.shape[2] === Q && student.shape[3] === K,
    () =>
      `${FN}: studentMaps ${fmtShape(student.shape)} must match teacherMaps ${fmtShape(teacher.shape)} in batch, queries and keys ` +
      `([B, *, Q, K]); only the head count may differ`,
  );
  check(
    Number.isFinite(temperature) && temperature > 0,
    () => `${FN}: option temperature must be a finite number > 0, got ${temperature}`,
  );
  if (queryMask !== null) {
    check(
      queryMask.rank === 2 && queryMask.shape[0] === B && queryMask.shape[1] === Q,
      () => `${FN}: queryMask ${fmtShape(queryMask.shape)} must be [B, Q] = [${B},${Q}] to match teacherMaps ${fmtShape(teacher.shape)}`,
    );
  }
  if (variant === 'projected') {
    check(
      projection !== undefined,
      () => `${FN}: variant "projected" needs option projection (createProjection(moduleName, ${Q * K}))`,
    );
  }
}
