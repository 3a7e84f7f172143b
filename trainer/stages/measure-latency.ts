/**
 * Honest latency (issue 15 item 4): one quiet, serial pass per DISTINCT architecture, on every
 * inference runtime this process has (ONNX Runtime when it loads and the model has its export,
 * and TensorFlow.js), run by MergeEval — a single invocation after every evaluation has
 * finished, so nothing else of the run executes meanwhile.
 *
 *   - Per architecture, not per model: latency depends on the architecture (the config: widths,
 *     heads, layers, lengths), not on the weights, so the models of one architecture are timed
 *     once (on the first of them) and share the figure: two students of the same architecture
 *     report the same latency and speed-up by construction.
 *   - Interleaved: after `warmup` untimed calls of every measurement, each of the `runs` rounds
 *     times every (architecture, runtime, call) once. A slow drift of the machine (another
 *     tenant, thermal throttling) then shifts teacher and students alike, and their ratio — the
 *     speed-up — stays put; a per-model serial pass would charge the drift to whoever ran then.
 *   - Calls, host arrays in → host arrays out (what a server pays): batch 1 and batch 32 forward
 *     passes with dropout off (generation: teacher-forced over the full target length = one
 *     decoding step at the longest prefix); generation also a batch-1 decode of exactly
 *     maxTargetLength greedy steps (EOS ignored: the number of steps must not depend on weights),
 *     encoder once, decoder per step without a key/value cache.
 *   - Median (p50) with spread (p95, mean) over the runs.
 */
import { createHash } from 'node:crypto';
import { runLayout } from '../../contract/layout';
import type { JobSpec } from '../../contract/spec';
import { initBackend } from '../backend';
import type { Batch } from '../data/batch';
import { openDataset } from '../data/dataset';
import { latencyStats, type LatencyStats } from '../eval';
import type { EvalResult } from '../eval/result-schema';
import { describeRuntime, openInferenceModel, type InferenceModel } from '../inference/model';
import type { ModelConfig } from '../model/config';
import { loadModel, type LoadedModel } from '../model-io';
import { isOnnxTeacherModel } from '../onnx/onnx-evaluate';

/** Batch sizes of the latency measurement: one request, and a serving batch. */
export const LATENCY_BATCH_SIZES = [1, 32] as const;

export type LatencyResult = EvalResult['cost']['latency'];

export interface LatencyModelRef {
  readonly modelId: string;
  readonly modelUri: string;
}

export interface MeasureLatencyArgs {
  readonly runUri: string;
  readonly spec: JobSpec;
  /** Every model of the run to report latency for (in report order: the teacher first). */
  readonly models: readonly LatencyModelRef[];
  /** Runtimes to time. @default both ('onnxruntime' is skipped, with a note, when unavailable) */
  readonly runtimes?: readonly ('onnxruntime' | 'tfjs')[];
}

/**
 * The architecture a latency figure belongs to: a short hash of the model config without
 * `dropout` (training only). Equal keys ⇔ the same computation at inference.
 */
