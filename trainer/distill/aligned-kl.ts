/**
 * AMAD's default `kl` variant (METHOD.md Eq. 2 and 9) for one attention module as ONE op with an
 * analytic gradient. Same definition, and the same results to float32 rounding, as composing
 * tf ops one by one with tf's automatic gradient (test/trainer/distill/reference-attention-loss.ts),
 * which cost ~100 ms per module on wasm at B = 32, Ht = 8, Hs = 2, Q = K = 80; this op about half
 * of that (bench/distill-overhead.ts). What made it slow, and what this op does instead (measured
 * on wasm; TFJS-NOTES.md):
 *
 *  - `log` is a scalar loop (~10× a multiply; the largest single cost left): the KL takes ONE
 *    log per teacher element, `log((p + ε) / (M + ε))`, instead of `log(p + ε) − log(M + ε)`.
 *  - every tensor tf saves for a backward pass is copied by the stock wasm Identity kernel, and
 *    autodiff saves most teacher-sized ([B, Ht, Q, K]) intermediates. Here the output is a
 *    scalar, so d loss / d student is dy · g for a g computed in the forward pass: only g
 *    (student-sized) is saved, and no teacher-sized tensor outlives the forward pass.
 *  - a batched matMul with inner dimension Hs (the mix M_i = Σ_j a_ij s_j) is a slow scalar
 *    loop; Hs broadcast multiply-adds are not. The reductions over n = Q·K (dot products) and
 *    over teacher heads (gradient) stay batched matMuls: the alternatives measured no faster.
 *  - the teacher is never normalised or masked as a whole (each a teacher-sized pass): cosines
 *    divide the small [B, Ht, Hs] dot products by the norms; the student's padded rows are
 *    zero, so they drop out of the dot products and the mix, and KL rows and gradient rows are
 *    masked afterwards, at [B, Ht, Q] and at student size.
 *
 * Definitions (per example; METHOD.md "Notation", "Soft alignment weights", "Variants" 2):
 *   t̃_i = A_t[i] ⊙ m, s̃_j = A_s[j] ⊙ m                 (m = query-row mask, 1 = real row)
 *   w_ij = t̃_i·s̃_j / (‖t̃_i‖ ‖s̃_j‖),  a_ij = softmax_j(w_ij / τ),  M_i = Σ_j a_ij s̃_j
 *   L_i = (1 / #valid rows) Σ_{valid q} Σ_k p_qk log((p_qk + ε) / (M_i,qk + ε)),  p = A_t[i]
 *   loss = mean over examples and teacher heads of L_i
 * Norms are floored like safeNorm (squared norm ≥ SQUARED_NORM_FLOOR), ε = KL_EPSILON.
 */
import * as tf from '@tensorflow/tfjs';
import { KL_EPSILON, SQUARED_NORM_FLOOR } from './tensor-utils';

export interface AlignedKlOptions {
  /** τ of the alignment softmax (> 0; validated by the caller). */
  readonly temperature: number;
  /** Stop gradients through the alignment weights a_ij. */
  readonly detachWeights: boolean;
}

/**
 * The `kl` AMAD loss of one module, a scalar: teacher `[B, Ht, Q, K]`, student `[B, Hs, Q, K]`,
 * rowMask `[B, Q]` float (1 = real query row) or null. The student gets the exact gradient of
 * the definition above (through a_ij unless `detachWeights`); the teacher gets a zero gradient.
 * Shapes are validated by the caller (attentionDistillationLoss).
 */
export function alignedKlLoss(
  teacher: tf.Tensor4D,
  student: tf.Tensor4D,
  rowMask: tf.Tensor2D | null,
  options: AlignedKlOptions,
): tf.Scalar {
  // Outside gradient recording (evaluation), skip every gradient computation.
  if (!tf.engine().isTapeOn()) return tf.tidy(() => alignedKlForward(teacher, student, rowMask, options, false).loss);

  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [studentIn, link, save] = args as [tf.Tensor4D, tf.Tensor, tf.GradSaveFunc];
    const { loss, gradStudent } = alignedKlForward(teacher, studentIn, rowMask, options, true);
    save([gradStudent as tf.Tensor4D]);
    return {
      value: loss,
      // The output is a scalar, so dL/d(student) is dy times the gradient computed above.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(dy, saved[0]), tf.zerosLike(link)],
    };
  });
  return op(student, teacherLink(teacher)) as tf.Scalar;
}

