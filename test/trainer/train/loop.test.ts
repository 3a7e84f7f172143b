import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../../trainer/backend';
import type { Batch } from '../../../trainer/data/batch';
import { getLr } from '../../../trainer/train/schedule';
import { StepSampler } from '../../../trainer/train/sampler';
import { AdamW, clipByGlobalNorm } from '../../../trainer/train/adamw';
import { NamedVariable, NonFiniteLossError, TrainingInterrupted, trainLoop, TrainLoopOptions } from '../../../trainer/train/loop';
import { storageFor, toUri } from '../../../contract/storage';

beforeAll(async () => {
  await initBackend();
});

describe('getLr', () => {
  const s = { lr: 1e-3, warmupSteps: 10, totalSteps: 110, minLrRatio: 0.1 };
  test('warms up linearly, peaks, decays by cosine to the floor', () => {
    expect(getLr(0, s)).toBeCloseTo(1e-4, 12);
    expect(getLr(9, s)).toBeCloseTo(1e-3, 12);
    expect(getLr(10, s)).toBeCloseTo(1e-3, 12);
    expect(getLr(60, s)).toBeCloseTo(1e-4 + 0.5 * 0.9e-3, 12); // half-way: mid of cosine
    expect(getLr(110, s)).toBeCloseTo(1e-4, 12);
    expect(getLr(500, s)).toBeCloseTo(1e-4, 12);
  });
});

describe('StepSampler', () => {
  test('each epoch is a permutation, the order depends on the seed only', () => {
    const a = new StepSampler(10, 5, 7);
    const epoch0 = [...a.indices(0), ...a.indices(1)];
    expect([...epoch0].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new StepSampler(10, 5, 7).indices(3)).toEqual(a.indices(3));
    expect(new StepSampler(10, 5, 8).indices(0)).not.toEqual(a.indices(0));
  });
  test('rejects an empty split', () => {
    expect(() => new StepSampler(0, 4, 1)).toThrow(/empty/);
  });
});

describe('AdamW', () => {
  test('first step moves each weight by lr·sign(g) (bias-corrected Adam), decays matrices only', () => {
    const w = tf.variable(tf.tensor2d([[1, -2]]), true, 'adamw-test-w');
    const b = tf.variable(tf.tensor1d([3]), true, 'adamw-test-b');
    const opt = new AdamW([w, b], { weightDecay: 0.5 });
    opt.apply([tf.tensor2d([[0.2, -4]]), tf.tensor1d([1])], 0.1);
    // m̂/√v̂ = sign(g) on step 1; decay adds lr·λ·w to matrices.
    expect(Array.from(w.dataSync())).toEqual([expect.closeTo(1 - 0.1 - 0.05, 5), expect.closeTo(-2 + 0.1 + 0.1, 5)]);
    expect(b.dataSync()[0]).toBeCloseTo(3 - 0.1, 5);
    opt.dispose();
    w.dispose();
    b.dispose();
  });
  test('clipByGlobalNorm scales to the max norm and reports the norm before clipping', () => {
    const { grads, norm } = clipByGlobalNorm([tf.tensor1d([3]), tf.tensor1d([4])], 1);
    expect(norm).toBeCloseTo(5, 5);
    expect(grads[0].dataSync()[0]).toBeCloseTo(0.6, 4);
    expect(grads[1].dataSync()[0]).toBeCloseTo(0.8, 4);
  });
});

