/**
 * ONNX Runtime vs TensorFlow.js wasm in the inference stages, side by side in one run:
 *
 *   cache       CacheTeacherShard (trainer/stages/cache-teacher.ts) over one training shard:
 *               teacher forward + the mapped layers' attention maps + logits written (float16),
 *               examples/s;
 *   eval-vqa    EvaluateShard of a VQA model over one test shard (one forward per batch of 32),
 *               examples/s;
 *   eval-gen    EvaluateShard of a captioning model, greedy decoding (encoder once, decoder per
 *               token: encoder.onnx/decoder.onnx on ONNX Runtime), examples/s;
 *   export      `model.onnx` (+ encoder/decoder.onnx) build-and-write time and file size.
 *
 * at two shapes:
 *   reference   width 128, MLP 512, 4 fusion layers, 8 heads, 32 px images in 4 px patches (64
 *               patches) + 16 text tokens (T = 80), 64 answers (the training-step benchmark's);
 *               generation: 2 vision + 2 decoder layers at the same width;
 *   demo        width 64, MLP 256, patch 8, 2 fusion layers, 8 heads (examples/demo-vqa.json's
 *               teacher; generation as bench/eval-throughput.ts).
 *
 * Each stage runs once per runtime on the same data and model files, alternating the runtimes'
 * order between repeats (`--repeats`, default 2) so neither always runs on a warmer machine;
 * the table shows each runtime's median and the ratio. Model load is included (as the stage
 * pays it). Run it on a quiet machine:
 *
 *     AMAD_ORT_THREADS=1 npx tsx bench/run.ts onnx-runtime --examples 256 --repeats 3
 *     npm run bench -- onnx-runtime --examples 256 --repeats 3 --shapes demo
 *
 * AMAD_ORT_THREADS sets ONNX Runtime's intra-op threads (default: every CPU); the wasm backend
 * is single-threaded under Node. Prints a table, then one JSON line per measurement.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { runLayout, runUriFor } from '../contract/layout';
import { parseJobSpec, type JobSpec } from '../contract/spec';
import { joinUri, toUri } from '../contract/storage';
import { initBackend } from '../trainer/backend';
import { openDataset } from '../trainer/data/dataset';
import { prepareData } from '../trainer/data/prepare';
import { fitConfigToData } from '../trainer/jobs/task';
import { VLModel } from '../trainer/model';
import { saveModel } from '../trainer/model-io';
import { writeOnnxExport } from '../trainer/onnx/export-files';
import { loadOnnxRuntime, onnxThreads } from '../trainer/onnx/runtime';
import { cacheOneShard } from '../trainer/stages/cache-teacher';
import { evaluateShard } from '../trainer/stages/evaluate';

type Runtime = 'onnxruntime' | 'tfjs';

const SHAPES = {
  reference: {
    vqa: { width: 128, mlpWidth: 512, patchSize: 4, fusionLayers: 4, heads: { vision: 8, fusion: 8, decoder: 8 } },
    captioning: { width: 128, mlpWidth: 512, patchSize: 4, visionLayers: 2, fusionLayers: 0, decoderLayers: 2, heads: { vision: 8, fusion: 8, decoder: 8 } },
    data: { imageSize: 32, maxTextLength: 16, maxTargetLength: 14, answerVocabSize: 64 },
    student: { width: 128, mlpWidth: 512, patchSize: 4, fusionLayers: 4, heads: { vision: 2, fusion: 2, decoder: 2 } },
  },
  demo: {
    vqa: { width: 64, mlpWidth: 256, patchSize: 8, fusionLayers: 2, heads: { vision: 8, fusion: 8, decoder: 8 } },
    captioning: { width: 64, mlpWidth: 256, patchSize: 8, visionLayers: 2, fusionLayers: 0, decoderLayers: 2, heads: { vision: 8, fusion: 8, decoder: 8 } },
    data: { imageSize: 32, maxTextLength: 12, maxTargetLength: 14 },
    student: { width: 32, mlpWidth: 128, patchSize: 8, fusionLayers: 2, heads: { vision: 2, fusion: 2, decoder: 2 } },
  },
} as const;

interface Row {
  shape: string;
  stage: string;
  runtime: Runtime;
  examplesPerSecond: number[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { examples: { type: 'string', default: '256' }, repeats: { type: 'string', default: '2' }, shapes: { type: 'string', default: 'reference,demo' } } });
  const n = Number(values.examples);
  const repeats = Number(values.repeats);
  const shapes = values.shapes.split(',') as (keyof typeof SHAPES)[];
  for (const s of shapes) if (!(s in SHAPES)) throw new Error(`--shapes: "${s}" is not one of ${Object.keys(SHAPES).join(', ')}`);
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(repeats) || repeats < 1) throw new Error('--examples and --repeats must be positive integers');
  const backend = await initBackend();
  const ort = loadOnnxRuntime();
  if (!ort.available) throw new Error(`ONNX Runtime is not available here (${ort.reason}): this benchmark compares it with ${backend}`);
  if (backend !== 'wasm') process.stderr.write(`note: the tfjs backend is ${backend}, not wasm (AMAD_BACKEND=wasm compares with the Lambda's)\n`);
  const threads = onnxThreads();
  const root = mkdtempSync(path.join(tmpdir(), 'bench-onnx-runtime-'));
  const rows: Row[] = [];
  const exports: { shape: string; task: string; seconds: number; modelBytes: number }[] = [];
  const record = (shape: string, stage: string, runtime: Runtime, eps: number) => {
    let row = rows.find((r) => r.shape === shape && r.stage === stage && r.runtime === runtime);
    if (!row) rows.push((row = { shape, stage, runtime, examplesPerSecond: [] }));
    row.examplesPerSecond.push(eps);
  };
  const order = (i: number): Runtime[] => (i % 2 === 0 ? ['onnxruntime', 'tfjs'] : ['tfjs', 'onnxruntime']);
  try {
    for (const shapeName of shapes) {
      const shape = SHAPES[shapeName];
      for (const task of ['vqa', 'captioning'] as const) {
        const runUri = runUriFor(toUri(root), `${shapeName}-${task}`);
        const layout = runLayout(runUri);
        await prepareData({ format: 'synthetic', task, seed: 1, train: n, val: 8, test: n, shardSize: n, ...shape.data }, layout.data);
        const data = await openDataset(layout.data);
        const arch = shape[task];
        const config = fitConfigToData(arch, data.manifest, data.tokenizer.vocabSize, 'bench model');
        const model = new VLModel(config, { seed: 1, name: `bench-${shapeName}-${task}` });
        const meta = { task, tokenizer: data.tokenizer.toJSON(), answers: data.answerVocab, pixelStats: data.manifest.pixelStats, provenance: {} };
        await saveModel(layout.teacherModel, model, meta);
        const t0 = performance.now();
        const written = await writeOnnxExport(model, meta, joinUri(layout.teacherModel, 'model.onnx'));
        exports.push({ shape: shapeName, task, seconds: (performance.now() - t0) / 1000, modelBytes: written.modelBytes });
        model.dispose();
        const spec: JobSpec = parseJobSpec({
          version: 1,
          data: { format: 'synthetic', task },
          teacher: { checkpoint: layout.teacherModel },
          // A student whose uniform map covers the teacher's layers: the cache holds them all.
          students: [{ name: 's', model: task === 'vqa' ? shape.student : { ...shape.student, visionLayers: 2, fusionLayers: 0, decoderLayers: 2 }, distill: { variant: 'kl' } }],
          cache: { enabled: true, dtype: 'float16' },
        });
        const train = data.split('train');
        const test = data.split('test');
        for (let i = 0; i < repeats; i++) {
          for (const runtime of order(i)) {
            if (task === 'vqa') {
              const c0 = performance.now();
              await cacheOneShard({ spec, dataUri: layout.data, teacherUri: layout.teacherModel, shardUri: train.shardUri(0), cacheDir: joinUri(runUri, `cache-${runtime}-${i}`), runtime });
              record(shapeName, 'cache (float16)', runtime, train.size / ((performance.now() - c0) / 1000));
            }
            const e0 = performance.now();
            await evaluateShard({ runUri, spec, model: { modelId: 'teacher', modelUri: layout.teacherModel, stage: null }, shardUri: test.shardUri(0), shardIndex: 0, outUri: layout.evalPart(`teacher-${runtime}-${i}`, 0), runtime });
            record(shapeName, task === 'vqa' ? 'evaluate VQA' : 'evaluate captioning (greedy)', runtime, test.size / ((performance.now() - e0) / 1000));
          }
        }
      }
    }
    console.log(`ONNX Runtime ${ort.version} with ${threads} intra-op thread(s) vs tfjs ${backend}; ${n} examples per stage; median of ${repeats} run(s), runtimes alternating first`);
    const table = [...new Set(rows.map((r) => `${r.shape}\u0000${r.stage}`))].map((key) => {
      const [shape, stage] = key.split('\u0000') as [string, string];
      const of = (rt: Runtime) => median(rows.find((r) => r.shape === shape && r.stage === stage && r.runtime === rt)!.examplesPerSecond);
      return { shape, stage, 'onnxruntime ex/s': of('onnxruntime').toFixed(1), [`tfjs-${backend} ex/s`]: of('tfjs').toFixed(1), speedup: `${(of('onnxruntime') / of('tfjs')).toFixed(2)}×` };
    });
    console.table(table);
    console.table(exports.map((e) => ({ shape: e.shape, task: e.task, 'export s': e.seconds.toFixed(2), 'model.onnx MB': (e.modelBytes / 1e6).toFixed(2) })));
    for (const r of rows) console.log(JSON.stringify({ name: 'onnx-runtime', shape: r.shape, stage: r.stage, runtime: r.runtime === 'tfjs' ? `tfjs-${backend}` : `onnxruntime ${ort.version}`, threads: r.runtime === 'tfjs' ? 1 : threads, examples: n, examplesPerSecond: r.examplesPerSecond.map((x) => +x.toFixed(1)) }));
    for (const e of exports) console.log(JSON.stringify({ name: 'onnx-export', ...e, seconds: +e.seconds.toFixed(3) }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
