/**
 * Output-level losses of the total objective (METHOD.md "Total training objective"): logit
 * distillation (Hinton et al. 2015) and the ground-truth losses for VQA and generation.
 * All log-probabilities come from logSoftmax (stable log-sum-exp), never log(softmax).
 */
import * as tf from '@tensorflow/tfjs';
import { SPECIAL_TOKENS } from '../data/batch';
import { check, fmtShape } from './errors';
import { stopGradient } from './tensor-utils';

export interface LogitLossOptions {
  /** τ_kd: both logit sets are divided by it before the softmax. Must be > 0. @default 1 */
  readonly temperature?: number;
  /** `[B, T]` for per-token logits `[B, T, V]` (1 = real target token). Not allowed for `[B, A]`. @default null */
  readonly mask?: tf.Tensor2D | null;
}

/**
 * τ² · KL(softmax(z_t/τ) ‖ softmax(z_s/τ)), the KL summed over classes, then
 * - `[B, A]` (VQA answers): mean over the batch;
 * - `[B, T, V]` (LM tokens): mean over valid tokens of the whole batch (mask, or all tokens).
 * The τ² keeps the gradient scale independent of τ (Hinton et al., "Distilling the Knowledge in
 * a Neural Network", 2015). The teacher is detached.
 */
export function logitDistillationLoss(teacherLogits: tf.Tensor, studentLogits: tf.Tensor, options: LogitLossOptions = {}): tf.Scalar {
  const FN = 'logitDistillationLoss';
  const temperature = options.temperature ?? 1;
  const mask = options.mask ?? null;
  check(
    teacherLogits.rank === 2 || teacherLogits.rank === 3,
    () => `${FN}: teacherLogits must be [B, A] or [B, T, V], got ${fmtShape(teacherLogits.shape)}`,
  );
  check(
    tf.util.arraysEqual(teacherLogits.shape, studentLogits.shape),
    () => `${FN}: studentLogits ${fmtShape(studentLogits.shape)} must equal teacherLogits ${fmtShape(teacherLogits.shape)}`,
  );
  check(Number.isFinite(temperature) && temperature > 0, () => `${FN}: option temperature must be a finite number > 0, got ${temperature}`);
  checkTokenMask(FN, 'teacherLogits', teacherLogits, mask);

  return tf.tidy(() => {
    const teacherLog = tf.logSoftmax(tf.div(stopGradient(teacherLogits), temperature), -1);
    const studentLog = tf.logSoftmax(tf.div(studentLogits, temperature), -1);
    const perItem = tf.sum(tf.mul(tf.exp(teacherLog), tf.sub(teacherLog, studentLog)), -1); // [B] or [B, T]
    return tf.mul(maskedMean(perItem, mask), temperature * temperature) as tf.Scalar;
  });
}

/**
 * VQA ground-truth loss: binary cross-entropy with logits against the soft scores
 * `min(#annotators / 3, 1)`, summed over answers and averaged over the batch. This is VQA
 * practice (Teney et al., "Tips and Tricks for Visual Question Answering", CVPR 2018; Anderson
 * et al. 2018): an answer several annotators gave is a positive, the others independent
 * negatives, which fits multi-label soft scores better than a softmax CE.
 * @param logits `[B, A]` answer logits; @param scores `[B, A]` soft targets in [0, 1].
 */
export function vqaSoftTargetLoss(logits: tf.Tensor2D, scores: tf.Tensor2D): tf.Scalar {
  check(
    logits.rank === 2 && tf.util.arraysEqual(logits.shape, scores.shape),
    () => `vqaSoftTargetLoss: scores ${fmtShape(scores.shape)} must equal logits ${fmtShape(logits.shape)} ([B, A])`,
  );
  return tf.tidy(() => {
    const perAnswer = tf.losses.sigmoidCrossEntropy(scores, logits, undefined, 0, tf.Reduction.NONE); // [B, A]
    return tf.mean(tf.sum(perAnswer, 1)) as tf.Scalar;
  });
}

/**
 * Language-model cross-entropy `−log p(target)`, mean over valid target tokens of the batch.
 * @param logits `[B, T, V]`; @param targets `[B, T]` int32 ids; @param mask `[B, T]`
 *   (@default targets ≠ PAD).
 * The target's log-probability is picked with a one-hot product, not `gather`, whose gradient
 * is missing on wasm (TFJS-NOTES.md).
 */
export function lmCrossEntropyLoss(logits: tf.Tensor3D, targets: tf.Tensor2D, mask?: tf.Tensor2D | null): tf.Scalar {
  const FN = 'lmCrossEntropyLoss';
  const [B, T, V] = logits.shape;
  check(logits.rank === 3, () => `${FN}: logits must be [B, T, V], got ${fmtShape(logits.shape)}`);
  check(
    targets.rank === 2 && targets.shape[0] === B && targets.shape[1] === T,
    () => `${FN}: targets ${fmtShape(targets.shape)} must be [B, T] = [${B},${T}] to match logits ${fmtShape(logits.shape)}`,
  );
  checkTokenMask(FN, 'logits', logits, mask ?? null);
  return tf.tidy(() => {
    const ids = tf.cast(targets, 'int32');
    const validMask = mask ?? tf.cast(tf.notEqual(ids, SPECIAL_TOKENS.PAD), 'float32');
    const targetLogProb = tf.sum(tf.mul(tf.logSoftmax(logits, -1), tf.oneHot(ids, V)), -1); // [B, T]
    return maskedMean(tf.neg(targetLogProb), validMask as tf.Tensor2D) as tf.Scalar;
  });
}

/** Mean of `[B]` or `[B, T]` values, over the entries the mask keeps (all when null). */
function maskedMean(values: tf.Tensor, mask: tf.Tensor | null): tf.Scalar {
  if (mask === null) return tf.mean(values);
  const m = tf.cast(mask, 'float32');
  return tf.div(tf.sum(tf.mul(values, m)), tf.maximum(tf.sum(m), 1));
}

function checkTokenMask(fn: string, what: string, logits: tf.Tensor, mask: tf.Tensor | null): void {
  if (mask === null) return;
  check(logits.rank === 3, () => `${fn}: a mask is only for per-token logits [B, T, V]; ${what} is ${fmtShape(logits.shape)}: drop the mask`);
  check(
    mask.rank === 2 && mask.shape[0] === logits.shape[0] && mask.shape[1] === logits.shape[1],
    () => `${fn}: mask ${fmtShape(mask.shape)} must be [B, T] = [${logits.shape[0]},${logits.shape[1]}] to match ${what} ${fmtShape(logits.shape)}`,
  );
}
