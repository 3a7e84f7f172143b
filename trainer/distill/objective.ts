/**
 * The student's total training objective (METHOD.md "Total training objective"):
 *   L = α_gt · CE + α_kd · [τ_kd² · KL(logits)] + α_attn · mean over mapped module pairs of L_attn.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { check } from './errors';

const weight = (name: string) => z.number({ error: `${name} must be a number` }).finite().nonnegative(`${name} must be ≥ 0`);

/** Loss weights; part of the run configuration (recorded in every report). */
export const ObjectiveWeightsSchema = z.strictObject({
  /** Weight of the ground-truth loss. */
  alphaGt: weight('alphaGt'),
  /** Weight of the logit distillation term (which already includes τ_kd²). */
  alphaKd: weight('alphaKd'),
  /** Weight of the mean attention term; 0 (or no pairs) = the `none` baseline. */
  alphaAttn: weight('alphaAttn'),
});
export type ObjectiveWeights = Readonly<z.infer<typeof ObjectiveWeightsSchema>>;

export interface ObjectiveTerms {
  /** Ground-truth loss (vqaSoftTargetLoss or lmCrossEntropyLoss). */
  readonly gt: tf.Scalar;
  /** logitDistillationLoss output (τ_kd² included). */
  readonly kd: tf.Scalar;
  /** One attentionDistillationLoss (or relation loss) per mapped module pair; may be empty. */
  readonly attn: readonly tf.Scalar[];
}

export interface ObjectiveValue {
  /** The weighted total to minimise. */
  readonly total: tf.Scalar;
  /** The unweighted parts: `gt` and `kd` are the inputs; `attn` is the mean over pairs (0 when none). */
  readonly parts: { readonly gt: tf.Scalar; readonly kd: tf.Scalar; readonly attn: tf.Scalar };
}

/**
 * Combines the terms. The attention term is the MEAN over mapped module pairs, so α_attn does
 * not have to change with the number of mapped layers. Returns new tensors for `total` and
 * `parts.attn`; `parts.gt`/`parts.kd` are the caller's own tensors.
 * @throws DistillInputError for a negative or non-finite weight (names the weight).
 */
export function distillationObjective(terms: ObjectiveTerms, weights: ObjectiveWeights): ObjectiveValue {
  const parsed = ObjectiveWeightsSchema.safeParse(weights);
  check(parsed.success, () => `distillationObjective: invalid weights: ${parsed.error!.issues.map((i) => i.message).join('; ')}`);
  const { alphaGt, alphaKd, alphaAttn } = parsed.data;
  return tf.tidy(() => {
    const attn: tf.Scalar = terms.attn.length === 0 ? tf.scalar(0) : (tf.mean(tf.stack(terms.attn as tf.Scalar[])) as tf.Scalar);
    const total = tf.addN([tf.mul(terms.gt, alphaGt), tf.mul(terms.kd, alphaKd), tf.mul(attn, alphaAttn)]) as tf.Scalar;
    return { total, parts: { gt: terms.gt, kd: terms.kd, attn } };
  });
}
