import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLayout, runUriFor } from '../../../contract/layout';
import { parseJobSpec, type JobSpec } from '../../../contract/spec';
import { initBackend } from '../../../trainer/backend';
import { openDataset, type PreparedDataset } from '../../../trainer/data/dataset';
import { prepareData } from '../../../trainer/data/prepare';
import { cocoCaptionTokenize, vqaAccuracyOne } from '../../../trainer/eval';
import { greedyDecode } from '../../../trainer/eval/decode';
import { EvalPartSchema, EvalResultSchema, type EvalResult } from '../../../trainer/eval/result-schema';
import { batchTensors, disposeBatchTensors, fitConfigToData } from '../../../trainer/jobs/task';
import { VLModel } from '../../../trainer/model';
import { saveModel } from '../../../trainer/model-io';
import { evaluateShard, mergeEvaluations, shardExampleIndices } from '../../../trainer/stages/evaluate';

type Task = 'vqa' | 'captioning' | 'translation';

const TEST_EXAMPLES = 7;
const SHARD_SIZE = 3; // → test shards of 3, 3, 1 examples

interface Fixture {
  readonly root: string;
  readonly runUri: string;
  readonly dataset: PreparedDataset;
  readonly modelUri: string;
  readonly model: VLModel;
}

/** A prepared synthetic dataset and an untrained model saved as the run's teacher. */
async function fixture(task: Task, fusion: 'single-stream' | 'two-stream'): Promise<Fixture> {
  const root = mkdtempSync(path.join(tmpdir(), `evaluate-${task}-`));
  const runUri = runUriFor(root, 'run1');
  const layout = runLayout(runUri);
  await prepareData(
    { format: 'synthetic', task, seed: 3, train: 6, val: 4, test: TEST_EXAMPLES, imageSize: 16, shardSize: SHARD_SIZE, maxTextLength: 10, maxTargetLength: 12 },
    layout.data,
  );
  const dataset = await openDataset(layout.data);
  const config = fitConfigToData(
    {
      fusion,
      patchSize: 8,
      width: 16,
      mlpWidth: 24,
      visionLayers: 1,
      fusionLayers: 1,
      decoderLayers: task === 'vqa' ? 0 : 1,
      heads: { vision: 2, fusion: 2, decoder: 2 },
      dropout: 0,
    },
    dataset.manifest,
    dataset.tokenizer.vocabSize,
    'test model',
  );
  const model = new VLModel(config, { seed: 7 });
  const modelUri = layout.teacherModel;
  await saveModel(modelUri, model, { task, tokenizer: dataset.tokenizer.toJSON(), answers: dataset.answerVocab, pixelStats: dataset.manifest.pixelStats, provenance: { role: 'teacher' } });
  return { root, runUri, dataset, modelUri, model };
}

function specFor(task: Task, evaluation: Record<string, unknown> = {}): JobSpec {
  return parseJobSpec({
    version: 1,
    data: { format: 'synthetic', task },
    teacher: { checkpoint: 'file:///unused' },
    students: [{ name: 'small', model: {} }],
    evaluation: { latency: { warmup: 1, runs: 2 }, ...evaluation },
  });
}

/** Evaluates every test shard, then merges; returns the parsed result and the part URIs. */
async function evaluateAll(f: Fixture, spec: JobSpec, modelId = 'teacher'): Promise<{ result: EvalResult; partUris: string[]; outputs: readonly string[] }> {
  const layout = runLayout(f.runUri);
  const split = f.dataset.split(spec.evaluation.split);
  const partUris: string[] = [];
  for (let s = 0; s < split.numShards; s++) {
    const outUri = layout.evalPart(modelId, s);
    const { outputs } = await evaluateShard({ runUri: f.runUri, spec, model: { modelId, modelUri: f.modelUri, stage: null }, shardUri: split.shardUri(s), shardIndex: s, outUri });
    expect(outputs).toEqual([outUri]);
    partUris.push(outUri);
  }
  const outUri = layout.evalFile(modelId);
  const { outputs } = await mergeEvaluations({ runUri: f.runUri, spec, modelId, partUris, outUri });
  return { result: EvalResultSchema.parse(JSON.parse(readFileSync(fileURLToPath(outUri), 'utf8'))), partUris, outputs };
}