/** A tiny regression problem: y = x·[2, -1] + 0.5, learned by a linear model. */
function linearProblem(prefix: string) {
  const w = tf.variable(tf.zeros([2, 1]), true, `${prefix}-w`);
  const b = tf.variable(tf.zeros([1]), true, `${prefix}-b`);
  const params: NamedVariable[] = [
    { name: 'w', tensor: w },
    { name: 'b', tensor: b },
  ];
  const xs = Array.from({ length: 64 }, (_, i) => [Math.sin(i), Math.cos(3 * i)]);
  const sampler = new StepSampler(xs.length, 8, 3);
  const batchForStep = (step: number): Batch => {
    const idx = sampler.indices(step);
    return { size: idx.length, ids: idx.map(String), images: new Float32Array(idx.flatMap((i) => xs[i])), text: new Int32Array(idx) };
  };
  const loss = (batch: Batch) => {
    const x = tf.tensor2d(batch.images, [batch.size, 2]);
    const target = x.matMul(tf.tensor2d([[2], [-1]])).add(0.5);
    const mse = x.matMul(w).add(b).sub(target).square().mean() as tf.Scalar;
    return { total: mse, parts: { mse } };
  };
  return { params, batchForStep, loss, dispose: () => params.forEach((p) => p.tensor.dispose()) };
}

const base = (p: ReturnType<typeof linearProblem>, dir: string): TrainLoopOptions => ({
  params: p.params,
  steps: 40,
  lr: 0.05,
  warmupSteps: 5,
  weightDecay: 0,
  clipNorm: 1,
  seed: 3,
  batchForStep: p.batchForStep,
  loss: p.loss,
  checkpointDir: toUri(path.join(dir, 'ckpt')),
  checkpointEvery: 10,
  fingerprint: 'linear',
  logUri: toUri(path.join(dir, 'train-log.jsonl')),
});

describe('trainLoop', () => {
  test('learns, writes a log line per step, and leaves no tensors behind', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'loop-'));
    const p = linearProblem('learn');
    const before = tf.memory().numTensors;
    const r = await trainLoop({ ...base(p, dir), steps: 200 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.finalLoss).toBeLessThan(0.01);
    const lines = (await storageFor(dir).get(path.join(dir, 'train-log.jsonl'))).toString().trim().split('\n');
    expect(lines).toHaveLength(200);
    expect(JSON.parse(lines[0])).toEqual(expect.objectContaining({ step: 1, lr: expect.any(Number), 'loss.mse': expect.any(Number) }));
    p.dispose();
  });

  test('interrupt → resume gives bit-identical weights to an uninterrupted run', async () => {
    const straightDir = mkdtempSync(path.join(tmpdir(), 'loop-'));
    const straight = linearProblem('straight');
    await trainLoop(base(straight, straightDir));

    const dir = mkdtempSync(path.join(tmpdir(), 'loop-'));
    const first = linearProblem('first');
    let calls = 0;
    await expect(trainLoop({ ...base(first, dir), shouldStop: () => ++calls > 17 })).rejects.toBeInstanceOf(TrainingInterrupted);
    first.dispose();
    const second = linearProblem('second'); // fresh weights: everything must come from the checkpoint
    const r = await trainLoop(base(second, dir));
    expect(r.resumedFrom).toBe(17);
    for (let i = 0; i < 2; i++) {
      expect(Array.from(second.params[i].tensor.dataSync())).toEqual(Array.from(straight.params[i].tensor.dataSync()));
    }
    const log = (await storageFor(dir).get(path.join(dir, 'train-log.jsonl'))).toString().trim().split('\n');
    expect(log.map((l) => JSON.parse(l).step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    straight.dispose();
    second.dispose();
  });

  test('a NaN loss stops with an error naming the step, before the update', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'loop-'));
    const p = linearProblem('nan');
    const loss: TrainLoopOptions['loss'] = (batch, step) => {
      const out = p.loss(batch);
      return step === 6 ? { total: out.total.mul(NaN) as tf.Scalar, parts: out.parts } : out;
    };
    const err = await trainLoop({ ...base(p, dir), loss }).catch((e) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect(err.message).toMatch(/step 6/);
    expect(Number.isFinite(p.params[0].tensor.dataSync()[0])).toBe(true);
    p.dispose();
  });

  test('refuses a checkpoint written for another run', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'loop-'));
    const a = linearProblem('fa');
    await trainLoop({ ...base(a, dir), steps: 10 });
    const b = linearProblem('fb');
    await expect(trainLoop({ ...base(b, dir), fingerprint: 'other' })).rejects.toThrow(/another run/);
    a.dispose();
    b.dispose();
  });
});
