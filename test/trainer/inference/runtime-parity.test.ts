/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * The inference stages give the same results on ONNX Runtime as on TensorFlow.js (issue 15
 * item 3): the teacher cache written through ONNX Runtime equals the one written through tfjs
 * (to float32 round-off, and to one float16 step when the cache is float16); greedy and beam
 * generation give the same tokens on both runtimes (through encoder.onnx/decoder.onnx and
 * through the full model); VQA answers agree; evaluation parts name the runtime they came from.
 * Models: tiny, with peaky weights (attention far from uniform), exported by trainer/onnx.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runLayout, runUriFor } from '../../../contract/layout';
import { joinUri, storageFor } from '../../../contract/storage';
import { parseJobSpec, type JobSpec } from '../../../contract/spec';
import { initBackend } from '../../../trainer/backend';
import { openDataset, type PreparedDataset } from '../../../trainer/data/dataset';
import { prepareData } from '../../../trainer/data/prepare';
import { TeacherCacheReader } from '../../../trainer/distill';
import { fromFloat16Bits, toFloat16Bits } from '../../../trainer/distill/cache/float16';
import { EvalPartSchema } from '../../../trainer/eval/result-schema';
import { decodeBatch, openInferenceModel, OnnxInferenceModel, type InferenceModel } from '../../../trainer/inference/model';
import { fitConfigToData } from '../../../trainer/jobs/task';
import { cacheDirForShard } from '../../../trainer/jobs/teacher-signal';
import { loadModel, saveModel, type LoadedModel } from '../../../trainer/model-io';
import { onnxStepDecoder } from '../../../trainer/onnx/onnx-decoder';
import { writeOnnxExport } from '../../../trainer/onnx/export-files';
import { cachedLayersForSpec, cacheOneShard } from '../../../trainer/stages/cache-teacher';
import { evaluateShard } from '../../../trainer/stages/evaluate';
import { greedyDecodeWith, beamSearchWith } from '../../../trainer/eval/decode';
import { decodeWithAndWithoutCache, peakyModel } from '../onnx/parity-helpers';

type Task = 'vqa' | 'captioning';

interface Fixture {
  readonly root: string;
  readonly runUri: string;
  readonly dataset: PreparedDataset;
  readonly modelUri: string;
  readonly loaded: LoadedModel;
}

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

/** Prepared synthetic data and a peaky teacher saved with its ONNX export. */
async function fixture(task: Task): Promise<Fixture> {
  const root = mkdtempSync(path.join(tmpdir(), `parity-${task}-`));
  roots.push(root);
  const runUri = runUriFor(root, 'run1');
  const layout = runLayout(runUri);
  await prepareData({ format: 'synthetic', task, seed: 4, train: 10, val: 4, test: 6, imageSize: 16, shardSize: 6, maxTextLength: 8, maxTargetLength: 8 }, layout.data);
  const dataset = await openDataset(layout.data);
  const config = fitConfigToData(
    { fusion: 'single-stream', patchSize: 8, width: 16, mlpWidth: 24, visionLayers: 1, fusionLayers: 2, decoderLayers: task === 'vqa' ? 0 : 1, heads: { vision: 2, fusion: 4, decoder: 2 }, dropout: 0 },
    dataset.manifest,
    dataset.tokenizer.vocabSize,
    'test model',
  );
  const model = peakyModel(config, 11);
  const meta = { task, tokenizer: dataset.tokenizer.toJSON(), answers: dataset.answerVocab, pixelStats: dataset.manifest.pixelStats, provenance: { role: 'teacher' } };
  const modelUri = layout.teacherModel;
  await saveModel(modelUri, model, meta);
  await writeOnnxExport(model, meta, joinUri(modelUri, 'model.onnx'));
  model.dispose();
  return { root, runUri, dataset, modelUri, loaded: await loadModel(modelUri) };
}