function readPartFile(uri: string) {
  return EvalPartSchema.parse(JSON.parse(readFileSync(fileURLToPath(uri), 'utf8')));
}

function writePartFile(uri: string, part: unknown): void {
  writeFileSync(fileURLToPath(uri), JSON.stringify(part));
}

/** Ids of the first n examples of the test split, in order. */
async function splitIds(d: PreparedDataset, n: number): Promise<string[]> {
  return [...(await d.split('test').batch(Array.from({ length: n }, (_, i) => i))).ids];
}

function checkCost(result: EvalResult, model: VLModel, generation: boolean): void {
  expect(result.cost.params).toBe(model.countParams());
  expect(result.cost.flops).toBeGreaterThan(0);
  expect(result.cost.weightBytes).toBe(model.countParams() * 4); // float32 weights
  const { latency } = result.cost;
  expect(latency.backend).toBe('wasm');
  expect([latency.warmup, latency.runs]).toEqual([1, 2]);
  for (const stats of [latency.batch1, latency.batch32, ...(generation ? [latency.decodeBatch1!] : [])]) {
    expect(stats.p50).toBeGreaterThan(0);
    expect(stats.p95).toBeGreaterThanOrEqual(stats.p50);
    expect(stats.mean).toBeGreaterThan(0);
  }
  expect(latency.decodeBatch1 !== undefined).toBe(generation);
}

beforeAll(async () => {
  await initBackend();
});

