/**
 * Cost of the distillation machinery at the reference shapes (not a test; numbers are one
 * machine's and noisy on a shared one — repeat and compare medians):
 *
 *  1. teacher-cache bytes per example (teacher 8 heads, 4 mapped fusion layers, Q = K = 80 =
 *     64 patches + 16 tokens, 64 answer logits) for float32 and float16, from the files the
 *     writer actually produces, plus write/read throughput;
 *  2. wall time of one attention-loss forward + backward (d loss / d student maps) per module
 *     and variant, B = 32, Ht = 8, Hs ∈ {2, 4}.
 *
 * Run: `npx tsx bench/distill-overhead.ts [--batch 32] [--reps 5]` (AMAD_BACKEND picks the backend).
 * Prints one JSON line per measurement.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../trainer/backend';
import {
  attentionDistillationLoss,
  attentionFieldName,
  createProjection,
  TeacherCacheReader,
  TeacherCacheWriter,
  type AttentionVariant,
  type CacheDtype,
  type CacheField,
  type CachedLayer,
} from '../trainer/distill';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const print = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const HEADS = 8;
const Q = 64 + 16; // 64 patches + 16 text tokens (single-stream fusion)
const ANSWERS = 64;
const MAPPED_LAYERS: CachedLayer[] = [0, 1, 2, 3].map((teacherLayer) => ({ kind: 'fusionSelf', teacherLayer }));

async function benchCache(dtype: CacheDtype, examples: number): Promise<void> {
  const fields: CacheField[] = [
    ...MAPPED_LAYERS.map((l) => ({ name: attentionFieldName(l.kind, l.teacherLayer), shape: [HEADS, Q, Q] })),
    { name: 'logits', shape: [ANSWERS] },
  ];
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'amad-cache-bench-'));
  try {
    const identity = { teacherHash: 'bench-teacher', dataShardHash: 'bench-data', layers: MAPPED_LAYERS };
    const record: Record<string, Float32Array> = {};
    for (const f of fields) record[f.name] = Float32Array.from({ length: f.shape.reduce((a, b) => a * b, 1) }, (_, k) => ((k * 7919) % 1000) / 80000);
    const writer = new TeacherCacheWriter({ uri: dir, dtype, fields, ...identity });
    let t0 = performance.now();
    for (let i = 0; i < examples; i++) await writer.append(`ex-${i}`, record);
    const manifest = await writer.finish();
    const writeMs = performance.now() - t0;
    const files = await fs.readdir(dir);
    let shardBytes = 0;
    for (const f of files.filter((n) => n.endsWith('.bin'))) shardBytes += (await fs.stat(path.join(dir, f))).size;
    const manifestBytes = (await fs.stat(path.join(dir, 'manifest.json'))).size;
    const reader = await TeacherCacheReader.open(dir, identity);
    t0 = performance.now();
    let n = 0;
    for await (const _ of reader.records()) n++;
    const readMs = performance.now() - t0;
    print({
      bench: 'teacher-cache',
      dtype,
      examples: n,
      recordBytes: manifest.recordBytes,
      shardBytesPerExample: shardBytes / examples,
      totalBytesPerExample: (shardBytes + manifestBytes) / examples,
      writeMsPerExample: +(writeMs / examples).toFixed(3),
      readMsPerExample: +(readMs / examples).toFixed(3),
    });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function benchLoss(variant: AttentionVariant, B: number, Hs: number, reps: number, q = Q): void {
  const teacher = tf.softmax(tf.randomNormal([B, HEADS, q, q], 0, 2, 'float32', 1)) as tf.Tensor4D;
  const student = tf.softmax(tf.randomNormal([B, Hs, q, q], 0, 2, 'float32', 2)) as tf.Tensor4D;
  const projection = variant === 'projected' ? createProjection(`bench-${Hs}-${q}`, q * q) : undefined;
  const step = () =>
    tf.tidy(() => {
      const { value, grad } = tf.valueAndGrad((s: tf.Tensor) => attentionDistillationLoss(teacher, s as tf.Tensor4D, { variant, projection }))(student);
      value.dataSync();
      grad.dataSync();
    });
  step(); // warm-up (kernel compilation, allocation)
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  print({ bench: 'attention-loss fwd+bwd', backend: tf.getBackend(), variant, B, Ht: HEADS, Hs, Q: q, K: q, medianMs: +median(times).toFixed(1), minMs: +Math.min(...times).toFixed(1) });
  tf.dispose([teacher, student, ...(projection ? [projection.W, projection.b] : [])]);
}

async function main(): Promise<void> {
  await initBackend();
  const B = arg('batch', 32);
  const reps = arg('reps', 5);
  await benchCache('float32', 64);
  await benchCache('float16', 64);
  for (const Hs of [2, 4]) {
    for (const variant of ['kl', 'mse', 'token', 'one-to-one', 'mean-head'] as const) benchLoss(variant, B, Hs, reps);
  }
  benchLoss('projected', B, 2, reps, 64); // n = 64·64 = 4096, the largest allowed
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
