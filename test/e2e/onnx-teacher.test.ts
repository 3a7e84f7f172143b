/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * A teacher this project did not train — exported by PyTorch's own exporter (the fixture made by
 * examples/teachers/pytorch/train_and_export.py: 4 joint self-attention layers of 6 heads) —
 * teaches a 2-head, 2-layer AMAD student through the real local pipeline: Validate checks it,
 * PrepareData prepares the data with its tokenizer, image size, normalisation and answers,
 * TrainTeacher is skipped, CacheTeacher runs it on ONNX Runtime, the student distils from the
 * cache, Evaluate scores both (the teacher from the same ONNX model), Report shows both.
 * The cached maps equal what PyTorch computed for the same inputs. A teacher whose sidecar
 * contradicts the model is refused by Validate, before any data or training.
 *
 * The data is the fixture's synthetic world (seed 7) at 1/50 of the size the teacher was trained
 * on with the same split ratios (4000:300:500 → 80:6:10): the generator routes examples by those
 * ratios, so train-000000 and train-000001 here are the examples the references were computed on.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { defaultLambdaRegistry } from '../../cli/lambda-registry';
import { defaultTrainerLauncher, runLocal, type LocalRunOptions } from '../../cli/local-executor';
import type { PipelineEvent } from '../../cli/pipeline-events';
import { runLayout, runUriFor, studentModelId, TEACHER_MODEL_ID } from '../../contract/layout';
import { parseJobSpec, type JobSpecInput } from '../../contract/spec';
import { initBackend } from '../../trainer/backend';
import { openDataset } from '../../trainer/data/dataset';
import { EvalResultSchema } from '../../trainer/eval/result-schema';
import { CachedTeacher } from '../../trainer/jobs/teacher-signal';
import { declaredLayers, OnnxTeacher, onnxTeacherSha256 } from '../../trainer/onnx/onnx-teacher';
import { MetricsSummarySchema } from '../../trainer/report/summary';
import { cachedLayersForSpec, cacheOneShard } from '../../trainer/stages/cache-teacher';
import { joinUri, toUri } from '../../contract/storage';
import { FIXTURE, readReference } from '../helpers/onnx-fixture';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.AMAD_LOG_LEVEL = 'info';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const TEACHER = { onnx: path.join(FIXTURE, 'teacher.onnx'), sidecar: path.join(FIXTURE, 'teacher.onnx.json') };
const SIDECAR = JSON.parse(readFileSync(TEACHER.sidecar, 'utf8'));

const SPEC: JobSpecInput = {
  version: 1,
  data: { format: 'synthetic', task: 'vqa', seed: 7, train: 80, val: 6, test: 10, imageSize: 32, maxTextLength: 12, shardSize: 40 },
  teacher: TEACHER,
  students: [
    {
      name: 'amad',
      // 2 heads, 2 layers, patch 8 on 32px images: 16 patches + 12 tokens, the teacher's token grid.
      model: { patchSize: 8, width: 16, mlpWidth: 32, fusionLayers: 2, heads: { vision: 2, fusion: 2, decoder: 2 }, dropout: 0 },
      distill: { variant: 'kl' },
      train: { steps: 6, batchSize: 16, warmupSteps: 1, evalEvery: 0, evalExamples: 6, checkpointEvery: 0 },
      seeds: [0],
    },
  ],
  cache: { enabled: true, dtype: 'float16', shardSize: 40 },
  evaluation: { split: 'test', latency: { warmup: 1, runs: 2 } },
  compute: { maxParallelJobs: 1 },
};

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'amad-onnx-e2e-'));
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

function options(events: PipelineEvent[]): LocalRunOptions {
  return { lambdas: defaultLambdaRegistry(), trainer: defaultTrainerLauncher(REPO_ROOT), onEvent: (e) => events.push(e) };
}

