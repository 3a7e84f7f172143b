/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * The ONNX Runtime plumbing (trainer/onnx): the runtime loads here and says so, sessions carry
 * an explicit thread count, and a batch is fed exactly as the sidecar states — image layout and
 * re-normalisation, int64 ids, the padding mask, padded lengths — checked against values
 * computed in plain JS on a hand-built model (test/trainer/onnx/tiny-onnx.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { OnnxModel, OnnxModelError, padIds } from '../../../trainer/onnx/onnx-model';
import { loadOnnxRuntime, onnxThreads, OnnxRuntimeError, resetOnnxRuntimeForTests } from '../../../trainer/onnx/runtime';
import { tinyOnnxModel, tinySidecar } from './tiny-onnx';

const S = 4;
const L = 5;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'amad-onnx-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = process.env.AMAD_QUIET_BACKEND;
beforeEach(() => {
  delete process.env.AMAD_QUIET_BACKEND; // these tests read the log line
});
afterEach(() => {
  process.env.AMAD_QUIET_BACKEND = quiet;
  delete process.env.AMAD_INFERENCE_RUNTIME;
  delete process.env.AMAD_ORT_THREADS;
  resetOnnxRuntimeForTests();
});

function writeModel(name: string, layout: 'NHWC' | 'NCHW', sidecar: object = tinySidecar(S, L, layout)): string {
  const file = path.join(dir, `${name}.onnx`);
  writeFileSync(file, tinyOnnxModel(S, L, layout));
  writeFileSync(`${file}.json`, JSON.stringify(sidecar));
  return file;
}

/** Deterministic pixels `[B, S, S, 3]` and the batch's normalisation. */
function pixels(B: number): Float32Array {
  return Float32Array.from({ length: B * S * S * 3 }, (_, i) => Math.sin(i * 0.37));
}
const dataStats = { mean: [0.4, 0.5, 0.6], std: [0.2, 0.3, 0.1] };

/** What the model must see per channel: mean over pixels of (x·std_d + mean_d − mean_m)/std_m. */
function expectedChannelMeans(images: Float32Array, B: number, model: { mean: number[]; std: number[] }): number[][] {
  return Array.from({ length: B }, (_, b) =>
    [0, 1, 2].map((c) => {
      let sum = 0;
      for (let p = 0; p < S * S; p++) sum += (images[(b * S * S + p) * 3 + c]! * dataStats.std[c]! + dataStats.mean[c]! - model.mean[c]!) / model.std[c]!;
      return sum / (S * S);
    }),
  );
}

describe('loadOnnxRuntime', () => {
  test('loads onnxruntime-node on this machine and logs the runtime and thread count', () => {
    const lines: string[] = [];
    const rt = loadOnnxRuntime((l) => lines.push(l));
    expect(rt.available).toBe(true);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'inference runtime selected', runtime: 'onnxruntime', threads: onnxThreads() });
  });

  test('AMAD_INFERENCE_RUNTIME=tfjs falls back and says why', () => {
    process.env.AMAD_INFERENCE_RUNTIME = 'tfjs';
    const lines: string[] = [];
    const rt = loadOnnxRuntime((l) => lines.push(l));
    expect(rt.available).toBe(false);
    expect(JSON.parse(lines[0]!)).toMatchObject({ runtime: 'tfjs', reason: 'fallback: AMAD_INFERENCE_RUNTIME=tfjs' });
  });

  test('an unknown AMAD_INFERENCE_RUNTIME or a bad AMAD_ORT_THREADS is refused, naming the variable', () => {
    process.env.AMAD_INFERENCE_RUNTIME = 'ort';
    expect(() => loadOnnxRuntime(() => {})).toThrow(/AMAD_INFERENCE_RUNTIME="ort" is not a runtime; use "onnxruntime" or "tfjs"/);
    process.env.AMAD_ORT_THREADS = '0';
    expect(() => onnxThreads()).toThrow(OnnxRuntimeError);
    expect(() => onnxThreads()).toThrow(/AMAD_ORT_THREADS="0" must be a positive integer/);
    process.env.AMAD_ORT_THREADS = '3';
    expect(onnxThreads()).toBe(3);
  });

  test.each([
    [1, 1],
    [2, 1],
    [8, 7],
  ])('without AMAD_ORT_THREADS, %i CPU(s) give %i intra-op thread(s): one core stays with the stage thread', (cpus, threads) => {
    expect(onnxThreads(cpus)).toBe(threads);
  });
});

