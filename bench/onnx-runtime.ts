/**
 * ONNX Runtime vs TensorFlow.js wasm in the inference stages, side by side in one run:
 *
 *   cache       CacheTeacherShard (trainer/stages/cache-teacher.ts) over one training shard:
 *               teacher forward + the mapped layers' attention maps + logits written (float16),
 *               examples/s;
 *   eval VQA    EvaluateShard of a VQA model over the test shard (teacher; at the demo shape also
 *               a student), examples/s;
 *   eval gen    EvaluateShard of a captioning model, greedy decoding (encoder once, decoder per
 *               token: encoder.onnx/decoder-with-past.onnx on ONNX Runtime), examples/s;
 *   forward     the forward passes alone (VQA): the model opened and its batches read first,
 *               one warm-up pass, then every batch — the teacher with the cached layers' maps
 *               over the cache's shard, each VQA model with its logits over the test shard —
 *               so the stage rows can be read against what the runtimes themselves differ by;
 *
 * at two shapes:
 *   reference   width 128, MLP 512, 4 fusion layers, 8 heads, 32 px images in 4 px patches (64
 *               patches) + 16 text tokens (T = 80), 64 answers (the training-step benchmark's),
 *               `--examples` examples per shard; generation: 2 vision + 2 decoder layers;
 *   demo        the demo's own stages (examples/demo-vqa.json): its teacher and student
 *               architectures, a training shard of its shardSize (1 500) for the cache and its
 *               test split (500) for evaluation; generation at the demo teacher's width.
 *
 * Each stage runs once per runtime on the same data and model files, alternating the runtimes'
 * order between repeats (`--repeats`, default 2) so neither always runs on a warmer machine;
 * the table shows each runtime's median, the examples per forward pass it used
 * (trainer/inference/batch-size.ts) and the ratio. Model load is included (as the stage pays
 * it). Run it on a quiet machine:
 *
 *     AMAD_BACKEND=wasm AMAD_ORT_THREADS=1 npx tsx bench/run.ts onnx-runtime --examples 256 --repeats 3
 *     npm run bench -- onnx-runtime --repeats 3 --shapes demo
 *
 * AMAD_ORT_THREADS sets ONNX Runtime's intra-op threads (default: every CPU but one); the wasm backend
 * is single-threaded under Node. Prints a table, then one JSON line per measurement. Export time
 * and file size: bench/onnx-export.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { runLayout, runUriFor } from '../contract/layout';
import { parseJobSpec, type JobSpec } from '../contract/spec';
import { joinUri, toUri } from '../contract/storage';
import { initBackend } from '../trainer/backend';
import { openDataset, type SplitReader } from '../trainer/data/dataset';
import { prepareData } from '../trainer/data/prepare';
import type { CachedLayer } from '../trainer/distill';
import { openInferenceModel, type OpenInferenceOptions } from '../trainer/inference/model';
import { fitConfigToData } from '../trainer/jobs/task';
import { VLModel } from '../trainer/model';
import type { ModelConfig, ModelConfigInput } from '../trainer/model/config';
import { saveModel } from '../trainer/model-io';
import { writeOnnxExport } from '../trainer/onnx/export-files';
import { loadOnnxRuntime, onnxThreads } from '../trainer/onnx/runtime';
import { cacheOneShard, cachedLayersForSpec } from '../trainer/stages/cache-teacher';
import { evaluateShard } from '../trainer/stages/evaluate';
import { findRepoRoot } from '../infra/repo-root';
import { median } from './stats';

type Runtime = 'onnxruntime' | 'tfjs';
type Task = 'vqa' | 'captioning';

interface Shape {
  /** Training examples cached (one shard) and test examples evaluated. */
  readonly train: number;
  readonly test: number;
  readonly data: Record<string, unknown>;
  /** Models evaluated per task; the first of the VQA list is the cached teacher. */
  readonly models: Record<Task, { name: string; arch: ModelConfigInput }[]>;
}

const REFERENCE_VQA = { width: 128, mlpWidth: 512, patchSize: 4, fusionLayers: 4, heads: { vision: 8, fusion: 8, decoder: 8 } };