test('the PyTorch-exported teacher distils into a 2-head AMAD student through the local pipeline', async () => {
  // Act
  const events: PipelineEvent[] = [];
  const run = await runLocal({ runId: 'onnx-teacher', artifactRoot: root, spec: SPEC }, options(events));
  const runUri = runUriFor(root, 'onnx-teacher');
  const layout = runLayout(runUri);
  if (run.status !== 'SUCCEEDED') throw new Error(`run ${run.status}: ${JSON.stringify(run.error)}`);

  // The teacher was not trained: the only training job is the student's.
  expect(events.filter((e) => e.type === 'job-started')).toHaveLength(1);
  expect(existsSync(fileURLToPath(layout.model(TEACHER_MODEL_ID)))).toBe(false);

  // The data was prepared for the teacher: its tokenizer, answers, normalisation and sizes.
  await initBackend();
  const data = await openDataset(layout.data);
  const fixtureTokenizer = JSON.parse(readFileSync(path.join(FIXTURE, 'tokenizer.json'), 'utf8'));
  expect(data.tokenizer.vocab).toEqual(fixtureTokenizer.vocab);
  expect(data.answerVocab).toEqual(SIDECAR.answers);
  expect(data.manifest.pixelStats).toEqual({ mean: SIDECAR.image.mean, std: SIDECAR.image.std });
  expect([data.manifest.imageSize, data.manifest.maxTextLength]).toEqual([32, 12]);
  // The majority baseline is the most frequent training label among the teacher's classes (counted, not assumed to be class 0).
  const labels = (await data.split('train').batch(Array.from({ length: data.split('train').size }, (_, i) => i))).answerLabel!;
  const counts = SIDECAR.answers.map((_: string, k: number) => labels.filter((l) => l === k).length);
  expect(data.manifest.answers!.majority.answer).toBe(SIDECAR.answers[counts.indexOf(Math.max(...counts))]);

  // The student trained from the cache, its 2 layers mapped onto the teacher's declared 4 (0→0, 1→3).
  const jobLog = readFileSync(path.join(fileURLToPath(runUri), 'logs', 'onnx-teacher-amad-seed0.log'), 'utf8');
  const start = JSON.parse(jobLog.split('\n').find((l) => l.includes('"training job starts"'))!);
  expect(start).toMatchObject({ cached: true, mapped: 2, distill: 'kl' });
  const spec = parseJobSpec(SPEC);
  const layers = cachedLayersForSpec(spec, { declaredLayers: declaredLayers(SIDECAR) }, data);
  expect(layers).toEqual([{ kind: 'fusionSelf', teacherLayer: 0 }, { kind: 'fusionSelf', teacherLayer: 3 }]);

  // The cached maps and logits equal what PyTorch computed for the same examples.
  const ref = readReference();
  const train = data.split('train');
  const idx = ref.ids.map((id) => Array.from({ length: train.size }, (_, i) => i).find((i) => `train-${String(i).padStart(6, '0')}` === id)!);
  const batch = await train.batch(idx);
  expect(batch.ids).toEqual(ref.ids);
  expect(Array.from(batch.text)).toEqual(ref.input_ids.flat()); // the same token ids PyTorch was fed
  const cache = await CachedTeacher.open(layout.cache, data, await onnxTeacherSha256(TEACHER), layers);
  const cached = await cache.forBatch(batch);
  try {
    // float16 cache: a value v in [0, 1] is stored within half a unit in the last place, ≤ 2^-12 ≈ 2.44e-4
    // absolute; ONNX Runtime vs PyTorch float32 adds ≤ 1e-5 (teacher-check.test.ts).
    for (const l of [0, 3]) {
      const got = cached.maps[`attn/fusionSelf/${l}`]!.dataSync();
      const want = ref.arrays.get(`attn.fusionSelf.${l}`)!;
      expect(cached.maps[`attn/fusionSelf/${l}`]!.shape).toEqual(want.shape);
      let worst = 0;
      want.data.forEach((w, i) => (worst = Math.max(worst, Math.abs(got[i]! - w))));
      expect(worst).toBeLessThan(2 ** -12 + 1e-5);
    }
    // Logits: float16 keeps 11 significant bits, relative error ≤ 2^-11.
    const logits = cached.logits.dataSync();
    ref.arrays.get('logits')!.data.forEach((w, i) => expect(Math.abs(logits[i]! - w)).toBeLessThanOrEqual(Math.abs(w) * 2 ** -11 + 1e-5));
    expect(Object.keys(cached.maps).sort()).toEqual(['attn/fusionSelf/0', 'attn/fusionSelf/3']); // only mapped layers are cached
  } finally {
    tf.dispose([cached.logits, ...Object.values(cached.maps)]);
  }

  // Evaluation: the teacher's own metric from the same ONNX model, and the student's.
  const teacherEval = EvalResultSchema.parse(JSON.parse(readFileSync(fileURLToPath(layout.evalFile(TEACHER_MODEL_ID)), 'utf8')));
  expect(teacherEval.model.uri).toMatch(/teacher\.onnx$/);
  expect(teacherEval.cost.flops).toBeNull();
  const test = data.split('test');
  const teacher = await OnnxTeacher.load(TEACHER);
  try {
    const b = await test.batch(Array.from({ length: test.size }, (_, i) => i));
    const { logits } = await teacher.run(b, data.manifest.pixelStats, []);
    const A = SIDECAR.answers.length;
    let hits = 0;
    for (let i = 0; i < b.size; i++) {
      const row = Array.from(logits.data.subarray(i * A, (i + 1) * A));
      if (row.indexOf(Math.max(...row)) === b.answerLabel![i]) hits++;
    }
    expect(teacherEval.metrics.accuracy).toBeCloseTo(hits / b.size, 10);
  } finally {
    await teacher.release();
  }
  const summary = MetricsSummarySchema.parse(JSON.parse(readFileSync(fileURLToPath(layout.reportMetrics), 'utf8')));
  expect(summary.failures).toEqual([]);
  expect(summary.models.map((m) => [m.id, m.status]).sort()).toEqual([['amad', 'ok'], [TEACHER_MODEL_ID, 'ok']]);
  for (const m of summary.models) expect(Number.isFinite(m.metrics[summary.primaryMetric]?.mean)).toBe(true);
  // No speed-up across runtimes (the ONNX teacher's latency is ONNX Runtime's, the student's tfjs').
  expect(summary.models.find((m) => m.id === 'amad')!.speedupOverTeacher).toBeNull();
  expect(readFileSync(fileURLToPath(layout.reportIndex), 'utf8')).toContain('ONNX teacher');
  expect(existsSync(fileURLToPath(layout.evalFile(studentModelId('amad', 0))))).toBe(true);
});

