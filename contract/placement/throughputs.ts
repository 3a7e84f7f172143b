/**
 * The throughput table (throughputs.json): what each backend does per second, each figure with
 * the command that measured it (or labelled an estimate). Model figures are stored as measured —
 * examples/s of a named model config — and turned into FLOP/s here with the same FLOP count the
 * planner uses for the work (trainer/eval/cost/flops.ts), so the two always agree.
 */
import { z } from 'zod';
import { flopsPerExample, type CostTask } from '../../trainer/eval/cost/flops';
import { parseModelConfig } from '../../trainer/model/config';
import DEFAULT_TABLE from './throughputs.json';

/** Forward + backward ≈ 3 × forward FLOPs (the backward pass is about twice the forward). */
export const TRAIN_FLOPS_FACTOR = 3;

const Provenance = {
  id: z.string().min(1),
  kind: z.enum(['measured', 'estimate']).describe('estimate = an assumption until measured'),
  raw: z.string().describe('the figure as the command printed it'),
  command: z.string().min(1),
  measuredAt: z.string().nullable(),
  machine: z.string(),
  source: z.string(),
};

const ModelRate = z.strictObject({
  ...Provenance,
  backend: z.string().min(1),
  work: z.enum(['forward', 'train']),
  examplesPerSecond: z.number().positive(),
  model: z.record(z.string(), z.unknown()),
  task: z.enum(['vqa', 'caption', 'translate']),
});
const FlopRate = z.strictObject({
  ...Provenance,
  backend: z.string().min(1),
  work: z.literal('any'),
  flopsPerSecond: z.number().positive(),
  /** Instance families this figure applies to (g5 → g5.xlarge, g5.2xlarge, …). */
  instanceTypes: z.array(z.string().min(1)).min(1),
});
const ImageRate = z.strictObject({ ...Provenance, backend: z.string().min(1), work: z.literal('prepare-image'), imagesPerSecond: z.number().positive() });
const IoRate = z.strictObject({ ...Provenance, backend: z.string().min(1), work: z.literal('io'), bytesPerSecond: z.number().positive() });

export const ThroughputEntrySchema = z.union([ModelRate, FlopRate, ImageRate, IoRate]);
export const ThroughputTableSchema = z.strictObject({ comment: z.string().optional(), entries: z.array(ThroughputEntrySchema).min(1) });
export type ThroughputEntry = z.infer<typeof ThroughputEntrySchema>;
export type ThroughputTable = z.infer<typeof ThroughputTableSchema>;

/** A rate the planner divides by, with where it came from. */
export interface Rate {
  readonly value: number;
  readonly entry: ThroughputEntry;
}

/** The rates the planner needs, resolved from a table. */
export interface Throughputs {
  /**
   * Forward FLOP/s of one model Lambda (the teacher cache, evaluation): ONNX Runtime's row when
   * the table has one — the model Lambdas run it (their bundles carry its arm64 binary; a
   * fallback to TensorFlow.js is logged and reported) — else one wasm thread's.
   */
  readonly cpuForwardFlops: Rate;
  /** One wasm thread: training FLOP/s (forward + backward, counted as 3 × forward). */
  readonly cpuTrainFlops: Rate;
  /** A GPU instance family → FLOP/s (tfjs-node-gpu). */
  gpuFlops(instanceType: string): Rate | undefined;
  /** Images decoded, resized and written per second by one preparation thread. */
  readonly prepareImages: Rate;
  /** Storage read/write bytes/s of one stream. */
  readonly io: Rate;
  readonly table: ThroughputTable;
}

/** Parses a throughput table. @throws Error naming the entry and field */
export function parseThroughputTable(raw: unknown, what = 'throughput table'): ThroughputTable {
  const r = ThroughputTableSchema.safeParse(raw);
  if (!r.success) throw new Error(`invalid ${what}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

function modelFlopsPerSecond(e: z.infer<typeof ModelRate>): number {
  const config = parseModelConfig(e.model, `throughput entry ${e.id} model`);
  const perExample = flopsPerExample(config, e.task as CostTask) * (e.work === 'train' ? TRAIN_FLOPS_FACTOR : 1);
  return e.examplesPerSecond * perExample;
}

/** Resolves the rates of a table. @throws Error naming the missing kind of entry */
export function resolveThroughputs(table: ThroughputTable = parseThroughputTable(DEFAULT_TABLE)): Throughputs {
  const find = <T extends ThroughputEntry>(pred: (e: ThroughputEntry) => e is T, what: string): T => {
    const e = table.entries.find(pred);
    if (!e) throw new Error(`the throughput table has no ${what} entry: add one (see contract/placement/throughputs.json)`);
    return e;
  };
  const isModelRate = (backend: string, work: 'forward' | 'train') => (e: ThroughputEntry): e is z.infer<typeof ModelRate> => 'examplesPerSecond' in e && e.backend === backend && e.work === work;
  const fwd = table.entries.find(isModelRate('onnxruntime', 'forward')) ?? find(isModelRate('wasm', 'forward'), 'onnxruntime or wasm forward');
  const train = find(isModelRate('wasm', 'train'), 'wasm train');
  const img = find((e): e is z.infer<typeof ImageRate> => e.work === 'prepare-image', 'prepare-image');
  const io = find((e): e is z.infer<typeof IoRate> => e.work === 'io', 'io');
  const gpus = table.entries.filter((e): e is z.infer<typeof FlopRate> => e.work === 'any');
  return {
    cpuForwardFlops: { value: modelFlopsPerSecond(fwd), entry: fwd },
    cpuTrainFlops: { value: modelFlopsPerSecond(train), entry: train },
    gpuFlops(instanceType) {
      const family = instanceType.split('.')[0];
      const e = gpus.find((g) => g.instanceTypes.includes(family) || g.instanceTypes.includes(instanceType));
      return e ? { value: e.flopsPerSecond, entry: e } : undefined;
    },
    prepareImages: { value: img.imagesPerSecond, entry: img },
    io: { value: io.bytesPerSecond, entry: io },
    table,
  };
}
