import * as tf from '@tensorflow/tfjs';
import { alignmentStats, meanAlignmentWeights } from '../../../trainer/jobs/alignment';

/** softmax over a row, computed by hand. */
const softmax = (r: number[], tau: number) => {
  const e = r.map((x) => Math.exp(x / tau));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};
const entropy = (r: number[]) => -r.reduce((a, p) => a + p * Math.log(p), 0) / Math.log(r.length);

// B = 2, Ht = 2, Hs = 2, Q = 1, K = 2 (one query row, two keys).
// Example 0: teacher heads [1,0] and [0,1]; student heads [1,0] and [1,1]. Example 1: student heads swapped.
const T = tf.tensor4d([[[[1, 0]], [[0, 1]]], [[[1, 0]], [[0, 1]]]]);
const S = tf.tensor4d([[[[1, 0]], [[1, 1]]], [[[1, 1]], [[1, 0]]]]);
const r = Math.SQRT1_2;

test('per-example a_ij, their row entropy and the student heads cosine, by hand', () => {
  for (const tau of [1, 0.1]) {
    const st = alignmentStats(T, S, null, tau);
    const a0 = [softmax([1, r], tau), softmax([0, r], tau)];
    const a1 = [softmax([r, 1], tau), softmax([r, 0], tau)];
    st.examples[0]!.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(a0[i]![j]!, 4)));
    st.examples[1]!.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(a1[i]![j]!, 4)));
    const h = (entropy(a0[0]!) + entropy(a0[1]!)) / 2;
    expect(st.entropy).toHaveLength(2);
    st.entropy.forEach((e) => expect(e).toBeCloseTo(h, 4)); // the swap mirrors the rows: same entropy
    // Student heads' cosine: 1/√2 in both examples, 1 on the diagonal.
    expect(st.studentCosine[0]![1]).toBeCloseTo(r, 4);
    expect(st.studentCosine[1]![1]).toBeCloseTo(1, 4);
    // The batch mean of the two (mirror-image) examples is flatter than either example.
    const mean = meanAlignmentWeights(T, S, null, tau);
    expect(entropy(mean[0]!)).toBeGreaterThan(h);
  }
  // Smaller τ: sharper rows.
  expect(alignmentStats(T, S, null, 0.1).entropy[0]!).toBeLessThan(alignmentStats(T, S, null, 1).entropy[0]!);
});

test('masked query rows do not count', () => {
  // Q = 2: the second query row is padding in example 0 and holds something else there.
  const t = tf.tensor4d([[[[1, 0], [5, 5]], [[0, 1], [5, 5]]]]);
  const s = tf.tensor4d([[[[1, 0], [0, 9]], [[1, 1], [9, 0]]]]);
  const masked = alignmentStats(t, s, tf.tensor2d([[1, 0]]), 1);
  const plain = alignmentStats(T.slice([0], [1]) as tf.Tensor4D, S.slice([0], [1]) as tf.Tensor4D, null, 1);
  expect(masked.examples).toEqual(plain.examples);
  expect(masked.entropy).toEqual(plain.entropy);
});