/** The fixture's teacher with a sidecar (in its own folder, beside its tokenizer) that gives attention output `index` the wrong head count. */
function contradictingTeacher(folder: string, index: number, heads: number): { onnx: string; sidecar: string } {
  const dir = path.join(root, folder);
  mkdirSync(dir);
  const sidecar = JSON.parse(JSON.stringify(SIDECAR));
  sidecar.attention[index].heads = heads;
  writeFileSync(path.join(dir, 'teacher.onnx.json'), JSON.stringify(sidecar));
  copyFileSync(path.join(FIXTURE, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  return { onnx: TEACHER.onnx, sidecar: path.join(dir, 'teacher.onnx.json') };
}

test('a teacher whose sidecar contradicts the model is refused by Validate, before data or training', async () => {
  // GIVEN the fixture with a sidecar claiming 8 heads on layer 1
  const spec = { ...SPEC, teacher: contradictingTeacher('bad-teacher', 1, 8) };
  // WHEN it runs
  const events: PipelineEvent[] = [];
  const run = await runLocal({ runId: 'bad-onnx-teacher', artifactRoot: root, spec }, options(events));
  // THEN it fails in Validate, naming the output and the fix, with nothing prepared or trained
  expect(run.status).toBe('FAILED');
  expect(JSON.stringify(run.error)).toMatch(/attn\.fusionSelf\.1.*has 6 heads.*set heads to 6/);
  expect(events.filter((e) => e.type === 'job-started')).toHaveLength(0);
  const runDir = fileURLToPath(runUriFor(root, 'bad-onnx-teacher'));
  expect(existsSync(path.join(runDir, 'data'))).toBe(false);
  // Only the failure record: no data, cache or models.
  expect(existsSync(runDir) ? readdirSync(runDir).filter((f) => f !== '_stages' && f !== 'logs') : []).toEqual(['failure.json']);
});

test('the cache stage runs the same check, so a bad teacher is refused before training even where Validate could not run the model', async () => {
  // GIVEN the data prepared by the first test and a sidecar that contradicts the model
  const spec = parseJobSpec({ ...SPEC, teacher: contradictingTeacher('bad-for-cache', 0, 3) });
  const dir = path.join(root, 'bad-for-cache');
  const layout = runLayout(runUriFor(root, 'onnx-teacher'));
  const data = await openDataset(layout.data);
  // WHEN a cache shard is written THEN it is refused, naming the output and the fix, and writes nothing
  await expect(
    cacheOneShard({ spec, dataUri: layout.data, teacherUri: TEACHER.onnx, shardUri: data.split('train').shardUri(0), cacheDir: joinUri(toUri(dir), 'cache') }),
  ).rejects.toThrow(/output "attn\.fusionSelf\.0" has 6 heads .* set heads to 6/);
  expect(existsSync(path.join(dir, 'cache'))).toBe(false);
});
