/** Logit distillation, ground-truth losses and the total objective against float64 references. */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../trainer/backend';
import {
  distillationObjective,
  lmCrossEntropyLoss,
  logitDistillationLoss,
  vqaSoftTargetLoss,
} from '../../../trainer/distill';

beforeAll(async () => {
  await initBackend();
});

const logSoftmaxJs = (z: number[]): number[] => {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
};
/** τ² · KL(softmax(t/τ) ‖ softmax(s/τ)) for one row. */
const kdRow = (t: number[], s: number[], tau: number): number => {
  const lt = logSoftmaxJs(t.map((v) => v / tau));
  const ls = logSoftmaxJs(s.map((v) => v / tau));
  return tau * tau * lt.reduce((acc, l, k) => acc + Math.exp(l) * (l - ls[k]), 0);
};
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('logitDistillationLoss', () => {
  test('[B, A]: τ² · KL summed over answers, mean over the batch', () => {
    const t = tf.randomNormal([3, 7], 0, 3, 'float32', 1) as tf.Tensor2D;
    const s = tf.randomNormal([3, 7], 0, 3, 'float32', 2) as tf.Tensor2D;
    const tr = t.arraySync();
    const sr = s.arraySync();
    for (const tau of [1, 2, 4]) {
      const expected = tr.reduce((acc, row, b) => acc + kdRow(row, sr[b], tau), 0) / 3;
      const loss = logitDistillationLoss(t, s, { temperature: tau });
      expect(loss.shape).toEqual([]);
      expect(rel(loss.dataSync()[0], expected)).toBeLessThan(1e-5);
      loss.dispose();
    }
    expect(logitDistillationLoss(t, t, { temperature: 2 }).dataSync()[0]).toBeCloseTo(0, 6);
    tf.dispose([t, s]);
  });

  test('[B, T, V] with a mask: mean over valid tokens; padded positions do not count', () => {
    const t = tf.randomNormal([2, 4, 6], 0, 2, 'float32', 3) as tf.Tensor3D;
    const s = tf.randomNormal([2, 4, 6], 0, 2, 'float32', 4) as tf.Tensor3D;
    const maskRows = [
      [1, 1, 0, 0],
      [1, 1, 1, 0],
    ];
    const mask = tf.tensor2d(maskRows);
    const tr = t.arraySync();
    const sr = s.arraySync();
    let sum = 0;
    let count = 0;
    maskRows.forEach((row, b) => row.forEach((m, i) => {
      if (m) {
        sum += kdRow(tr[b][i], sr[b][i], 2);
        count++;
      }
    }));
    const loss = logitDistillationLoss(t, s, { temperature: 2, mask });
    expect(rel(loss.dataSync()[0], sum / count)).toBeLessThan(1e-5);
    const sPadChanged = tf.add(s, tf.mul(tf.reshape(tf.sub(1, mask), [2, 4, 1]), 5));
    expect(logitDistillationLoss(t, sPadChanged, { temperature: 2, mask }).dataSync()[0]).toBeCloseTo(loss.dataSync()[0], 6);
    tf.dispose([t, s, mask, loss, sPadChanged]);
  });

  test('teacher gets no gradient; checks name the problem', () => {
    const t = tf.randomNormal([2, 5], 0, 1, 'float32', 5);
    const s = tf.randomNormal([2, 5], 0, 1, 'float32', 6);
    const [gt, gs] = tf.grads((a: tf.Tensor, b: tf.Tensor) => logitDistillationLoss(a, b, { temperature: 2 }))([t, s]);
    expect(tf.max(tf.abs(gt)).dataSync()[0]).toBe(0);
    expect(tf.max(tf.abs(gs)).dataSync()[0]).toBeGreaterThan(0);
    expect(() => logitDistillationLoss(t, tf.zeros([2, 4]))).toThrow(/studentLogits \[2,4\] must equal teacherLogits \[2,5\]/);
    expect(() => logitDistillationLoss(t, s, { temperature: -1 })).toThrow(/temperature must be a finite number > 0, got -1/);
    expect(() => logitDistillationLoss(t, s, { mask: tf.ones([2, 5]) as tf.Tensor2D })).toThrow(/only for per-token logits/);
    tf.dispose([t, s, gt, gs]);
  });
});

