/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * Honest latency (issue 15 item 4), its structure only — no timed assertions (timings on a
 * shared machine prove nothing): one measurement per distinct architecture, shared by every
 * model of that architecture (so two students of one architecture report the same figure and
 * speed-up by construction); both runtimes timed and named, ONNX Runtime primary; the report of
 * a tiny run states which runtime (and thread count) its evaluation and latency came from.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { commitStage, runLayout, runUriFor, Stage, studentModelId, TEACHER_MODEL_ID } from '../../../contract/layout';
import { parseJobSpec, type JobSpec } from '../../../contract/spec';
import { joinUri } from '../../../contract/storage';
import { initBackend } from '../../../trainer/backend';
import { openDataset, type PreparedDataset } from '../../../trainer/data/dataset';
import { prepareData } from '../../../trainer/data/prepare';
import { EvalResultSchema } from '../../../trainer/eval/result-schema';
import { fitConfigToData } from '../../../trainer/jobs/task';
import { VLModel } from '../../../trainer/model';
import { saveModel } from '../../../trainer/model-io';
import { writeOnnxExport } from '../../../trainer/onnx/export-files';
import { resetOnnxRuntimeForTests } from '../../../trainer/onnx/runtime';
import { MetricsSummarySchema } from '../../../trainer/report';
import { evaluateShard, mergeEvaluations } from '../../../trainer/stages/evaluate';
import { architectureKey, measureLatency } from '../../../trainer/stages/measure-latency';
import { buildRunReport } from '../../../trainer/stages/report';

const arch = (heads: number) => ({ fusion: 'single-stream' as const, patchSize: 8, width: 16, mlpWidth: 24, fusionLayers: 1, heads: { vision: heads, fusion: heads, decoder: heads }, dropout: 0 });
const ONNX_RUNTIME = /^onnxruntime \d+\.\d+\.\d+, \d+ threads?$/;

let root: string;
let runUri: string;
let data: PreparedDataset;
let spec: JobSpec;
const models = [
  { modelId: TEACHER_MODEL_ID, heads: 4, seed: 1 },
  { modelId: studentModelId('amad', 0), heads: 2, seed: 2 },
  { modelId: studentModelId('amad', 1), heads: 2, seed: 3 }, // same architecture, other weights
];
const refs = () => models.map((m) => ({ modelId: m.modelId, modelUri: runLayout(runUri).model(m.modelId) }));