function specFor(task: Task, extra: Record<string, unknown> = {}): JobSpec {
  return parseJobSpec({
    version: 1,
    data: { format: 'synthetic', task },
    teacher: { checkpoint: 'file:///unused' },
    students: [{ name: 'small', model: { fusionLayers: 1, heads: { vision: 1, fusion: 2, decoder: 1 } }, distill: { variant: 'kl' } }],
    ...extra,
  });
}

/** Both runtimes' models of the fixture. */
async function runners(f: Fixture): Promise<{ ort: InferenceModel; tfjs: InferenceModel }> {
  const opts = { pixelStats: f.dataset.manifest.pixelStats };
  return { ort: await openInferenceModel(f.modelUri, { ...opts, loaded: f.loaded, runtime: 'onnxruntime' }), tfjs: await openInferenceModel(f.modelUri, { ...opts, loaded: f.loaded, runtime: 'tfjs' }) };
}

beforeAll(async () => {
  await initBackend();
});

describe('teacher cache: ONNX Runtime vs TensorFlow.js', () => {
  let vqa: Fixture;
  beforeAll(async () => {
    vqa = await fixture('vqa');
  });

  /** Writes the cache of every training shard with `runtime`; returns the cache folder. */
  async function writeCache(spec: JobSpec, runtime: 'tfjs' | 'onnxruntime'): Promise<{ dir: string; ran: string[] }> {
    const dir = joinUri(vqa.runUri, `cache-${runtime}-${spec.cache.dtype}`);
    const split = vqa.dataset.split('train');
    const ran: string[] = [];
    for (let s = 0; s < split.numShards; s++) {
      await cacheOneShard({ spec, dataUri: runLayout(vqa.runUri).data, teacherUri: vqa.modelUri, shardUri: split.shardUri(s), cacheDir: dir, runtime, onRuntime: (r) => ran.push(r.name) });
    }
    return { dir, ran };
  }

  test.each(['float32', 'float16'] as const)('%s: every record of every field agrees', async (dtype) => {
    const spec = specFor('vqa', { cache: { enabled: true, dtype } });
    const layers = cachedLayersForSpec(spec, vqa.loaded.model.config, vqa.dataset);
    expect(layers.length).toBeGreaterThan(0);
    const viaOrt = await writeCache(spec, 'onnxruntime');
    const viaTfjs = await writeCache(spec, 'tfjs');
    expect(new Set(viaOrt.ran)).toEqual(new Set(['onnxruntime']));
    expect(new Set(viaTfjs.ran)).toEqual(new Set(['tfjs-wasm']));
    const split = vqa.dataset.split('train');
    let compared = 0;
    for (const [s, shard] of split.entry.shards.entries()) {
      // A data shard's identity covers its examples and the image shard they point into.
      const identity = { teacherHash: vqa.loaded.sha256, dataShardHash: split.shardIdentity(s), layers };
      const a = await TeacherCacheReader.open(cacheDirForShard(viaOrt.dir, shard.file), identity);
      const b = await TeacherCacheReader.open(cacheDirForShard(viaTfjs.dir, shard.file), identity);
      expect(a.exampleIds()).toEqual(b.exampleIds());
      for (const id of a.exampleIds()) {
        const [ra, rb] = [await a.get(id), await b.get(id)];
        expect(Object.keys(ra.fields).sort()).toEqual(Object.keys(rb.fields).sort());
        for (const [name, x] of Object.entries(ra.fields)) {
          const y = rb.fields[name]!;
          expect(x.length).toBe(y.length);
          for (let i = 0; i < x.length; i++) {
            // float32: the runtimes' round-off (attention maps are probabilities ≤ 1; logits scale with |y|).
            // float16: the values may round to neighbouring float16 numbers: one step = |v|·2⁻¹⁰ (2⁻²⁴ below the normal range).
            const tol = dtype === 'float32' ? 1e-5 * Math.max(1, Math.abs(y[i]!)) : Math.max(Math.abs(y[i]!) * 2 ** -10, 2 ** -24) + 1e-5 * Math.max(1, Math.abs(y[i]!));
            if (!(Math.abs(x[i]! - y[i]!) <= tol)) throw new Error(`${dtype} cache, example ${id}, field ${name}[${i}]: onnxruntime ${x[i]} vs tfjs ${y[i]} (tolerance ${tol})`);
            if (dtype === 'float16') expect(fromFloat16Bits(toFloat16Bits(x[i]!))).toBe(x[i]); // stored values are float16 numbers
          }
          compared++;
        }
      }
    }
    expect(compared).toBe(split.size * (layers.length + 1));
  });

  test('VQA evaluation: the same answers on both runtimes, and each part names its runtime', async () => {
    const spec = specFor('vqa');
    const split = vqa.dataset.split('test');
    const parts: Record<string, ReturnType<typeof EvalPartSchema.parse>> = {};
    for (const runtime of ['onnxruntime', 'tfjs'] as const) {
      const outUri = joinUri(vqa.runUri, `eval-${runtime}.json`);
      await evaluateShard({ runUri: vqa.runUri, spec, model: { modelId: 'teacher', modelUri: vqa.modelUri, stage: null }, shardUri: split.shardUri(0), shardIndex: 0, outUri, runtime });
      parts[runtime] = EvalPartSchema.parse(JSON.parse((await storageFor(outUri).get(outUri)).toString('utf8')));
    }
    expect(parts.onnxruntime!.predictions).toEqual(parts.tfjs!.predictions);
    expect(parts.onnxruntime!.count).toBeGreaterThan(0);
    expect(parts.onnxruntime!.runtime).toMatch(/^onnxruntime \d+\.\d+\.\d+, \d+ threads?$/);
    expect(parts.tfjs!.runtime).toBe('tfjs-wasm, 1 thread');
  });

  test('ONNX Runtime reads model.json and model.onnx, never model.bin (the tfjs path still checks it)', async () => {
    // A copy of the model folder whose model.bin is cut short: only the tfjs fallback uses it.
    const copy = joinUri(vqa.runUri, 'models/truncated-bin');
    const files = ['model.json', 'model.onnx', 'model.onnx.json', 'tokenizer.json'];
    for (const f of files) await storageFor(copy).put(joinUri(copy, f), await storageFor(vqa.modelUri).get(joinUri(vqa.modelUri, f)));
    await storageFor(copy).put(joinUri(copy, 'model.bin'), Buffer.alloc(10));
    const spec = specFor('vqa');
    const split = vqa.dataset.split('test');
    const args = (runtime: 'onnxruntime' | 'tfjs') => ({ runUri: vqa.runUri, spec, model: { modelId: 'copy', modelUri: copy, stage: null }, shardUri: split.shardUri(0), shardIndex: 0, outUri: joinUri(vqa.runUri, `eval-copy-${runtime}.json`), runtime });
    await evaluateShard(args('onnxruntime'));
    const part = EvalPartSchema.parse(JSON.parse((await storageFor(args('onnxruntime').outUri).get(args('onnxruntime').outUri)).toString('utf8')));
    expect(part.modelSha256).toBe(vqa.loaded.sha256); // the weights' recorded identity
    await expect(evaluateShard(args('tfjs'))).rejects.toThrow(/model\.bin is truncated or corrupt: 10 bytes/);
  });
});

