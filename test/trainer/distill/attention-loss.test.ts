/**
 * Properties of the attention distillation losses (METHOD.md) that hold for any input, checked
 * on seeded random attention maps.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../trainer/backend';
import {
  ATTENTION_VARIANTS,
  attentionDistillationLoss,
  createProjection,
  DistillInputError,
  type AttentionLossOptions,
  type ProjectionParams,
} from '../../../trainer/distill';

/** Row-stochastic maps `[B, H, Q, K]` from a seeded normal (deterministic on every backend). */
function randomMaps(shape: [number, number, number, number], seed: number, scale = 1.5): tf.Tensor4D {
  return tf.tidy(() => tf.softmax(tf.randomNormal(shape, 0, scale, 'float32', seed), -1)) as tf.Tensor4D;
}

function lossValue(t: tf.Tensor4D, s: tf.Tensor4D, options: AttentionLossOptions): number {
  return tf.tidy(() => attentionDistillationLoss(t, s, options).dataSync()[0]);
}

const projections = new Map<number, ProjectionParams>();
/** One projection per n for the whole file (tfjs variable names are global). */
function projectionFor(n: number): ProjectionParams {
  if (!projections.has(n)) projections.set(n, createProjection(`test-module-${n}`, n));
  return projections.get(n)!;
}
function optionsFor(variant: (typeof ATTENTION_VARIANTS)[number], n: number, extra: AttentionLossOptions = {}): AttentionLossOptions {
  return { variant, ...(variant === 'projected' ? { projection: projectionFor(n) } : {}), ...extra };
}

beforeAll(async () => {
  await initBackend();
});
afterAll(() => {
  for (const p of projections.values()) tf.dispose([p.W, p.b]);
});