function shapes(examples: number): Record<'reference' | 'demo', Shape> {
  const demo = JSON.parse(readFileSync(path.join(findRepoRoot(__dirname), 'examples', 'demo-vqa.json'), 'utf8')) as {
    data: { imageSize: number; maxTextLength: number; shardSize: number; test: number };
    teacher: { model: ModelConfigInput & { width: number } };
    students: { model: ModelConfigInput }[];
  };
  return {
    reference: {
      train: examples,
      test: examples,
      data: { imageSize: 32, maxTextLength: 16, maxTargetLength: 14, answerVocabSize: 64 },
      models: {
        vqa: [{ name: 'teacher', arch: REFERENCE_VQA }],
        captioning: [{ name: 'teacher', arch: { ...REFERENCE_VQA, visionLayers: 2, fusionLayers: 0, decoderLayers: 2 } }],
      },
    },
    demo: {
      train: demo.data.shardSize,
      test: demo.data.test,
      data: { imageSize: demo.data.imageSize, maxTextLength: demo.data.maxTextLength, maxTargetLength: 14 },
      models: {
        vqa: [
          { name: 'teacher', arch: demo.teacher.model },
          { name: 'student', arch: demo.students[0]!.model },
        ],
        captioning: [{ name: 'teacher', arch: { ...demo.teacher.model, visionLayers: 2, fusionLayers: 0, decoderLayers: 2 } }],
      },
    },
  };
}

interface Row {
  shape: string;
  stage: string;
  runtime: Runtime;
  batch: number;
  examplesPerSecond: number[];
}