describe('generation: the same tokens on both runtimes', () => {
  let cap: Fixture;
  let ort: InferenceModel;
  let tfjs: InferenceModel;
  beforeAll(async () => {
    cap = await fixture('captioning');
    ({ ort, tfjs } = await runners(cap));
  });

  const testBatch = () => cap.dataset.split('test').batch([0, 1, 2, 3, 4, 5]);

  test.each([1, 3])('beam size %i (1 = greedy) through encoder.onnx/decoder.onnx', async (beamSize) => {
    const batch = await testBatch();
    const opts = { beamSize, lengthPenalty: 0.6 };
    const [a, b] = [await decodeBatch(ort, batch, opts), await decodeBatch(tfjs, batch, opts)];
    expect(a.map((h) => Array.from(h.tokens))).toEqual(b.map((h) => Array.from(h.tokens)));
    // Not a degenerate agreement: something was generated beyond an immediate EOS.
    expect(a.some((h) => h.tokens.length > 1)).toBe(true);
    a.forEach((h, i) => expect(h.logProb).toBeCloseTo(b[i]!.logProb, 3));
  });

  test('the full model per step (no encoder/decoder split) gives the same tokens', async () => {
    const batch = await testBatch();
    if (!(ort instanceof OnnxInferenceModel)) throw new Error('expected the ONNX Runtime model');
    const onnx = ort.onnx;
    const inputs = { batch: batch.size, images: batch.images, pixelStats: cap.dataset.manifest.pixelStats, text: batch.text };
    for (const beamSize of [1, 2]) {
      const viaFull = await onnxStepDecoder(onnx, inputs, { useSplit: false });
      const viaSplit = await onnxStepDecoder(onnx, inputs);
      const search = (d: typeof viaFull) => (beamSize === 1 ? greedyDecodeWith(d) : beamSearchWith(d, { beamSize }));
      const [a, b] = [await search(viaFull), await search(viaSplit)];
      expect(a.map((h) => Array.from(h.tokens))).toEqual(b.map((h) => Array.from(h.tokens)));
    }
  });

  test('decoder-with-past.onnx (key/value cache) serves every step: the same tokens and scores as decoder.onnx', async () => {
    const batch = await testBatch();
    if (!(ort instanceof OnnxInferenceModel)) throw new Error('expected the ONNX Runtime model');
    const inputs = { batch: batch.size, images: batch.images, pixelStats: cap.dataset.manifest.pixelStats, text: batch.text };
    for (const beamSize of [1, 3]) {
      const { withCache, without } = await decodeWithAndWithoutCache(ort.onnx, inputs, beamSize);
      expect(withCache.map((h) => Array.from(h.tokens))).toEqual(without.map((h) => Array.from(h.tokens)));
      withCache.forEach((h, i) => expect(h.logProb).toBeCloseTo(without[i]!.logProb, 4));
    }
  });

  test('a step whose rows extend no cached row falls back to decoder.onnx with the same candidates', async () => {
    const batch = await testBatch();
    if (!(ort instanceof OnnxInferenceModel)) throw new Error('expected the ONNX Runtime model');
    const inputs = { batch: batch.size, images: batch.images, pixelStats: cap.dataset.manifest.pixelStats, text: batch.text };
    const [cachedDecoder, plain] = [await onnxStepDecoder(ort.onnx, inputs), await onnxStepDecoder(ort.onnx, inputs, { useCache: false })];
    const queries = [
      { rowExample: [0, 1], rowPrefix: [[], []], t: 1, k: 4 },
      { rowExample: [0, 1], rowPrefix: [[5], [6]], t: 2, k: 4 },
      // Row 1's prefix [7, 8] extends [7], which no step produced: the cache cannot serve it.
      { rowExample: [0, 1], rowPrefix: [[5, 9], [7, 8]], t: 3, k: 4 },
      { rowExample: [0, 1], rowPrefix: [[5, 9, 4], [7, 8, 4]], t: 4, k: 4 },
    ];
    for (const q of queries) {
      const [a, b] = [await cachedDecoder.candidates(q), await plain.candidates(q)];
      expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
      Array.from(a.logProbs).forEach((v, i) => expect(v).toBeCloseTo(b.logProbs[i]!, 4));
    }
  });

  test('teacher-forced logits agree (the cache of a generation teacher)', async () => {
    const batch = await testBatch();
    const [a, b] = [await ort.forward(batch), await tfjs.forward(batch)];
    expect(a.logits.shape).toEqual(b.logits.shape);
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < b.logits.data.length; i++) {
      scale = Math.max(scale, Math.abs(b.logits.data[i]!));
      diff = Math.max(diff, Math.abs(a.logits.data[i]! - b.logits.data[i]!));
    }
    expect(diff / scale).toBeLessThan(1e-4);
  });
});
