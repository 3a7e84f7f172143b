/**
 * Cost of the distillation machinery at the reference shapes (not a test; numbers are one
 * machine's and noisy on a shared one — repeat and compare medians, and prefer cpuMsPerStep,
 * the process CPU time, which other processes disturb less than wall time):
 *
 *  1. teacher-cache bytes per example (teacher 8 heads, 4 mapped fusion layers, Q = K = 80 =
 *     64 patches + 16 tokens, 64 answer logits) for float32 and float16, from the files the
 *     writer actually produces, plus write/read throughput;
 *  2. wall time of one attention-loss forward + backward (d loss / d student maps, and / d W, b
 *     of the projection for 'projected') per module
 *     and variant, B = 32, Ht = 8, Hs ∈ {2, 4}: the current implementation and, interleaved
 *     rep by rep so that both see the same machine load, the op-by-op reference it replaced
 *     (test/trainer/distill/reference-attention-loss.ts; same results to float32 rounding).
 *
 * Run: `npx tsx bench/distill-overhead.ts [--batch 32] [--reps 5] [--warmup 1] [--no-reference]
 *   [--no-cache] [--zero-copy-identity] [--variants kl,mse]` (or `npx tsx bench/run.ts distill-overhead …`;
 *   AMAD_BACKEND picks the backend). `--zero-copy-identity` installs trainer/ops' buffer-sharing
 *   Identity first, as the student model does in a real training step: then tf's saved-for-
 *   gradient copies cost nothing, which mostly helps the reference.
 * Prints one JSON line per measurement; loss lines are
 * `{"name":"attn-loss-<variant>-hs<Hs>[-reference]","backend","msPerStep",…}`.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../trainer/backend';
import {
  ATTENTION_VARIANTS,
  attentionDistillationLoss,
  attentionFieldName,
  createProjection,
  TeacherCacheReader,
  TeacherCacheWriter,
  type AttentionLossOptions,
  type AttentionVariant,
  type CacheDtype,
  type CacheField,
  type CachedLayer,
} from '../trainer/distill';
import { installZeroCopyIdentity } from '../trainer/ops/wasm-kernels';
import { referenceAttentionLoss } from '../test/trainer/distill/reference-attention-loss';

const ArgsSchema = z.strictObject({
  batch: z.coerce.number().int().positive().default(32),
  reps: z.coerce.number().int().positive().default(5),
  warmup: z.coerce.number().int().nonnegative().default(1),
  'no-reference': z.boolean().default(false),
  'no-cache': z.boolean().default(false),
  'zero-copy-identity': z.boolean().default(false),
  /** Comma-separated subset of the variants to time. @default all */
  variants: z
    .string()
    .transform((v) => v.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(ATTENTION_VARIANTS)))
    .optional(),
});

const print = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const round = (x: number) => +x.toFixed(1);

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

type LossFn = (teacher: tf.Tensor4D, student: tf.Tensor4D, options: AttentionLossOptions) => tf.Scalar;

export interface LossMeasurement {
  /** `attn-loss-<variant>-hs<Hs>`, plus `-reference` for the op-by-op implementation. */
  name: string;
  backend: string;
  impl: 'current' | 'reference';
  variant: AttentionVariant;
  B: number;
  Ht: number;
  Hs: number;
  Q: number;
  /** Median wall ms of one forward + backward. */
  msPerStep: number;
  minMs: number;
  /** Median process CPU ms (user + system) of one forward + backward. */
  cpuMsPerStep: number;
  identity: 'stock' | 'zero-copy';
}

/**
 * Times forward + backward of each implementation on the same seeded maps, alternating the
 * implementations within every rep.
 */
function benchLoss(
  variant: AttentionVariant,
  B: number,
  Hs: number,
  q: number,
  impls: readonly { impl: 'current' | 'reference'; fn: LossFn }[],
  reps: number,
  warmup: number,
  identity: 'stock' | 'zero-copy',
): LossMeasurement[] {
  const teacher = tf.softmax(tf.randomNormal([B, HEADS, q, q], 0, 2, 'float32', 1)) as tf.Tensor4D;
  const student = tf.softmax(tf.randomNormal([B, Hs, q, q], 0, 2, 'float32', 2)) as tf.Tensor4D;
  const projection = variant === 'projected' ? createProjection(`bench-${Hs}-${q}`, q * q) : undefined;
  // Gradients w.r.t. the student maps and, for 'projected', its trained W and b (as in training).
  const xs: tf.Tensor[] = [student, ...(projection ? [projection.W, projection.b] : [])];
  const step = (fn: LossFn) =>
    tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads((s: tf.Tensor) => fn(teacher, s as tf.Tensor4D, { variant, projection }))(xs);
      value.dataSync();
      for (const g of grads) g.dataSync();
    });
  const wall = impls.map(() => [] as number[]);
  const cpu = impls.map(() => [] as number[]);
  for (let r = 0; r < warmup + reps; r++) {
    impls.forEach(({ fn }, k) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      step(fn); // wasm and cpu kernels run synchronously: the step is done when this returns
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (r >= warmup) {
        wall[k].push(ms);
        cpu[k].push((c.user + c.system) / 1000);
      }
    });
  }
  tf.dispose([teacher, student, ...(projection ? [projection.W, projection.b] : [])]);
  return impls.map(({ impl }, k) => ({
    name: `attn-loss-${variant}-hs${Hs}${impl === 'reference' ? '-reference' : ''}`,
    backend: tf.getBackend(),
    impl,
    variant,
    B,
    Ht: HEADS,
    Hs,
    Q: q,
    msPerStep: round(median(wall[k])),
    minMs: round(Math.min(...wall[k])),
    cpuMsPerStep: round(median(cpu[k])),
    identity,
  }));
}

export async function run(argv: string[]): Promise<LossMeasurement[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      batch: { type: 'string' },
      reps: { type: 'string' },
      warmup: { type: 'string' },
      'no-reference': { type: 'boolean' },
      'no-cache': { type: 'boolean' },
      'zero-copy-identity': { type: 'boolean' },
      variants: { type: 'string' },
    },
  });
  const parsed = ArgsSchema.safeParse(values);
  if (!parsed.success) throw new Error(`distill-overhead: bad arguments: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const args = parsed.data;
  await initBackend();
  const identity = args['zero-copy-identity'] ? 'zero-copy' : 'stock';
  if (identity === 'zero-copy') installZeroCopyIdentity();
  if (!args['no-cache']) {
    await benchCache('float32', 64);
    await benchCache('float16', 64);
  }
  const impls = [
    { impl: 'current' as const, fn: attentionDistillationLoss },
    ...(args['no-reference'] ? [] : [{ impl: 'reference' as const, fn: referenceAttentionLoss }]),
  ];
  const results: LossMeasurement[] = [];
  const measure = (variant: AttentionVariant, Hs: number, q = Q) => {
    if (args.variants && !args.variants.includes(variant)) return;
    for (const m of benchLoss(variant, args.batch, Hs, q, impls, args.reps, args.warmup, identity)) {
      print(m);
      results.push(m);
    }
  };
  for (const Hs of [2, 4]) {
    for (const variant of ['kl', 'mse', 'token', 'one-to-one', 'mean-head'] as const) measure(variant, Hs);
  }
  measure('projected', 2, 64); // n = 64·64 = 4096, the largest allowed
  return results;
}

if (require.main === module) {
  run(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
