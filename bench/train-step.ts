/**
 * Wall time of one training step (forward + backward + Adam) of the teacher (8 heads) and the
 * student (2 heads) at the reference shapes: width 128, 4 single-stream fusion layers, MLP 512,
 * 64 patches (32 px images, 4 px patches) + 16 text tokens, VQA head, batch 32, dropout on,
 * softmax cross-entropy on random data, on the active backend (AMAD_BACKEND picks it).
 *
 * Run: `npx tsx bench/run.ts train-step [--steps 10] [--warmup 3] [--batch 32] [--only teacher|student]`
 * Prints a table, then one JSON line per measurement. Timings are wall-clock medians after
 * warm-up; on a shared machine they are noisy — repeat and compare medians.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../trainer/backend';
import { VLModel, parseModelConfig, numPatches, type ModelConfig } from '../trainer/model';

const ArgsSchema = z.strictObject({
  steps: z.coerce.number().int().positive().default(10),
  warmup: z.coerce.number().int().nonnegative().default(3),
  batch: z.coerce.number().int().positive().default(32),
  only: z.enum(['teacher', 'student']).optional(),
});

/** Reference shapes (issue 2): shared by teacher and student, which differ only in heads. */
export const REFERENCE = {
  fusion: 'single-stream',
  imageSize: 32,
  patchSize: 4,
  width: 128,
  mlpWidth: 512,
  visionLayers: 0,
  fusionLayers: 4,
  maxTextLength: 16,
  vocabSize: 512,
  numAnswers: 64,
  dropout: 0.1,
} as const;

