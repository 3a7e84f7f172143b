/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * Every training job writes model.onnx (+ sidecar, tokenizer; encoder/decoder for generation)
 * beside model.json/model.bin, and its ONNX logits on real prepared data equal the saved model's;
 * an export failure fails the job; `amad export` writes the same files for a model folder.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportCommand } from '../../../cli/commands/export';
import { UsageError } from '../../../cli/commands/deps';
import { OnnxSidecarSchema, sidecarPathFor } from '../../../contract/onnx-model';
import { toUri } from '../../../contract/storage';
import { initBackend } from '../../../trainer/backend';
import { openDataset } from '../../../trainer/data/dataset';
import { prepareData } from '../../../trainer/data/prepare';
import { batchTensors, disposeBatchTensors } from '../../../trainer/jobs/task';
import { runTrainJob, type TrainJobArgs } from '../../../trainer/jobs/train-job';
import { log } from '../../../trainer/log';
import { loadModel } from '../../../trainer/model-io';
import * as exportFiles from '../../../trainer/onnx/export-files';
import { TrainOptionsSchema } from '../../../trainer/train/options';
import { testDeps } from '../../cli/fixtures/deps';
import { maxRelDiff } from './parity-helpers';

log.level = 'warn';

const ARCH = { patchSize: 8, width: 16, mlpWidth: 32, visionLayers: 1, fusionLayers: 1, decoderLayers: 1, heads: { vision: 2, fusion: 4, decoder: 2 }, dropout: 0 };
let root: string;