export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { examples: { type: 'string', default: '256' }, repeats: { type: 'string', default: '2' }, shapes: { type: 'string', default: 'reference,demo' } } });
  const n = Number(values.examples);
  const repeats = Number(values.repeats);
  const all = shapes(n);
  const names = values.shapes.split(',') as (keyof typeof all)[];
  for (const s of names) if (!(s in all)) throw new Error(`--shapes: "${s}" is not one of ${Object.keys(all).join(', ')}`);
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(repeats) || repeats < 1) throw new Error('--examples and --repeats must be positive integers');
  const backend = await initBackend();
  const ort = loadOnnxRuntime();
  if (!ort.available) throw new Error(`ONNX Runtime is not available here (${ort.reason}): this benchmark compares it with ${backend}`);
  if (backend !== 'wasm') process.stderr.write(`note: the tfjs backend is ${backend}, not wasm (AMAD_BACKEND=wasm compares with the Lambda's)\n`);
  const threads = onnxThreads();
  const root = mkdtempSync(path.join(tmpdir(), 'bench-onnx-runtime-'));
  const rows: Row[] = [];
  const record = (shape: string, stage: string, runtime: Runtime, batch: number, eps: number) => {
    let row = rows.find((r) => r.shape === shape && r.stage === stage && r.runtime === runtime);
    if (!row) rows.push((row = { shape, stage, runtime, batch, examplesPerSecond: [] }));
    row.examplesPerSecond.push(eps);
  };
  const order = (i: number): Runtime[] => (i % 2 === 0 ? ['onnxruntime', 'tfjs'] : ['tfjs', 'onnxruntime']);
  /** Examples/s of `runtime`'s forward passes alone over every example of `split` (batches read first, one warm-up pass). */
  const forwardOnly = async (modelUri: string, runtime: Runtime, split: SplitReader, pixelStats: OpenInferenceOptions['pixelStats'], layersOf: (config: ModelConfig) => CachedLayer[]) => {
    const r = await openInferenceModel(modelUri, { runtime, pixelStats });
    try {
      const batches = [];
      for (let s = 0; s < split.size; s += r.batchSize) batches.push(await split.batch(Array.from({ length: Math.min(r.batchSize, split.size - s) }, (_, k) => s + k)));
      const want = layersOf(r.info.metadata.config);
      await r.forward(batches[0]!, want);
      const t0 = performance.now();
      for (const b of batches) await r.forward(b, want);
      return { eps: split.size / ((performance.now() - t0) / 1000), batch: r.batchSize };
    } finally {
      await r.dispose();
    }
  };
  try {
    for (const shapeName of names) {
      const shape = all[shapeName];
      for (const task of ['vqa', 'captioning'] as const) {
        const runUri = runUriFor(toUri(root), `${shapeName}-${task}`);
        const layout = runLayout(runUri);
        await prepareData({ format: 'synthetic', task, seed: 1, train: shape.train, val: 8, test: shape.test, shardSize: Math.max(shape.train, shape.test), ...shape.data }, layout.data);
        const data = await openDataset(layout.data);
        const meta = { task, tokenizer: data.tokenizer.toJSON(), answers: data.answerVocab, pixelStats: data.manifest.pixelStats, provenance: {} };
        const models = [];
        for (const [k, m] of shape.models[task].entries()) {
          const modelUri = k === 0 ? layout.teacherModel : layout.studentModel(m.name, 0);
          const model = new VLModel(fitConfigToData(m.arch, data.manifest, data.tokenizer.vocabSize, `bench ${m.name}`), { seed: 1 + k, name: `bench-${shapeName}-${task}-${m.name}` });
          await saveModel(modelUri, model, meta);
          await writeOnnxExport(model, meta, joinUri(modelUri, 'model.onnx'));
          model.dispose();
          models.push({ ...m, modelUri });
        }
        const teacher = models[0]!;
        const spec: JobSpec = parseJobSpec({
          version: 1,
          data: { format: 'synthetic', task },
          teacher: { checkpoint: teacher.modelUri },
          // A student whose uniform map covers the teacher's layers: the cache holds them all.
          students: [{ name: 's', model: task === 'vqa' ? { ...REFERENCE_VQA, heads: { vision: 2, fusion: 2, decoder: 2 } } : { ...REFERENCE_VQA, visionLayers: 2, fusionLayers: 0, decoderLayers: 2 }, distill: { variant: 'kl' } }],
          cache: { enabled: true, dtype: 'float16' },
        });
        const train = data.split('train');
        const test = data.split('test');
        // The examples per forward pass each runtime's stage uses (as the stages choose them).
        const batchOf = async (modelUri: string, runtime: Runtime) => {
          const r = await openInferenceModel(modelUri, { runtime });
          await r.dispose();
          return r.batchSize;
        };
        for (let i = 0; i < repeats; i++) {
          for (const runtime of order(i)) {
            if (task === 'vqa') {
              const c0 = performance.now();
              await cacheOneShard({ spec, dataUri: layout.data, teacherUri: teacher.modelUri, shardUri: train.shardUri(0), cacheDir: joinUri(runUri, `cache-${runtime}-${i}`), runtime });
              record(shapeName, 'cache (float16)', runtime, await batchOf(teacher.modelUri, runtime), train.size / ((performance.now() - c0) / 1000));
            }
            for (const m of models) {
              const e0 = performance.now();
              await evaluateShard({ runUri, spec, model: { modelId: m.name, modelUri: m.modelUri, stage: null }, shardUri: test.shardUri(0), shardIndex: 0, outUri: layout.evalPart(`${m.name}-${runtime}-${i}`, 0), runtime });
              const stage = task === 'vqa' ? `evaluate VQA ${m.name}` : 'evaluate captioning (greedy)';
              record(shapeName, stage, runtime, await batchOf(m.modelUri, runtime), test.size / ((performance.now() - e0) / 1000));
            }
            if (task === 'vqa') {
              const stats = data.manifest.pixelStats;
              const maps = await forwardOnly(teacher.modelUri, runtime, train, stats, (config) => cachedLayersForSpec(spec, config, data));
              record(shapeName, 'forward only: cache teacher (maps)', runtime, maps.batch, maps.eps);
              for (const m of models) {
                const f = await forwardOnly(m.modelUri, runtime, test, stats, () => []);
                record(shapeName, `forward only: VQA ${m.name}`, runtime, f.batch, f.eps);
              }
            }
          }
        }
      }
    }
    console.log(`ONNX Runtime ${ort.version} with ${threads} intra-op thread(s) vs tfjs ${backend}; median of ${repeats} run(s), runtimes alternating first`);
    const table = [...new Set(rows.map((r) => `${r.shape}\u0000${r.stage}`))].map((key) => {
      const [shape, stage] = key.split('\u0000') as [string, string];
      const of = (rt: Runtime) => rows.find((r) => r.shape === shape && r.stage === stage && r.runtime === rt)!;
      const [o, t] = [of('onnxruntime'), of('tfjs')];
      return {
        shape,
        stage,
        examples: /cache/.test(stage) ? all[shape as keyof typeof all].train : all[shape as keyof typeof all].test,
        'onnxruntime ex/s (batch)': `${median(o.examplesPerSecond).toFixed(1)} (${o.batch})`,
        [`tfjs-${backend} ex/s (batch)`]: `${median(t.examplesPerSecond).toFixed(1)} (${t.batch})`,
        speedup: `${(median(o.examplesPerSecond) / median(t.examplesPerSecond)).toFixed(2)}×`,
      };
    });
    console.table(table);
    for (const r of rows) {
      console.log(JSON.stringify({ name: 'onnx-runtime', shape: r.shape, stage: r.stage, runtime: r.runtime === 'tfjs' ? `tfjs-${backend}` : `onnxruntime ${ort.version}`, threads: r.runtime === 'tfjs' ? 1 : threads, batch: r.batch, examplesPerSecond: r.examplesPerSecond.map((x) => +x.toFixed(1)) }));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