beforeAll(async () => {
  await initBackend();
  root = mkdtempSync(path.join(tmpdir(), 'latency-'));
  runUri = runUriFor(root, 'run1');
  const layout = runLayout(runUri);
  await prepareData({ format: 'synthetic', task: 'vqa', seed: 2, train: 8, val: 4, test: 6, imageSize: 16, maxTextLength: 8 }, layout.data);
  data = await openDataset(layout.data);
  spec = parseJobSpec({
    version: 1,
    data: { format: 'synthetic', task: 'vqa' },
    teacher: { model: arch(4) },
    students: [{ name: 'amad', model: arch(2), distill: { variant: 'kl' }, seeds: [0, 1] }],
    evaluation: { latency: { warmup: 1, runs: 3 } },
  });
  for (const m of models) {
    const model = new VLModel(fitConfigToData(arch(m.heads), data.manifest, data.tokenizer.vocabSize, m.modelId), { seed: m.seed, name: `latency-${m.modelId}` });
    const meta = { task: 'vqa' as const, tokenizer: data.tokenizer.toJSON(), answers: data.answerVocab, pixelStats: data.manifest.pixelStats, provenance: {} };
    await saveModel(layout.model(m.modelId), model, meta);
    await writeOnnxExport(model, meta, joinUri(layout.model(m.modelId), 'model.onnx'));
    model.dispose();
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.AMAD_INFERENCE_RUNTIME;
  resetOnnxRuntimeForTests();
});

test('the architecture key ignores dropout and the weights, and separates head counts', () => {
  const c = (heads: number, dropout: number) => fitConfigToData({ ...arch(heads), dropout }, data.manifest, data.tokenizer.vocabSize, 'x');
  expect(architectureKey(c(2, 0))).toBe(architectureKey(c(2, 0.3)));
  expect(architectureKey(c(2, 0))).not.toBe(architectureKey(c(4, 0)));
});

test('one measurement per architecture, on both runtimes, ONNX Runtime primary', async () => {
  const latency = await measureLatency({ runUri, spec, models: refs() });
  const [teacher, s0, s1] = models.map((m) => latency[m.modelId]!);
  // The two students share one measurement (taken on the first of them); the teacher has its own.
  expect(s1).toEqual(s0);
  expect(s0!.measuredOn).toBe(studentModelId('amad', 0));
  expect(teacher!.measuredOn).toBe(TEACHER_MODEL_ID);
  expect(teacher!.architecture).not.toBe(s0!.architecture);
  for (const l of [teacher!, s0!]) {
    expect(l.runtimes!.map((r) => r.runtime)).toEqual([expect.stringMatching(ONNX_RUNTIME), 'tfjs-wasm, 1 thread']);
    expect(l.runtime).toBe(l.runtimes![0]!.runtime);
    expect(l.batch1).toEqual(l.runtimes![0]!.batch1);
    expect([l.warmup, l.runs]).toEqual([1, 3]);
  }
});

test('without ONNX Runtime the figures come from tfjs, and say so', async () => {
  process.env.AMAD_INFERENCE_RUNTIME = 'tfjs';
  const latency = await measureLatency({ runUri, spec, models: refs().slice(0, 1) });
  expect(latency[TEACHER_MODEL_ID]!.runtime).toBe('tfjs-wasm, 1 thread');
  expect(latency[TEACHER_MODEL_ID]!.runtimes!.map((r) => r.runtime)).toEqual(['tfjs-wasm, 1 thread']);
});

test('the report of a tiny run names the runtime and threads of its evaluation and latency, and shows both runtimes', async () => {
  const layout = runLayout(runUri);
  const split = data.split('test');
  const latency = await measureLatency({ runUri, spec, models: refs() });
  const evalFiles: Record<string, string> = {};
  for (const { modelId, modelUri } of refs()) {
    await evaluateShard({ runUri, spec, model: { modelId, modelUri, stage: null }, shardUri: split.shardUri(0), shardIndex: 0, outUri: layout.evalPart(modelId, 0) });
    await mergeEvaluations({ runUri, spec, modelId, partUris: [layout.evalPart(modelId, 0)], outUri: layout.evalFile(modelId), latency: latency[modelId] });
    evalFiles[modelId] = layout.evalFile(modelId);
    const result = EvalResultSchema.parse(JSON.parse(readFileSync(fileURLToPath(layout.evalFile(modelId)), 'utf8')));
    expect(result.runtime).toMatch(ONNX_RUNTIME);
    expect(result.cost.latency).toEqual(latency[modelId]);
  }
  await commitStage(runUri, Stage.validate, []);
  await buildRunReport({
    runUri,
    spec,
    evalFiles,
    missing: [],
    students: [0, 1].map((seed) => ({ student: 'amad', seed, modelId: studentModelId('amad', seed), status: 'SUCCEEDED' as const })),
    reportDir: layout.reportDir,
  });
  const summary = readFileSync(fileURLToPath(layout.reportSummary), 'utf8');
  expect(summary).toMatch(/evaluation on onnxruntime \d+\.\d+\.\d+, \d+ threads? · latency on onnxruntime \d+\.\d+\.\d+, \d+ threads? and tfjs-wasm, 1 thread \(speed-ups: onnxruntime/);
  const metrics = MetricsSummarySchema.parse(JSON.parse(readFileSync(fileURLToPath(layout.reportMetrics), 'utf8')));
  expect(metrics.inference!.evaluation).toEqual([expect.stringMatching(ONNX_RUNTIME)]);
  for (const m of metrics.models) expect(m.latencyMs.byRuntime!.map((r) => r.runtime)).toEqual([expect.stringMatching(ONNX_RUNTIME), 'tfjs-wasm, 1 thread']);
  const html = readFileSync(fileURLToPath(layout.reportIndex), 'utf8');
  expect(html).toMatch(/<dt>Latency on<\/dt><dd>onnxruntime [^<]+ and tfjs-wasm, 1 thread/);
  expect(html).toMatch(/tfjs-wasm, 1 thread: [\d.,]+ \/ [\d.,]+/);
});