beforeAll(async () => {
  await initBackend();
  root = mkdtempSync(path.join(tmpdir(), 'onnx-job-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function trainTiny(task: 'vqa' | 'captioning', fusion: 'single-stream' | 'two-stream', name: string): Promise<{ args: TrainJobArgs; dataUri: string }> {
  const dataUri = toUri(path.join(root, `data-${task}`));
  if (!existsSync(fileURLToPath(dataUri))) {
    await prepareData({ format: 'synthetic', task, seed: 3, train: 16, val: 6, test: 4, imageSize: 16, maxTextLength: 6, shardSize: 16, ...(task === 'vqa' ? { answerVocabSize: 8 } : {}) }, dataUri);
  }
  const args: TrainJobArgs = {
    dataUri,
    model: { ...ARCH, fusion, decoderLayers: task === 'vqa' ? 0 : 1 },
    train: TrainOptionsSchema.parse({ steps: 2, batchSize: 4, warmupSteps: 1, evalEvery: 0, evalExamples: 4, checkpointEvery: 0 }),
    modelDir: toUri(path.join(root, 'models', name)),
    checkpointDir: toUri(path.join(root, 'checkpoints', name)),
    name,
  };
  return { args, dataUri };
}

/** ONNX logits of the model folder's model.onnx on validation examples, fed per its sidecar, vs the saved tfjs model. */
async function checkAgainstSavedModel(modelDir: string, dataUri: string): Promise<void> {
  const dir = fileURLToPath(modelDir);
  const sidecar = OnnxSidecarSchema.parse(JSON.parse(readFileSync(sidecarPathFor(path.join(dir, 'model.onnx')), 'utf8')));
  expect(existsSync(path.join(dir, sidecar.tokenizer.file))).toBe(true);
  const loaded = await loadModel(modelDir);
  const data = await openDataset(dataUri);
  expect(sidecar.image.mean).toEqual(data.manifest.pixelStats.mean);
  expect(sidecar.image.std).toEqual(data.manifest.pixelStats.std);
  const batch = await data.split('val').batch([0, 1, 2, 3, 4]);
  const bt = batchTensors(batch, loaded.model.config);
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
  try {
    const ref = tf.tidy(() => {
      const out = loaded.model.apply(bt.inputs, { training: false });
      return (out.answerLogits ?? out.lmLogits)!.dataSync() as Float32Array;
    });
    const B = batch.size;
    const ids = (t: tf.Tensor2D) => new ort.Tensor('int64', BigInt64Array.from(Array.from(t.dataSync(), BigInt)), t.shape);
    const S = sidecar.image.size;
    const feeds: Record<string, ort.Tensor> = {
      [sidecar.image.input]: new ort.Tensor('float32', batch.images, [B, S, S, 3]),
      [sidecar.text.ids]: ids(bt.inputs.text),
      [sidecar.text.mask]: new ort.Tensor('int64', BigInt64Array.from(Array.from(bt.inputs.text.dataSync(), (v) => BigInt(v === sidecar.text.padId ? 0 : 1))), bt.inputs.text.shape),
    };
    if (sidecar.decoder) feeds[sidecar.decoder.ids] = ids(bt.inputs.decoderInput!);
    const got = await session.run(feeds);
    expect(maxRelDiff(got[sidecar.logits].data as Float32Array, ref)).toBeLessThanOrEqual(1e-4);
  } finally {
    disposeBatchTensors(bt);
    loaded.model.dispose();
    await session.release();
  }
}

test('a VQA training job writes model.onnx, its sidecar and tokenizer, matching the saved model on real data', async () => {
  const { args, dataUri } = await trainTiny('vqa', 'single-stream', 'vqa-teacher');
  const result = await runTrainJob(args);
  const dir = fileURLToPath(args.modelDir);
  expect(result.onnxFiles.map((f) => path.basename(fileURLToPath(f)))).toEqual(['model.onnx', 'model.onnx.json', 'tokenizer.json']);
  await checkAgainstSavedModel(args.modelDir, dataUri);
  expect(JSON.parse(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'))).toEqual((await loadModel(args.modelDir)).metadata.tokenizer);
});

test('a captioning training job also writes encoder.onnx, decoder.onnx and decoder-with-past.onnx', async () => {
  const { args, dataUri } = await trainTiny('captioning', 'two-stream', 'cap-teacher');
  const result = await runTrainJob(args);
  expect(result.onnxFiles.map((f) => path.basename(fileURLToPath(f)))).toEqual(['model.onnx', 'model.onnx.json', 'tokenizer.json', 'encoder.onnx', 'decoder.onnx', 'decoder-with-past.onnx']);
  await checkAgainstSavedModel(args.modelDir, dataUri);
});

test('an ONNX export failure fails the job with a message naming the model and the retry', async () => {
  const { args } = await trainTiny('vqa', 'two-stream', 'vqa-broken');
  const spy = jest.spyOn(exportFiles, 'writeOnnxExport').mockRejectedValueOnce(new Error('disk full'));
  try {
    await expect(runTrainJob(args)).rejects.toThrow(/vqa-broken: the ONNX export of the trained model to .*model\.onnx failed \(model\.json\/model\.bin are saved; `amad export .*` retries it\): disk full/);
  } finally {
    spy.mockRestore();
  }
});

describe('amad export', () => {
  test('writes model.onnx, sidecar and tokenizer for a model folder (custom --out names its companions after it)', async () => {
    const modelDir = path.join(root, 'models', 'vqa-teacher');
    const out = path.join(root, 'exported', 'student.onnx');
    const deps = testDeps();
    expect(await exportCommand({ modelDir, out, opset: 18 }, deps)).toBe(0);
    expect(deps.stdout.map((u) => path.basename(fileURLToPath(u)))).toEqual(['student.onnx', 'student.onnx.json', 'student.tokenizer.json']);
    const sidecar = OnnxSidecarSchema.parse(JSON.parse(readFileSync(`${out}.json`, 'utf8')));
    expect(sidecar.tokenizer.file).toBe('student.tokenizer.json');
    expect(deps.stderr.join('\n')).toMatch(/opset 18/);
    const session = await ort.InferenceSession.create(out);
    await session.release();
  });

  test('refuses a bad opset, a non-.onnx output and a folder without a model, naming the fix', async () => {
    const modelDir = path.join(root, 'models', 'vqa-teacher');
    await expect(exportCommand({ modelDir, opset: 12 }, testDeps())).rejects.toThrow(new UsageError('--opset: opset 12 is not supported: choose an integer in 17..23 (LayerNormalization needs ≥ 17)'));
    await expect(exportCommand({ modelDir, out: path.join(root, 'x.bin') }, testDeps())).rejects.toThrow(/--out .*x\.bin: name a \.onnx file/);
    await expect(exportCommand({ modelDir: path.join(root, 'nothing') }, testDeps())).rejects.toThrow(/holds no model\.json: pass a model folder written by a training job/);
  });
});
