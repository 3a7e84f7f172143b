/**
 * MiniLMv2-style self-attention relation distillation, the strongest head-count-agnostic
 * baseline METHOD.md names: W. Wang, H. Bao, S. Huang, L. Dong, F. Wei, "MiniLMv2: Multi-Head
 * Self-Attention Relation Distillation for Compressing Pretrained Transformers", Findings of
 * ACL 2021. Queries (keys, values) of all heads are concatenated, re-split into R relation
 * heads (so teacher and student widths and head counts may differ), and the student's
 * scaled-dot-product relation distributions are matched to the teacher's with KL.
 */
import * as tf from '@tensorflow/tfjs';
import { check, fmtShape } from './errors';
import { maskedRowMean, stopGradient } from './tensor-utils';

/** Queries, keys and values of one self-attention module, heads concatenated: each `[B, T, d]`. */
export interface QKV {
  readonly q: tf.Tensor3D;
  readonly k: tf.Tensor3D;
  readonly v: tf.Tensor3D;
}

export const RELATIONS = ['qq', 'kk', 'vv'] as const;
export type Relation = (typeof RELATIONS)[number];

export interface RelationLossOptions {
  /** Relation heads R; must divide the teacher's and the student's width. */
  readonly relationHeads: number;
  /** `[B, T]`, 1 = real token, 0 = padding (masked as keys, excluded as rows). @default null */
  readonly queryMask?: tf.Tensor2D | null;
  /** Which relations to match. @default ['qq', 'kk', 'vv'] (MiniLMv2's choice) */
  readonly relations?: readonly Relation[];
}

/** Added to padded keys' scores: exp underflows to exactly 0 in float32, without -Infinity's NaNs. */
const MASKED_SCORE = -1e9;
const FN = 'relationDistillationLoss';

/**
 * KL(teacher ‖ student) between relation distributions softmax(X Xᵀ / √d_r) per relation head,
 * per valid query row; mean over valid rows, relation heads, relations and the batch.
 * Log-probabilities come from logSoftmax (exact; no ε needed), the teacher is detached.
 * @throws DistillInputError naming the tensor and both shapes, or the option and its value.
 */
export function relationDistillationLoss(teacherQKV: QKV, studentQKV: QKV, options: RelationLossOptions): tf.Scalar {
  const relations = options.relations ?? RELATIONS;
  const queryMask = options.queryMask ?? null;
  const R = options.relationHeads;
  validate(teacherQKV, studentQKV, R, relations, queryMask);

  return tf.tidy(() => {
    const [B, T] = teacherQKV.q.shape;
    const mask = queryMask === null ? null : (tf.cast(queryMask, 'float32') as tf.Tensor2D); // [B, T]
    // [B, 1, 1, T]: 0 on real keys, MASKED_SCORE on padded keys.
    const keyBias = mask === null ? null : tf.reshape(tf.mul(tf.sub(1, mask), MASKED_SCORE), [B, 1, 1, T]);
    const perRelation = relations.map((relation) => {
      const name = relation[0] as 'q' | 'k' | 'v';
      const teacherLog = relationLogProbs(stopGradient(teacherQKV[name]), R, keyBias); // [B, R, T, T]
      const studentLog = relationLogProbs(studentQKV[name], R, keyBias); // [B, R, T, T]
      const rowKl = tf.sum(tf.mul(tf.exp(teacherLog), tf.sub(teacherLog, studentLog)), -1); // [B, R, T]
      return tf.mean(maskedRowMean(rowKl as tf.Tensor3D, mask)); // mean over relation heads, batch
    });
    return tf.mean(tf.stack(perRelation)) as tf.Scalar;
  });
}

/** log softmax(X_r X_rᵀ / √d_r) over keys: `[B, T, d]` → `[B, R, T, T]`. */
function relationLogProbs(x: tf.Tensor3D, R: number, keyBias: tf.Tensor | null): tf.Tensor4D {
  const [B, T, d] = x.shape;
  const dr = d / R;
  const heads = tf.transpose(tf.reshape(x, [B, T, R, dr]), [0, 2, 1, 3]); // [B, R, T, d_r]
  let scores = tf.div(tf.matMul(heads, heads, false, true), Math.sqrt(dr)); // [B, R, T, T]
  if (keyBias !== null) scores = tf.add(scores, keyBias);
  return tf.logSoftmax(scores, -1) as tf.Tensor4D;
}

function validate(teacher: QKV, student: QKV, R: number, relations: readonly string[], mask: tf.Tensor | null): void {
  check(Number.isInteger(R) && R > 0, () => `${FN}: option relationHeads must be a positive integer, got ${R}`);
  check(
    relations.length > 0 && relations.every((r) => (RELATIONS as readonly string[]).includes(r)) && new Set(relations).size === relations.length,
    () => `${FN}: option relations must be a non-empty list of distinct ${RELATIONS.join(', ')}; got [${relations.join(', ')}]`,
  );
  const [B, T] = teacher.q.shape;
  for (const [who, qkv] of [['teacherQKV', teacher], ['studentQKV', student]] as const) {
    for (const name of ['q', 'k', 'v'] as const) {
      const x = qkv[name];
      check(
        x.rank === 3 && x.shape[0] === B && x.shape[1] === T,
        () => `${FN}: ${who}.${name} ${fmtShape(x.shape)} must be [B, T, d] with B, T of teacherQKV.q ${fmtShape(teacher.q.shape)}`,
      );
      check(
        x.shape[2] % R === 0,
        () => `${FN}: relationHeads ${R} must divide the width of ${who}.${name} ${fmtShape(x.shape)}; choose R dividing both models' widths`,
      );
    }
  }
  if (mask !== null) {
    check(
      mask.rank === 2 && mask.shape[0] === B && mask.shape[1] === T,
      () => `${FN}: queryMask ${fmtShape(mask.shape)} must be [B, T] = [${B},${T}]`,
    );
  }
}