/**
 * A `[1]` zero that depends on the teacher with gradient 0, so that tf.grads w.r.t. the teacher
 * returns zeros rather than "cannot compute gradient". Not a slice or reshape of the teacher:
 * under gradient recording those save (on wasm: copy) their teacher-sized input.
 */
function teacherLink(teacher: tf.Tensor4D): tf.Tensor1D {
  const link = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.zeros([1]),
    gradFunc: () => tf.zeros((args[0] as tf.Tensor).shape),
  }));
  return link(teacher) as tf.Tensor1D;
}

interface ForwardResult {
  readonly loss: tf.Scalar;
  /** d loss / d student `[B, Hs, Q, K]`, when asked for. */
  readonly gradStudent?: tf.Tensor4D;
}

/** Loss and (optionally) its gradient w.r.t. the student. Run inside a tidy/customGrad. */
function alignedKlForward(
  teacher: tf.Tensor4D,
  studentRaw: tf.Tensor4D,
  rowMask: tf.Tensor2D | null,
  { temperature, detachWeights }: AlignedKlOptions,
  withGradient: boolean,
): ForwardResult {
  const [B, Ht, Q, K] = teacher.shape;
  const Hs = studentRaw.shape[1];
  const n = Q * K;
  const mask4D = rowMask === null ? null : tf.reshape(rowMask, [B, 1, Q, 1]); // [B, 1, Q, 1]
  const mask3D = rowMask === null ? null : tf.reshape(rowMask, [B, 1, Q]); // [B, 1, Q]
  const student = mask4D === null ? studentRaw : (tf.mul(studentRaw, mask4D) as tf.Tensor4D); // s̃ [B, Hs, Q, K]
  const teacher3D = tf.reshape(teacher, [B, Ht, n]) as tf.Tensor3D; // [B, Ht, n]
  const student3D = tf.reshape(student, [B, Hs, n]) as tf.Tensor3D; // [B, Hs, n]

  // --- Soft alignment weights (Eq. 2) -------------------------------------------------------
  // ‖t̃_i‖²: per-row sums of squares first (a fast last-axis sum), padded rows dropped, then rows.
  const teacherRowSq = tf.sum(tf.mul(teacher, teacher), -1); // [B, Ht, Q]
  const teacherSq = tf.sum(mask3D === null ? teacherRowSq : tf.mul(teacherRowSq, mask3D), -1); // [B, Ht]
  const teacherNorm = tf.reshape(tf.sqrt(tf.maximum(teacherSq, SQUARED_NORM_FLOOR)), [B, Ht, 1]); // [B, Ht, 1]
  const studentSq = tf.sum(tf.mul(student3D, student3D), -1); // [B, Hs]
  const studentNorm = tf.reshape(tf.sqrt(tf.maximum(studentSq, SQUARED_NORM_FLOOR)), [B, 1, Hs]); // [B, 1, Hs]
  // t_i·s̃_j = t̃_i·s̃_j: s̃ is zero on padded rows. Batched matMul without transpose flags.
  const studentT = tf.transpose(student3D, [0, 2, 1]) as tf.Tensor3D; // [B, n, Hs]
  const dots = tf.matMul(teacher3D, studentT); // [B, Ht, Hs]
  const cosine = tf.div(dots, tf.mul(teacherNorm, studentNorm)); // w [B, Ht, Hs]
  const weights = tf.softmax(tf.div(cosine, temperature), -1) as tf.Tensor3D; // a [B, Ht, Hs]

  // --- KL(A_t[i] ‖ M_i) per query row (Eq. 9) ----------------------------------------------
  // M_i + ε = Σ_j a_ij (s̃_j + ε), because Σ_j a_ij = 1: ε is added at student size.
  const mixPlusEps = mixHeads(weights, tf.split(tf.add(student3D, KL_EPSILON), Hs, 1) as tf.Tensor3D[]); // [B, Ht, n]
  const ratio = tf.reshape(tf.div(tf.add(teacher3D, KL_EPSILON), mixPlusEps), [B, Ht, Q, K]); // (p + ε) / (M + ε)
  const rowKl = tf.sum(tf.mul(teacher, tf.log(ratio)), -1); // [B, Ht, Q]; p = 0 terms are 0
  // Per-example 1 / #valid rows (floored at 1 like maskedRowMean), as [B, 1].
  const rowsPerExample = rowMask === null ? null : tf.maximum(tf.sum(rowMask, -1, true), 1); // [B, 1]
  const perHead =
    rowsPerExample === null ? tf.mean(rowKl, -1) : tf.div(tf.sum(tf.mul(rowKl, mask3D as tf.Tensor), -1), rowsPerExample); // L_i [B, Ht]
  const loss = tf.mean(perHead) as tf.Scalar;
  if (!withGradient) return { loss };

  // --- d loss / d s̃ ------------------------------------------------------------------------
  // loss = Σ_{b,i} c_b Σ_q m_q KL_q with c_b = 1 / (B · Ht · #valid rows of b), so
  // d loss / d M_i = −c_b m_q p / (M_i + ε) =: −c_b m_q G_i (m_q applied at student size below).
  const c = rowsPerExample === null ? tf.scalar(1 / (B * Ht * Q)) : tf.reshape(tf.div(1 / (B * Ht), rowsPerExample), [B, 1, 1]); // [B, 1, 1] or scalar
  const g3D = tf.div(teacher3D, mixPlusEps) as tf.Tensor3D; // G [B, Ht, n]
  // Through the mix: d/ds̃_j = Σ_i (−c a_ij) G_i, a [Hs, Ht] @ [Ht, n] product per example.
  // (transposeA: measured faster on wasm than the same product with an explicit transpose.)
  const mixCoef = tf.mul(weights, tf.neg(c)) as tf.Tensor3D; // [B, Ht, Hs]
  let grad3D = tf.matMul(mixCoef, g3D, true, false); // [B, Hs, n]
  if (!detachWeights) {
    // Through a_ij: d loss / d a_ij = −c Σ_n G_i s̃_j.
    const dWeights = tf.mul(tf.matMul(g3D, studentT), tf.neg(c)); // [B, Ht, Hs]
    // Softmax over j, then w / τ: d/dw_ij = a_ij (d/da_ij − Σ_m a_im d/da_im) / τ.
    const dCosine = tf.div(tf.mul(weights, tf.sub(dWeights, tf.sum(tf.mul(weights, dWeights), -1, true))), temperature); // [B, Ht, Hs]
    // w_ij = t̃_i·s̃_j / (‖t̃_i‖ ‖s̃_j‖): d w_ij / d s̃_j = t̃_i / (‖t̃_i‖ ‖s̃_j‖) − w_ij s̃_j / ‖s̃_j‖²,
    // the second term only where the norm is not floored (d max(x, floor) / dx = [x ≥ floor]).
    const teacherCoef = tf.div(dCosine, tf.mul(teacherNorm, studentNorm)) as tf.Tensor3D; // [B, Ht, Hs]
    const unfloored = tf.cast(tf.greaterEqual(studentSq, SQUARED_NORM_FLOOR), 'float32'); // [B, Hs]
    const radialCoef = tf.div(tf.mul(tf.sum(tf.mul(dCosine, cosine), 1), unfloored), tf.maximum(studentSq, SQUARED_NORM_FLOOR)); // [B, Hs]
    // t̃_i = t_i ⊙ m: the mask is applied to the student-sized result below.
    const viaTeacher = tf.matMul(teacherCoef, teacher3D, true, false); // [B, Hs, n]
    grad3D = tf.sub(tf.add(grad3D, viaTeacher), tf.mul(tf.reshape(radialCoef, [B, Hs, 1]), student3D));
  }
  const grad = tf.reshape(grad3D, [B, Hs, Q, K]); // d loss / d s̃
  // s̃ = s ⊙ m, and padded rows of every term above are dropped here.
  return { loss, gradStudent: (mask4D === null ? grad : tf.mul(grad, mask4D)) as tf.Tensor4D };
}

/**
 * Σ_j weights[b, i, j] · heads[j][b, 0, :] → `[B, Ht, n]`, from weights `[B, Ht, Hs]` and Hs
 * maps `[B, 1, n]`. Hs broadcast multiply-adds: a batched matMul with inner dimension Hs is a
 * slow scalar loop on wasm, and Hs (student heads) is small.
 */
function mixHeads(weights: tf.Tensor3D, heads: readonly tf.Tensor3D[]): tf.Tensor3D {
  const [B, Ht, Hs] = weights.shape;
  let mix: tf.Tensor | null = null;
  for (let j = 0; j < Hs; j++) {
    const term = tf.mul(tf.slice(weights, [0, 0, j], [B, Ht, 1]), heads[j]); // [B, Ht, 1] · [B, 1, n] → [B, Ht, n]
    mix = mix === null ? term : tf.add(mix, term);
  }
  return mix as tf.Tensor3D;
}