describe('VQA', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture('vqa', 'single-stream');
  });
  afterAll(() => {
    f.model.dispose();
    rmSync(f.root, { recursive: true, force: true });
  });

  test('every shard, merged: schema-valid, one entry per example, accuracy checked against the labels', async () => {
    const split = f.dataset.split('test');
    expect(split.numShards).toBeGreaterThanOrEqual(2);
    const before = tf.memory().numTensors;
    const { result, outputs } = await evaluateAll(f, specFor('vqa'));
    expect(tf.memory().numTensors).toBe(before);
    expect(outputs).toEqual([runLayout(f.runUri).evalFile('teacher')]);
    expect(result).toMatchObject({ version: 1, modelId: 'teacher', task: 'vqa', split: 'test', count: TEST_EXAMPLES, primaryMetric: 'accuracy', decoding: null, perExampleTruncated: false });
    expect(result.perExample.map((e) => e.id)).toEqual(await splitIds(f.dataset, TEST_EXAMPLES));
    // Independent check: a prediction scores 1 exactly when it is the record's label answer.
    for (let i = 0; i < TEST_EXAMPLES; i++) {
      const rec = await split.record(i);
      const entry = result.perExample[i]!;
      expect(f.dataset.answerVocab).toContain(entry.prediction);
      expect(entry.score).toBe(entry.prediction === f.dataset.answerVocab[rec.answerLabel!] ? 1 : 0);
    }
    const mean = result.perExample.reduce((s, e) => s + e.score, 0) / TEST_EXAMPLES;
    expect(result.metrics.accuracy).toBeCloseTo(mean, 12);
    // Synthetic answers are unanimous: the soft score of the chosen answer is the same 0/1.
    expect(result.metrics.softScore).toBeCloseTo(mean, 6);
    for (const v of Object.values(result.metrics)) expect(v >= 0 && v <= 1).toBe(true);
    expect(Object.keys(result.metricNotes).sort()).toEqual(Object.keys(result.metrics).sort());
    checkCost(result, f.model, false);
  });

  test('maxExamples keeps the first N examples across shards; shards past them write empty parts', async () => {
    const spec = specFor('vqa', { maxExamples: 4 });
    const { result, partUris } = await evaluateAll(f, spec, 'capped');
    expect(result.count).toBe(4);
    expect(result.perExample.map((e) => e.id)).toEqual(await splitIds(f.dataset, 4));
    expect(partUris.map((u) => readPartFile(u).count)).toEqual([3, 1, 0]);
    expect(shardExampleIndices(f.dataset.split('test'), 1, 4)).toEqual([3]);
  });

  test('merge scores the predictions it is given: the label answer scores 1, a label without a class 0', async () => {
    const spec = specFor('vqa');
    const { partUris } = await evaluateAll(f, spec, 'perfect');
    let answerable = 0;
    for (const uri of partUris) {
      const part = readPartFile(uri);
      // Test answers absent from the (tiny) training split have no class: their reference list is empty.
      const label = (id: string) => part.references![id]![0];
      answerable += part.ids.filter((id) => label(id) !== undefined).length;
      const predictions = Object.fromEntries(part.ids.map((id) => [id, label(id) ?? part.predictions[id]!]));
      writePartFile(uri, { ...part, predictions, perExample: Object.fromEntries(part.ids.map((id) => [id, label(id) === undefined ? 0 : 1])) });
    }
    expect(answerable).toBeGreaterThan(0);
    const outUri = runLayout(f.runUri).evalFile('perfect');
    await mergeEvaluations({ runUri: f.runUri, spec, modelId: 'perfect', partUris, outUri });
    const result = EvalResultSchema.parse(JSON.parse(readFileSync(fileURLToPath(outUri), 'utf8')));
    expect(result.metrics.accuracy).toBeCloseTo(answerable / TEST_EXAMPLES, 12);
    expect(result.metrics.softScore).toBeCloseTo(answerable / TEST_EXAMPLES, 12);
  });

  test('a missing part, a duplicated part, a foreign part or a wrong shard URI is refused with the file named', async () => {
    const spec = specFor('vqa');
    const { partUris } = await evaluateAll(f, spec, 'checked');
    const outUri = runLayout(f.runUri).evalFile('checked');
    const merge = (uris: string[], modelId = 'checked') => mergeEvaluations({ runUri: f.runUri, spec, modelId, partUris: uris, outUri });
    await expect(merge(partUris.slice(0, 2))).rejects.toThrow(/hold 6 examples, the test split needs 7 .*a shard's part is missing/);
    await expect(merge([...partUris, partUris[0]!])).rejects.toThrow(/appears in more than one part/);
    await expect(merge(partUris, 'other')).rejects.toThrow(/holds results of model "checked", expected "other"/);
    const split = f.dataset.split('test');
    await expect(
      evaluateShard({ runUri: f.runUri, spec, model: { modelId: 'x', modelUri: f.modelUri, stage: null }, shardUri: split.shardUri(1), shardIndex: 0, outUri: partUris[0]! }),
    ).rejects.toThrow(/the run plan and the prepared data disagree/);
  });

  // Runs last in this block: it adds a references file to the prepared data.
  test('with human answers in the data (a references file in the split entry), the official VQA accuracy is the primary metric', async () => {
    const dataDir = fileURLToPath(runLayout(f.runUri).data);
    const ids = await splitIds(f.dataset, TEST_EXAMPLES);
    const vocab = f.dataset.answerVocab;
    // Ten annotators per question, partly agreeing: answer i gets a different mix per question.
    const human = Object.fromEntries(ids.map((id, q) => [id, Array.from({ length: 10 }, (_, a) => vocab[(q + (a < 3 + (q % 4) ? 0 : a)) % vocab.length]!)]));
    const body = JSON.stringify(human);
    writeFileSync(path.join(dataDir, 'test', 'vqa-references.json'), body);
    const manifestFile = path.join(dataDir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    manifest.splits.test.references = { file: 'test/vqa-references.json', sha256: createHash('sha256').update(body).digest('hex') };
    writeFileSync(manifestFile, JSON.stringify(manifest));

    const { result } = await evaluateAll(f, specFor('vqa'), 'human');
    expect(result.primaryMetric).toBe('vqaAccuracy');
    expect(Object.keys(result.metrics).sort()).toEqual(['softScore', 'vqaAccuracy']);
    result.perExample.forEach((e) => expect(e.score).toBeCloseTo(vqaAccuracyOne(e.prediction, human[e.id]!), 12));
    const mean = result.perExample.reduce((s, e) => s + e.score, 0) / TEST_EXAMPLES;
    expect(result.metrics.vqaAccuracy).toBeCloseTo(mean, 12);
  });
});

