/**
 * The AMAD soft alignment weights a_ij (METHOD.md Eq. 2), averaged over a batch, for the
 * training log and the report's heatmaps: how strongly each teacher head i teaches each student
 * head j. Diagnostic only: computed without gradients on detached maps.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * @param teacher `[B, Ht, Q, K]`  @param student `[B, Hs, Q, K]`  @param queryMask `[B, Q]` or null
 * @returns `[Ht][Hs]` mean over the batch of softmax_j(cos(t_i, s_j) / τ)
 */
export function meanAlignmentWeights(teacher: tf.Tensor4D, student: tf.Tensor4D, queryMask: tf.Tensor2D | null | undefined, temperature = 1): number[][] {
  const [B, Ht, Q, K] = teacher.shape;
  const Hs = student.shape[1];
  const a = tf.tidy(() => {
    const mask = queryMask ? queryMask.cast('float32').reshape([B, 1, Q, 1]) : tf.scalar(1);
    const t = teacher.mul(mask).reshape([B, Ht, 1, Q * K]); // [B, Ht, 1, n]
    const s = student.mul(mask).reshape([B, 1, Hs, Q * K]); // [B, 1, Hs, n]
    const dot = t.mul(s).sum(-1); // [B, Ht, Hs]
    const norms = t.norm('euclidean', -1).mul(s.norm('euclidean', -1)).maximum(1e-12); // [B, Ht, Hs]
    return tf.softmax(dot.div(norms).div(temperature), -1).mean(0); // [Ht, Hs]
  });
  const out = a.arraySync() as number[][];
  a.dispose();
  return out.map((row) => row.map((v) => Math.round(v * 1e4) / 1e4));
}

/** What the training log records about the alignment of one mapped layer pair (docs/STUDY.md "mechanism"). */
export interface AlignmentStats {
  /** Per example of the batch: normalised entropy of a_i· (0 = one student head, 1 = uniform), mean over teacher heads i. `[B]` */
  readonly entropy: number[];
  /** a_ij of the first `examples` examples of the batch, `[E][Ht][Hs]` (the report shows them beside the batch mean). */
  readonly examples: number[][][];
  /** Cosine similarity between the student heads' maps, mean over the batch, `[Hs][Hs]` (diagonal 1): how diverse the student heads are. */
  readonly studentCosine: number[][];
}

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;

/**
 * Per-example alignment diagnostics, without gradients: the per-example a_ij, their row
 * entropy, and the student heads' pairwise map cosine. The batch mean alone hides whether each
 * example's alignment is sharp (a clustering of teacher heads) or flat (mean-head in disguise):
 * a mean of sharp but disagreeing rows also looks flat.
 * @param teacher `[B, Ht, Q, K]`  @param student `[B, Hs, Q, K]`  @param queryMask `[B, Q]` or null
 */
export function alignmentStats(teacher: tf.Tensor4D, student: tf.Tensor4D, queryMask: tf.Tensor2D | null | undefined, temperature = 1, examples = 2): AlignmentStats {
  const [B, Ht, Q, K] = teacher.shape;
  const Hs = student.shape[1];
  const [entropy, perExample, cosine] = tf.tidy(() => {
    const mask = queryMask ? queryMask.cast('float32').reshape([B, 1, Q, 1]) : tf.scalar(1);
    const tFlat = teacher.mul(mask).reshape([B, Ht, Q * K]); // [B, Ht, n]
    const sFlat = student.mul(mask).reshape([B, Hs, Q * K]); // [B, Hs, n]
    const tUnit = tFlat.div(tFlat.norm('euclidean', -1, true).maximum(1e-12)); // [B, Ht, n]
    const sUnit = sFlat.div(sFlat.norm('euclidean', -1, true).maximum(1e-12)); // [B, Hs, n]
    const w = tf.matMul(tUnit, sUnit, false, true); // [B, Ht, Hs] cosine w_ij
    const a = tf.softmax(w.div(temperature), -1); // [B, Ht, Hs]
    // Normalised row entropy: −Σ_j a log a / log Hs, mean over teacher heads → [B].
    const h = Hs > 1 ? a.mul(a.maximum(1e-30).log()).sum(-1).neg().div(Math.log(Hs)).mean(-1) : tf.zeros([B]);
    const cos = tf.matMul(sUnit, sUnit, false, true).mean(0); // [Hs, Hs]
    return [h, a.slice([0, 0, 0], [Math.min(examples, B), Ht, Hs]), cos];
  });
  const out: AlignmentStats = {
    entropy: (entropy.arraySync() as number[]).map(round4),
    examples: (perExample.arraySync() as number[][][]).map((m) => m.map((r) => r.map(round4))),
    studentCosine: (cosine.arraySync() as number[][]).map((r) => r.map(round4)),
  };
  tf.dispose([entropy, perExample, cosine]);
  return out;
}