describe('ground-truth losses', () => {
  test('vqaSoftTargetLoss = BCE with logits summed over answers, mean over batch', () => {
    const logits = tf.tensor2d([[2, -1, 0.5], [-3, 0, 4]]);
    const scores = tf.tensor2d([[1, 0, 0.3], [0, 0.6, 1]]);
    const x = logits.arraySync();
    const z = scores.arraySync();
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const expected = x.reduce((acc, row, b) => acc + row.reduce((a, v, k) => a - z[b][k] * Math.log(sig(v)) - (1 - z[b][k]) * Math.log(1 - sig(v)), 0), 0) / 2;
    expect(rel(vqaSoftTargetLoss(logits, scores).dataSync()[0], expected)).toBeLessThan(1e-5);
    expect(() => vqaSoftTargetLoss(logits, tf.zeros([2, 4]) as tf.Tensor2D)).toThrow(/scores \[2,4\] must equal logits \[2,3\]/);
    tf.dispose([logits, scores]);
  });

  test('lmCrossEntropyLoss excludes PAD targets by default', () => {
    const logits = tf.randomNormal([2, 3, 5], 0, 2, 'float32', 7) as tf.Tensor3D;
    const targets = tf.tensor2d([[4, 3, 0], [2, 0, 0]], undefined, 'int32');
    const l = logits.arraySync();
    const valid: [number, number, number][] = [[0, 0, 4], [0, 1, 3], [1, 0, 2]];
    const expected = valid.reduce((acc, [b, t, id]) => acc - logSoftmaxJs(l[b][t])[id], 0) / valid.length;
    const before = tf.memory().numTensors;
    const loss = lmCrossEntropyLoss(logits, targets);
    expect(tf.memory().numTensors).toBe(before + 1); // only the returned scalar survives
    expect(rel(loss.dataSync()[0], expected)).toBeLessThan(1e-5);
    const g = tf.grad((x: tf.Tensor) => lmCrossEntropyLoss(x as tf.Tensor3D, targets))(logits);
    expect(tf.sum(tf.abs(tf.slice(g, [1, 1, 0], [1, 2, 5]))).dataSync()[0]).toBe(0); // padded positions
    tf.dispose([logits, targets, loss, g]);
  });
});

describe('distillationObjective', () => {
  test('weights the parts; attention term is the mean over module pairs', () => {
    const gt = tf.scalar(2);
    const kd = tf.scalar(0.5);
    const attn = [tf.scalar(1), tf.scalar(3), tf.scalar(8)];
    const { total, parts } = distillationObjective({ gt, kd, attn }, { alphaGt: 1, alphaKd: 0.5, alphaAttn: 2 });
    expect(parts.attn.dataSync()[0]).toBeCloseTo(4, 6);
    expect(total.dataSync()[0]).toBeCloseTo(1 * 2 + 0.5 * 0.5 + 2 * 4, 5);
    const none = distillationObjective({ gt, kd, attn: [] }, { alphaGt: 1, alphaKd: 1, alphaAttn: 1 });
    expect(none.parts.attn.dataSync()[0]).toBe(0);
    expect(none.total.dataSync()[0]).toBeCloseTo(2.5, 6);
    expect(() => distillationObjective({ gt, kd, attn }, { alphaGt: -1, alphaKd: 1, alphaAttn: 1 })).toThrow(/alphaGt must be ≥ 0/);
    tf.dispose([gt, kd, ...attn, total, parts.attn, none.total, none.parts.attn]);
  });
});