export interface TrainStepMeasurement {
  name: string;
  backend: string;
  batch: number;
  msPerStep: number;
  stepsPerSecond: number;
  /** Median process CPU time per step (user + system): less sensitive than wall time to other processes on a shared machine. */
  cpuMsPerStep: number;
  /** Fastest step's CPU time: the least disturbed by other processes. */
  minCpuMsPerStep: number;
  /**
   * Speed of a plain 2-D matMul ([2560,128]@[128,512], CPU time) measured in the same process
   * just before: a gauge of how contended the machine was (~27 GFLOP/s on an idle one, TFJS-NOTES.md).
   */
  matMulGflops: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Random images, text with 0–8 trailing PADs, random labels (fixed seeds). */
function randomBatch(c: ModelConfig, batch: number) {
  const text = new Int32Array(batch * c.maxTextLength);
  for (let b = 0; b < batch; b++) {
    const len = c.maxTextLength - (b % 9);
    for (let t = 0; t < len; t++) text[b * c.maxTextLength + t] = 4 + ((b * 31 + t * 17) % (c.vocabSize - 4));
  }
  const labels = Int32Array.from({ length: batch }, (_, b) => (b * 7) % c.numAnswers);
  return {
    images: tf.randomNormal([batch, c.imageSize, c.imageSize, 3], 0, 1, 'float32', 1) as tf.Tensor4D,
    text: tf.tensor2d(text, [batch, c.maxTextLength], 'int32'),
    labels: tf.oneHot(tf.tensor1d(labels, 'int32'), c.numAnswers),
  };
}

/** GFLOP/s of a 2-D matMul at the reference activation shape, from median CPU time. */
export function matMulGauge(reps = 20): number {
  const a = tf.randomNormal([2560, 128]) as tf.Tensor2D;
  const b = tf.randomNormal([128, 512]) as tf.Tensor2D;
  const times: number[] = [];
  for (let i = 0; i < reps + 2; i++) {
    const c0 = process.cpuUsage();
    tf.tidy(() => {
      tf.matMul(a, b);
    });
    const c = process.cpuUsage(c0);
    if (i >= 2) times.push((c.user + c.system) / 1000);
  }
  tf.dispose([a, b]);
  return (2 * 2560 * 128 * 512) / (median(times) * 1e6);
}

/** Median wall and CPU ms per training step of one model. */
export function measureTrainStep(
  config: ModelConfig,
  batch: number,
  steps: number,
  warmup: number,
  name: string,
): { wallMs: number; cpuMs: number; minCpuMs: number } {
  const model = new VLModel(config, { seed: 1, name });
  const data = randomBatch(config, batch);
  const optimizer = tf.train.adam(1e-3);
  const step = (i: number) =>
    tf.tidy(() => {
      optimizer.minimize(() => {
        const out = model.apply({ images: data.images, text: data.text }, { training: true, dropoutSeed: i });
        return tf.losses.softmaxCrossEntropy(data.labels, out.answerLogits!) as tf.Scalar;
      });
    });
  for (let i = 0; i < warmup; i++) step(i);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < steps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    step(warmup + i); // wasm and cpu kernels run synchronously: the step is done when this returns
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  optimizer.dispose();
  tf.dispose(data);
  model.dispose();
  return { wallMs: median(wall), cpuMs: median(cpu), minCpuMs: Math.min(...cpu) };
}

export async function run(argv: string[]): Promise<TrainStepMeasurement[]> {
  const { values } = parseArgs({ args: argv, options: { steps: { type: 'string' }, warmup: { type: 'string' }, batch: { type: 'string' }, only: { type: 'string' } } });
  const parsed = ArgsSchema.safeParse(values);
  if (!parsed.success) throw new Error(`train-step: bad arguments: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const args = parsed.data;
  const backend = await initBackend();
  const models = [
    { name: 'teacher-train-step', role: 'teacher', heads: 8 },
    { name: 'student-train-step', role: 'student', heads: 2 },
  ].filter((m) => !args.only || m.role === args.only);
  const results: TrainStepMeasurement[] = [];
  for (const m of models) {
    const config = parseModelConfig({ ...REFERENCE, heads: { vision: m.heads, fusion: m.heads, decoder: m.heads } });
    const gauge = matMulGauge();
    const { wallMs, cpuMs, minCpuMs } = measureTrainStep(config, args.batch, args.steps, args.warmup, `bench-${m.role}`);
    results.push({
      name: m.name,
      backend,
      batch: args.batch,
      msPerStep: +wallMs.toFixed(1),
      stepsPerSecond: +(1000 / wallMs).toFixed(3),
      cpuMsPerStep: +cpuMs.toFixed(1),
      minCpuMsPerStep: +minCpuMs.toFixed(1),
      matMulGflops: +gauge.toFixed(1),
    });
  }
  const c = parseModelConfig({ ...REFERENCE });
  process.stdout.write(
    `\nTraining step (forward + backward + Adam), width ${c.width}, ${c.fusionLayers} fusion layers, MLP ${c.mlpWidth}, ` +
      `${numPatches(c)} patches + ${c.maxTextLength} tokens, batch ${args.batch}, backend ${backend}, median of ${args.steps} after ${args.warmup} warm-up\n`,
  );
  process.stdout.write(`${'model'.padEnd(22)}${'ms/step'.padStart(10)}${'steps/s'.padStart(10)}${'cpu ms/step'.padStart(13)}${'min cpu ms'.padStart(12)}${'matMul GFLOP/s'.padStart(16)}\n`);
  for (const r of results) {
    process.stdout.write(
      `${r.name.padEnd(22)}${r.msPerStep.toFixed(1).padStart(10)}${r.stepsPerSecond.toFixed(2).padStart(10)}` +
        `${r.cpuMsPerStep.toFixed(1).padStart(13)}${r.minCpuMsPerStep.toFixed(1).padStart(12)}${r.matMulGflops.toFixed(1).padStart(16)}\n`,
    );
  }
  process.stdout.write('(ms/step is wall time; cpu ms/step is this process\'s CPU time; a matMul gauge well below ~27 GFLOP/s means a contended machine)\n');
  for (const r of results) process.stdout.write(JSON.stringify(r) + '\n');
  return results;
}