describe('OnnxModel', () => {
  test.each(['NHWC', 'NCHW'] as const)('feeds %s images re-normalised to the sidecar, int64 ids and the padding mask', async (layout) => {
    process.env.AMAD_ORT_THREADS = '1';
    const m = await OnnxModel.open(writeModel(`tiny-${layout}`, layout), { runtime: loadOnnxRuntime(() => {}) });
    expect(m.threads).toBe(1);
    const B = 2;
    const images = pixels(B);
    const text = Int32Array.from([5, 7, 9, 0, 0, 4, 0, 0, 0, 0]); // [2, 5]: 3 and 1 real tokens
    const out = await m.run({ batch: B, images, pixelStats: dataStats, text }, { attentionOutputs: [m.attentionOutput('fusionSelf', 0)] });
    expect(out.logits.shape).toEqual([B, 4]);
    const want = expectedChannelMeans(images, B, { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < 3; c++) expect(out.logits.data[b * 4 + c]).toBeCloseTo(want[b]![c]!, 4);
    }
    expect(out.logits.data[3]).toBe(21);
    expect(out.logits.data[7]).toBe(4);
    const attn = out.attention['attn.fusionSelf.0']!;
    expect(attn.shape).toEqual([B, 1, 1, L]);
    // softmax of the mask: real tokens e/(n·e + (L−n)), padding 1/(n·e + (L−n)).
    const e = Math.E;
    expect(attn.data[0]).toBeCloseTo(e / (3 * e + 2), 6);
    expect(attn.data[4]).toBeCloseTo(1 / (3 * e + 2), 6);
    expect(attn.data[5]).toBeCloseTo(e / (e + 4), 6);
  });

  test('shorter texts are padded to the sidecar length; an attention module the model lacks is named', async () => {
    const m = await OnnxModel.open(writeModel('tiny-pad', 'NHWC'), { runtime: loadOnnxRuntime(() => {}) });
    const out = await m.run({ batch: 1, images: pixels(1), pixelStats: dataStats, text: Int32Array.from([3, 3]) });
    expect(out.logits.data[3]).toBe(6);
    expect(() => m.attentionOutput('visionSelf', 2)).toThrow(/exposes no visionSelf attention of layer 2 \(its sidecar lists fusionSelf.0\)/);
  });

  test('a bad sidecar is refused naming the field; a missing one names the file', async () => {
    const rt = loadOnnxRuntime(() => {});
    const bad = { ...tinySidecar(S, L, 'NHWC'), image: { layout: 'HWC', size: S, mean: [0, 0, 0], std: [1, 1, 1] } };
    await expect(OnnxModel.open(writeModel('tiny-bad', 'NHWC', bad), { runtime: rt })).rejects.toThrow(/tiny-bad.onnx.json is not a valid ONNX sidecar: image.layout/);
    const lone = path.join(dir, 'lone.onnx');
    writeFileSync(lone, tinyOnnxModel(S, L, 'NHWC'));
    await expect(OnnxModel.open(lone, { runtime: rt })).rejects.toThrow(OnnxModelError);
    await expect(OnnxModel.open(lone, { runtime: rt })).rejects.toThrow(/lone.onnx.json.*needs its model.onnx.json beside it/);
  });

  test('padIds refuses to cut real tokens', () => {
    expect(Array.from(padIds(Int32Array.from([1, 2, 0]), 1, 3, 2, 0))).toEqual([1, 2]);
    expect(() => padIds(Int32Array.from([1, 2, 3]), 1, 3, 2, 0)).toThrow(/example 0 has 3 tokens but the model reads at most 2/);
  });
});