describe.each<[Task, 'single-stream' | 'two-stream', number]>([
  ['captioning', 'two-stream', 1],
  ['captioning', 'single-stream', 2],
  ['translation', 'single-stream', 1],
])('%s (%s, beam %p)', (task, fusion, beamSize) => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture(task, fusion);
  });
  afterAll(() => {
    f.model.dispose();
    rmSync(f.root, { recursive: true, force: true });
  });

  test('every shard, merged: schema-valid, metrics in range, predictions are the decoder output', async () => {
    const spec = specFor(task, { beamSize });
    const before = tf.memory().numTensors;
    const { result, partUris } = await evaluateAll(f, spec);
    expect(tf.memory().numTensors).toBe(before);
    expect(result).toMatchObject({ task, split: 'test', count: TEST_EXAMPLES, decoding: { beamSize, lengthPenalty: 0, maxLength: 12 } });
    const ids = await splitIds(f.dataset, TEST_EXAMPLES);
    expect(result.perExample.map((e) => e.id)).toEqual(ids);
    const expectedKeys = task === 'captioning' ? ['bleu1', 'bleu2', 'bleu3', 'bleu4', 'cider', 'ciderD'] : ['bleu4', 'bleu4Method1'];
    expect(Object.keys(result.metrics).sort()).toEqual(expectedKeys);
    expect(result.primaryMetric).toBe(task === 'captioning' ? 'ciderD' : 'bleu4');
    for (const [k, v] of Object.entries(result.metrics)) expect(v >= 0 && v <= (k.startsWith('cider') ? 10 : 1)).toBe(true);
    if (task === 'captioning') {
      const mean = result.perExample.reduce((s, e) => s + e.score, 0) / TEST_EXAMPLES;
      expect(result.metrics.ciderD).toBeCloseTo(mean, 10); // corpus CIDEr-D is the mean of the per-image scores
    }
    checkCost(result, f.model, true);
    // Greedy parts hold exactly what greedyDecode + the tokenizer give for the same examples.
    if (beamSize === 1) {
      const batch = await f.dataset.split('test').batch([0, 1, 2]);
      const t = batchTensors(batch, f.model.config);
      const texts = greedyDecode(f.model, { images: t.inputs.images, text: t.inputs.text }).map((s) => f.dataset.tokenizer.decode(s));
      disposeBatchTensors(t);
      const part = readPartFile(partUris[0]!);
      expect(batch.ids.map((id) => part.predictions[id])).toEqual(texts);
    }
  });

  test('merge scores the predictions it is given: the first reference as the prediction scores high', async () => {
    const spec = specFor(task);
    const { partUris } = await evaluateAll(f, spec, 'oracle');
    const refs = await f.dataset.split('test').references();
    for (const uri of partUris) {
      const part = readPartFile(uri);
      writePartFile(uri, { ...part, predictions: Object.fromEntries(part.ids.map((id) => [id, refs.get(id)![0]!])) });
    }
    const outUri = runLayout(f.runUri).evalFile('oracle');
    await mergeEvaluations({ runUri: f.runUri, spec, modelId: 'oracle', partUris, outUri });
    const result = EvalResultSchema.parse(JSON.parse(readFileSync(fileURLToPath(outUri), 'utf8')));
    if (task === 'translation') {
      // One reference per sentence, reproduced exactly: BLEU 1.
      expect(result.metrics.bleu4).toBeCloseTo(1, 10);
      result.perExample.forEach((e) => expect(e.score).toBeCloseTo(1, 10));
    } else {
      // Each prediction equals one of its references: every BLEU-n precision is 1 (brevity penalty 1 for the closest length).
      expect(result.metrics.bleu1).toBeCloseTo(1, 6);
      const tokens = [...refs.values()].map((r) => cocoCaptionTokenize(r[0]!).split(' ').length);
      if (Math.min(...tokens) >= 4) expect(result.metrics.bleu4).toBeCloseTo(1, 6);
      expect(result.metrics.ciderD).toBeGreaterThan(0);
    }
  });
});
