/**
 * The fused `kl` op (trainer/distill/aligned-kl.ts, hand-written gradient) against the op-by-op
 * reference with tf's automatic gradient, on seeded random maps, plus the op's own contracts:
 * evaluation path, zero teacher gradient, edge cases, no leaked tensors. Runs on the backend of
 * AMAD_BACKEND (wasm by default; `AMAD_BACKEND=cpu npx jest …` for cpu).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../trainer/backend';
import { alignedKlLoss, type AlignedKlOptions } from '../../../trainer/distill/aligned-kl';
import { referenceAttentionLoss } from './reference-attention-loss';

type Shape4 = [number, number, number, number];

function randomMaps(shape: Shape4, seed: number, scale = 2): tf.Tensor4D {
  return tf.tidy(() => tf.softmax(tf.randomNormal(shape, 0, scale, 'float32', seed), -1)) as tf.Tensor4D;
}

/** ‖a − b‖ / ‖b‖ over all elements. */
function relativeDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.div(tf.norm(tf.sub(a, b)), tf.norm(b)).dataSync()[0]);
}

interface Case {
  name: string;
  teacher: Shape4;
  studentHeads: number;
  mask?: number[][];
  options?: Partial<AlignedKlOptions>;
}

const cases: Case[] = [
  { name: 'Ht = 6, Hs = 2', teacher: [3, 6, 7, 7], studentHeads: 2 },
  { name: 'Hs > Ht, Q ≠ K', teacher: [2, 2, 5, 9], studentHeads: 5 },
  { name: 'one student head', teacher: [2, 4, 6, 6], studentHeads: 1 },
  { name: 'τ = 0.3', teacher: [2, 5, 6, 6], studentHeads: 3, options: { temperature: 0.3 } },
  { name: 'detached weights', teacher: [2, 5, 6, 6], studentHeads: 3, options: { detachWeights: true } },
  {
    name: 'padded rows, one example all padding',
    teacher: [3, 4, 5, 6],
    studentHeads: 2,
    mask: [
      [1, 1, 1, 0, 0],
      [1, 1, 1, 1, 1],
      [0, 0, 0, 0, 0],
    ],
  },
  { name: 'padded rows, detached', teacher: [2, 4, 5, 5], studentHeads: 3, mask: [[1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], options: { detachWeights: true } },
];

beforeAll(async () => {
  await initBackend();
});

describe('alignedKlLoss matches the op-by-op kl loss and its automatic gradient', () => {
  test.each(cases)('$name', ({ teacher: shapeT, studentHeads, mask, options }) => {
    const [B, , Q, K] = shapeT;
    const teacher = randomMaps(shapeT, 1);
    const student = randomMaps([B, studentHeads, Q, K], 2);
    const rowMask = mask ? (tf.tensor2d(mask) as tf.Tensor2D) : null;
    const align: AlignedKlOptions = { temperature: options?.temperature ?? 1, detachWeights: options?.detachWeights ?? false };
    const before = tf.memory().numTensors;

    const fused = tf.valueAndGrad((s: tf.Tensor) => alignedKlLoss(teacher, s as tf.Tensor4D, rowMask, align))(student);
    const reference = tf.valueAndGrad((s: tf.Tensor) =>
      referenceAttentionLoss(teacher, s as tf.Tensor4D, { variant: 'kl', queryMask: rowMask, ...align }),
    )(student);

    expect(fused.value.dtype).toBe('float32');
    expect(fused.value.shape).toEqual([]);
    expect(fused.grad.shape).toEqual([B, studentHeads, Q, K]);
    const [got, want] = [fused.value.dataSync()[0], reference.value.dataSync()[0]];
    expect(Math.abs(got - want) / want).toBeLessThan(1e-5);
    expect(relativeDiff(fused.grad, reference.grad)).toBeLessThan(1e-5);
    tf.dispose([fused.value, fused.grad, reference.value, reference.grad]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([teacher, student, rowMask ?? []]);
  });
});

describe('alignedKlLoss contracts', () => {
  const align: AlignedKlOptions = { temperature: 1, detachWeights: false };
  let teacher: tf.Tensor4D;
  let student: tf.Tensor4D;
  beforeAll(() => {
    teacher = randomMaps([2, 4, 5, 6], 3);
    student = randomMaps([2, 2, 5, 6], 4);
  });
  afterAll(() => tf.dispose([teacher, student]));

  test('outside gradient recording it returns the same value and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const evaluated = alignedKlLoss(teacher, student, null, align);
    const { value, grad } = tf.valueAndGrad((s: tf.Tensor) => alignedKlLoss(teacher, s as tf.Tensor4D, null, align))(student);
    expect(evaluated.dataSync()[0]).toBe(value.dataSync()[0]);
    tf.dispose([evaluated, value, grad]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('the teacher receives a zero gradient of its shape', () => {
    const [gTeacher, gStudent] = tf.grads((t: tf.Tensor, s: tf.Tensor) => alignedKlLoss(t as tf.Tensor4D, s as tf.Tensor4D, null, align))([teacher, student]);
    expect(gTeacher.shape).toEqual(teacher.shape);
    expect(tf.tidy(() => tf.max(tf.abs(gTeacher)).dataSync()[0])).toBe(0);
    expect(tf.tidy(() => tf.max(tf.abs(gStudent)).dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([gTeacher, gStudent]);
  });

  test('the gradient scales with the upstream gradient', () => {
    const g1 = tf.grad((s: tf.Tensor) => alignedKlLoss(teacher, s as tf.Tensor4D, null, align))(student);
    const g3 = tf.grad((s: tf.Tensor) => tf.mul(alignedKlLoss(teacher, s as tf.Tensor4D, null, align), 3))(student);
    expect(relativeDiff(g3, tf.tidy(() => tf.mul(g1, 3)))).toBeLessThan(1e-6);
    tf.dispose([g1, g3]);
  });

  test('an all-zero student map (norm floored) gives a finite loss and gradient, as the reference does', () => {
    // Example 1's student maps are all zero: its cosines are 0 and M = 0, so its KL is large but finite.
    const zeroed = tf.tidy(() => tf.mul(student, tf.tensor4d([1, 0], [2, 1, 1, 1]))) as tf.Tensor4D;
    const fused = tf.valueAndGrad((s: tf.Tensor) => alignedKlLoss(teacher, s as tf.Tensor4D, null, align))(zeroed);
    const reference = tf.valueAndGrad((s: tf.Tensor) => referenceAttentionLoss(teacher, s as tf.Tensor4D, { variant: 'kl' }))(zeroed);
    expect(Number.isFinite(fused.value.dataSync()[0])).toBe(true);
    expect(Array.from(fused.grad.dataSync()).every(Number.isFinite)).toBe(true);
    expect(Math.abs(fused.value.dataSync()[0] - reference.value.dataSync()[0]) / reference.value.dataSync()[0]).toBeLessThan(1e-5);
    expect(relativeDiff(fused.grad, reference.grad)).toBeLessThan(1e-5);
    tf.dispose([zeroed, fused.value, fused.grad, reference.value, reference.grad]);
  });
});