describe('attentionDistillationLoss properties', () => {
  const shapeT: [number, number, number, number] = [2, 6, 5, 7];
  const shapeS: [number, number, number, number] = [2, 3, 5, 7];
  const n = 5 * 7;

  test.each(ATTENTION_VARIANTS)('%s: scalar float32 ≥ 0, finite gradient, no leaked tensors', (variant) => {
    const t = randomMaps(shapeT, 1);
    const s = randomMaps(shapeS, 2);
    const options = optionsFor(variant, n);
    const before = tf.memory().numTensors;
    const loss = attentionDistillationLoss(t, s, options);
    const grad = tf.grad((x: tf.Tensor) => attentionDistillationLoss(t, x as tf.Tensor4D, options))(s);
    expect(loss.dtype).toBe('float32');
    expect(loss.shape).toEqual([]);
    expect(loss.dataSync()[0]).toBeGreaterThan(0);
    expect(grad.shape).toEqual(shapeS);
    expect(Array.from(grad.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([loss, grad]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([t, s]);
  });

  test.each(['one-to-one', 'mean-head'] as const)('%s is 0 when student == teacher', (variant) => {
    const t = randomMaps([2, 4, 5, 5], 3);
    expect(lossValue(t, t, { variant })).toBeCloseTo(0, 6);
    t.dispose();
  });

  // With distinct heads, AMAD's soft weights mix the student heads (a_ii < 1), so the loss of
  // student == teacher is small but NOT 0 (that is the method: every head teaches every head).
  // It is exactly 0 when all heads are one map, and tends to 0 as τ → 0 (a_ij → one-hot on j = i).
  test.each(['kl', 'mse', 'token'] as const)('%s is 0 when student == teacher with identical heads', (variant) => {
    const one = randomMaps([2, 1, 5, 5], 4);
    const t = tf.tile(one, [1, 4, 1, 1]) as tf.Tensor4D;
    expect(lossValue(t, t, { variant })).toBeCloseTo(0, 6);
    tf.dispose([one, t]);
  });

  test.each(['kl', 'mse', 'token'] as const)('%s of student == teacher with distinct heads → 0 as τ → 0', (variant) => {
    const t = randomMaps([2, 4, 6, 6], 5);
    const soft = lossValue(t, t, { variant, temperature: 1 });
    const sharp = lossValue(t, t, { variant, temperature: 0.005 });
    expect(soft).toBeGreaterThan(1e-3);
    expect(sharp).toBeLessThan(1e-4);
    t.dispose();
  });

  test('permuting student heads leaves kl, mse, token unchanged and changes one-to-one', () => {
    const t = randomMaps([2, 4, 5, 6], 6);
    const s = randomMaps([2, 3, 5, 6], 7);
    const permuted = tf.concat([tf.slice(s, [0, 2, 0, 0], [2, 1, 5, 6]), tf.slice(s, [0, 0, 0, 0], [2, 2, 5, 6])], 1) as tf.Tensor4D;
    for (const variant of ['kl', 'mse', 'token'] as const) {
      const a = lossValue(t, s, { variant });
      const b = lossValue(t, permuted, { variant });
      expect(Math.abs(a - b)).toBeLessThan(1e-6 * Math.max(1, a));
    }
    const a = lossValue(t, s, { variant: 'one-to-one' });
    const b = lossValue(t, permuted, { variant: 'one-to-one' });
    expect(Math.abs(a - b)).toBeGreaterThan(1e-3);
    tf.dispose([t, s, permuted]);
  });

  describe('with one student head (Hs = 1)', () => {
    const Ht = 5;
    let t: tf.Tensor4D;
    let s: tf.Tensor4D;
    let klAgainstSingleHead: number; // mean_i mean_q KL(A_t[i][q] ‖ A_s[0][q]), via one-to-one on the tiled head
    beforeAll(() => {
      t = randomMaps([2, Ht, 4, 6], 8);
      s = randomMaps([2, 1, 4, 6], 9);
      const tiled = tf.tile(s, [1, Ht, 1, 1]) as tf.Tensor4D;
      klAgainstSingleHead = lossValue(t, tiled, { variant: 'one-to-one' });
      tiled.dispose();
    });
    afterAll(() => tf.dispose([t, s]));

    test.each(['kl', 'token'] as const)('%s equals KL against the single head (a_i1 = 1)', (variant) => {
      expect(lossValue(t, s, { variant })).toBeCloseTo(klAgainstSingleHead, 5);
    });

    test('mse equals mean_i (2 − 2 cos(t_i, s)), the squared distance of unit vectors', () => {
      const tData = t.arraySync();
      const sData = s.arraySync();
      let sum = 0;
      for (let b = 0; b < 2; b++) {
        const sv = sData[b][0].flat();
        for (let i = 0; i < Ht; i++) {
          const tv = tData[b][i].flat();
          const dot = tv.reduce((acc, x, k) => acc + x * sv[k], 0);
          const cos = dot / Math.hypot(...tv) / Math.hypot(...sv);
          sum += 2 - 2 * cos;
        }
      }
      expect(lossValue(t, s, { variant: 'mse' })).toBeCloseTo(sum / (2 * Ht), 5);
    });
  });

  test.each(ATTENTION_VARIANTS)('%s: values in padded query rows change neither loss nor gradient elsewhere', (variant) => {
    const t = randomMaps([2, 4, 5, 5], 10);
    const s = randomMaps([2, 2, 5, 5], 11);
    const mask = tf.tensor2d([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]]);
    const padded = tf.reshape(tf.sub(1, mask), [2, 1, 5, 1]);
    // Replace padded rows of both models with unrelated maps.
    const t2 = tf.add(tf.mul(t, tf.reshape(mask, [2, 1, 5, 1])), tf.mul(randomMaps([2, 4, 5, 5], 12), padded)) as tf.Tensor4D;
    const s2 = tf.add(tf.mul(s, tf.reshape(mask, [2, 1, 5, 1])), tf.mul(randomMaps([2, 2, 5, 5], 13), padded)) as tf.Tensor4D;
    const options = optionsFor(variant, 25, { queryMask: mask });
    const a = lossValue(t, s, options);
    expect(Math.abs(lossValue(t2, s2, options) - a)).toBeLessThan(1e-6 * Math.max(1, a));
    expect(Math.abs(lossValue(t, s, optionsFor(variant, 25)) - a)).toBeGreaterThan(1e-4); // the mask does matter

    const grad = tf.grad((x: tf.Tensor) => attentionDistillationLoss(t, x as tf.Tensor4D, options))(s);
    expect(tf.tidy(() => tf.sum(tf.abs(tf.mul(grad, padded))).dataSync()[0])).toBe(0);
    tf.dispose([t, s, mask, padded, t2, s2, grad]);
  });

  test('cross-attention (Q ≠ K) and more student than teacher heads work', () => {
    const t = randomMaps([2, 2, 4, 9], 14);
    const s = randomMaps([2, 6, 4, 9], 15);
    for (const variant of ATTENTION_VARIANTS) {
      const v = lossValue(t, s, optionsFor(variant, 36));
      expect(Number.isFinite(v) && v > 0).toBe(true);
    }
    tf.dispose([t, s]);
  });

  test('one-to-one pairs only the first min(Ht, Hs) heads', () => {
    const t = randomMaps([2, 3, 4, 6], 20);
    const s = randomMaps([2, 5, 4, 6], 21);
    const firstThree = tf.slice(s, [0, 0, 0, 0], [2, 3, 4, 6]) as tf.Tensor4D;
    expect(lossValue(t, s, { variant: 'one-to-one' })).toBeCloseTo(lossValue(t, firstThree, { variant: 'one-to-one' }), 6);
    const fewer = tf.slice(s, [0, 0, 0, 0], [2, 2, 4, 6]) as tf.Tensor4D;
    const firstTwoTeacher = tf.slice(t, [0, 0, 0, 0], [2, 2, 4, 6]) as tf.Tensor4D;
    expect(lossValue(t, fewer, { variant: 'one-to-one' })).toBeCloseTo(lossValue(firstTwoTeacher, fewer, { variant: 'one-to-one' }), 6);
    tf.dispose([t, s, firstThree, fewer, firstTwoTeacher]);
  });

  test('projected equals kl at initialisation (W = I, b = 0) and trains W and b', () => {
    const t = randomMaps([2, 4, 5, 7], 22);
    const s = randomMaps([2, 2, 5, 7], 23);
    const projection = projectionFor(35);
    expect(lossValue(t, s, { variant: 'projected', projection })).toBeCloseTo(lossValue(t, s, { variant: 'kl' }), 5);
    const { grads } = tf.variableGrads(() => attentionDistillationLoss(t, s, { variant: 'projected', projection }), [projection.W, projection.b]);
    expect(tf.tidy(() => tf.max(tf.abs(grads[projection.W.name])).dataSync()[0])).toBeGreaterThan(0);
    expect(tf.tidy(() => tf.max(tf.abs(grads[projection.b.name])).dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([t, s, ...Object.values(grads)]);
  });

  test('teacher maps receive a zero gradient; student gradient is non-zero', () => {
    const t = randomMaps([2, 4, 5, 5], 16);
    const s = randomMaps([2, 2, 5, 5], 17);
    const [gt, gs] = tf.grads((a: tf.Tensor, b: tf.Tensor) => attentionDistillationLoss(a as tf.Tensor4D, b as tf.Tensor4D))([t, s]);
    expect(tf.tidy(() => tf.max(tf.abs(gt)).dataSync()[0])).toBe(0);
    expect(tf.tidy(() => tf.max(tf.abs(gs)).dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([t, s, gt, gs]);
  });

  test('detachWeights keeps the loss and changes the gradient', () => {
    const t = randomMaps([2, 4, 5, 5], 18);
    const s = randomMaps([2, 2, 5, 5], 19);
    const gradOf = (detachWeights: boolean) =>
      tf.grad((x: tf.Tensor) => attentionDistillationLoss(t, x as tf.Tensor4D, { detachWeights }))(s);
    expect(lossValue(t, s, { detachWeights: true })).toBeCloseTo(lossValue(t, s, {}), 6);
    const [g1, g2] = [gradOf(true), gradOf(false)];
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(g1, g2))).dataSync()[0])).toBeGreaterThan(1e-5);
    tf.dispose([t, s, g1, g2]);
  });
});

describe('attentionDistillationLoss input checks', () => {
  let t: tf.Tensor4D;
  beforeAll(() => {
    t = tf.zeros([2, 4, 5, 5]) as tf.Tensor4D;
  });
  afterAll(() => t.dispose());

  test('mismatched shapes name both arguments and shapes', () => {
    const s = tf.zeros([2, 2, 5, 6]) as tf.Tensor4D;
    expect(() => attentionDistillationLoss(t, s)).toThrow(DistillInputError);
    expect(() => attentionDistillationLoss(t, s)).toThrow(/studentMaps \[2,2,5,6\].*teacherMaps \[2,4,5,5\]/);
    s.dispose();
  });

  test('wrong rank names the argument and the rank', () => {
    const s = tf.zeros([2, 5, 5]) as unknown as tf.Tensor4D;
    expect(() => attentionDistillationLoss(t, s)).toThrow(/studentMaps must be rank 4.*got rank 3/);
    s.dispose();
  });

  test('queryMask of the wrong shape', () => {
    const mask = tf.ones([2, 4]) as tf.Tensor2D;
    expect(() => attentionDistillationLoss(t, t, { queryMask: mask })).toThrow(/queryMask \[2,4\] must be \[B, Q\] = \[2,5\]/);
    mask.dispose();
  });

  test('bad temperature and unknown variant', () => {
    expect(() => attentionDistillationLoss(t, t, { temperature: 0 })).toThrow(/temperature must be a finite number > 0, got 0/);
    expect(() => attentionDistillationLoss(t, t, { variant: 'cosine' as never })).toThrow(/variant must be one of .*got "cosine"/);
  });

  test('projected without parameters, or with the wrong size', () => {
    expect(() => attentionDistillationLoss(t, t, { variant: 'projected' })).toThrow(/needs option projection \(createProjection\(moduleName, 25\)\)/);
    expect(() => attentionDistillationLoss(t, t, { variant: 'projected', projection: projectionFor(36) })).toThrow(
      /module "test-module-36" has projection size n = 36 but its maps are 5×5 = 25/,
    );
  });

  test('createProjection refuses n > 4096 naming the module and n', () => {
    expect(() => createProjection('fusionSelf/3', 80 * 80)).toThrow(/module "fusionSelf\/3" has n = Q·K = 6400 > 4096/);
  });

  test('createProjection is identity-initialised', () => {
    const p = createProjection('identity-check', 3);
    expect(p.W.arraySync()).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    expect(p.b.arraySync()).toEqual([0, 0, 0]);
    expect(() => createProjection('identity-check', 3)).toThrow(/already exists/);
    tf.dispose([p.W, p.b]);
  });
});