export function architectureKey(config: ModelConfig): string {
  const { dropout: _dropout, ...arch } = config;
  const canonical = JSON.stringify(arch, Object.keys(flatten(arch)).sort());
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

function flatten(o: object, prefix = '', out: Record<string, true> = {}): Record<string, true> {
  for (const [k, v] of Object.entries(o)) {
    out[k] = true;
    if (v && typeof v === 'object') flatten(v as object, `${prefix}${k}.`, out);
  }
  return out;
}

/** One timed call of one runtime of one architecture. */
interface Timer {
  readonly arch: string;
  readonly runtime: string;
  readonly call: 'batch1' | 'batch32' | 'decodeBatch1';
  readonly run: () => Promise<void>;
  readonly samples: number[];
}

/**
 * Measures every distinct architecture among `models` (see the module comment) and returns each
 * model's latency record. Models of one architecture get the same record. A teacher given as
 * ONNX is left out (no record): its cost is measured on its own ONNX model.
 */
export async function measureLatency(args: MeasureLatencyArgs): Promise<Record<string, LatencyResult>> {
  const backend = await initBackend();
  const { warmup, runs } = args.spec.evaluation.latency;
  const dataset = await openDataset(runLayout(args.runUri).data);
  const split = dataset.split(args.spec.evaluation.split);
  const [small, large] = LATENCY_BATCH_SIZES;
  const indices = Array.from({ length: large }, (_, i) => i % split.size); // real examples, repeated when the split is smaller
  const batch1 = await split.batch(indices.slice(0, small));
  const batch32 = await split.batch(indices);
  const generation = dataset.manifest.task !== 'vqa';
  const wanted = args.runtimes ?? ['onnxruntime', 'tfjs'];

  // Group by architecture; the first model of each is the one timed.
  const archOf = new Map<string, string>();
  const groups = new Map<string, { ref: LatencyModelRef; loaded: LoadedModel; runners: InferenceModel[] }>();
  try {
    // A teacher given as ONNX (no model.json) is timed by its own cost (trainer/onnx/onnx-evaluate.ts).
    for (const ref of args.models.filter((m) => !isOnnxTeacherModel(args.spec, m.modelId))) {
      const loaded = await loadModel(ref.modelUri);
      const arch = architectureKey(loaded.model.config);
      archOf.set(ref.modelId, arch);
      if (groups.has(arch)) {
        loaded.model.dispose();
        continue;
      }
      const runners: InferenceModel[] = [];
      if (wanted.includes('onnxruntime')) {
        // On this thread: the latency a serving process sees from session.run, without the session worker's hop.
        const r = await openInferenceModel(ref.modelUri, { loaded, pixelStats: dataset.manifest.pixelStats, sessionThread: 'caller' });
        if (r.runtime.name === 'onnxruntime') runners.push(r);
      }
      if (wanted.includes('tfjs')) runners.push(await openInferenceModel(ref.modelUri, { loaded, runtime: 'tfjs' }));
      groups.set(arch, { ref, loaded, runners });
    }

    const timers: Timer[] = [];
    for (const [arch, g] of groups) {
      for (const r of g.runners) {
        const runtime = describeRuntime(r.runtime);
        const add = (call: Timer['call'], run: () => Promise<void>) => timers.push({ arch, runtime, call, run, samples: [] });
        add('batch1', () => forwardOnce(r, batch1));
        add('batch32', () => forwardOnce(r, batch32));
        if (generation) add('decodeBatch1', () => fixedLengthDecode(r, batch1, g.loaded.model.config.maxTargetLength));
      }
    }
    for (const t of timers) for (let i = 0; i < warmup; i++) await t.run();
    for (let round = 0; round < runs; round++) {
      for (const t of timers) {
        const start = performance.now();
        await t.run();
        t.samples.push(performance.now() - start);
      }
    }

    const byArch = new Map<string, LatencyResult>();
    for (const [arch, g] of groups) {
      const mine = timers.filter((t) => t.arch === arch);
      const perRuntime = g.runners.map((r) => {
        const runtime = describeRuntime(r.runtime);
        const stats = (call: Timer['call']): LatencyStats | undefined => {
          const t = mine.find((x) => x.runtime === runtime && x.call === call);
          return t ? latencyStats(t.samples) : undefined;
        };
        const decode = stats('decodeBatch1');
        return { runtime, batch1: stats('batch1')!, batch32: stats('batch32')!, ...(decode ? { decodeBatch1: decode } : {}) };
      });
      const primary = perRuntime[0]!; // ONNX Runtime when it ran, else tfjs
      byArch.set(arch, {
        backend,
        runtime: primary.runtime,
        architecture: arch,
        measuredOn: g.ref.modelId,
        warmup,
        runs,
        batch1: primary.batch1,
        batch32: primary.batch32,
        ...(primary.decodeBatch1 ? { decodeBatch1: primary.decodeBatch1 } : {}),
        runtimes: perRuntime,
      });
    }
    return Object.fromEntries(args.models.filter((m) => archOf.has(m.modelId)).map((m) => [m.modelId, byArch.get(archOf.get(m.modelId)!)!]));
  } finally {
    for (const g of groups.values()) {
      for (const r of g.runners) await r.dispose();
      g.loaded.model.dispose();
    }
  }
}

/** One forward pass, inputs host → logits host. */
async function forwardOnce(r: InferenceModel, batch: Batch): Promise<void> {
  await r.forward(batch);
}

/** Encoder once, then exactly `steps` greedy decoder steps for one example (EOS does not stop it). */
async function fixedLengthDecode(r: InferenceModel, batch: Batch, steps: number): Promise<void> {
  const decoder = await r.stepDecoder(batch);
  try {
    const prefix: number[] = [];
    for (let t = 1; t <= steps; t++) {
      const c = await decoder.candidates({ rowExample: [0], rowPrefix: [prefix], t, k: 1 });
      prefix.push(c.tokens[0]!);
    }
  } finally {
    decoder.dispose();
  }
}
