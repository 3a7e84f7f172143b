/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * Exports from before encoder.onnx computed the decoder's cross-attention keys/values
 * (test/fixtures/onnx-v1-decoder, written by commit feab3e0's exporter: its
 * decoder-with-past.onnx reads the encoder states) still decode with their key/value cache,
 * to the tokens of the current export of the same weights, whose cached decoder reads the
 * keys/values instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../../trainer/backend';
import { writeOnnxExport } from '../../../trainer/onnx/export-files';
import { OnnxModel } from '../../../trainer/onnx/onnx-model';
import { loadOnnxRuntime } from '../../../trainer/onnx/runtime';
import { FIXTURE_CONFIG_OVERRIDES, FIXTURE_SEED } from '../../fixtures/onnx-v1-decoder/config';
import { tinyConfig } from '../model/fixtures';
import { decodeWithAndWithoutCache, peakyModel, rawInputs, tinyMetadata } from './parity-helpers';

const FIXTURE = path.join(__dirname, '..', '..', 'fixtures', 'onnx-v1-decoder', 'model.onnx');
const config = tinyConfig('single-stream', true, FIXTURE_CONFIG_OVERRIDES);
let dir: string;
let older: OnnxModel;
let current: OnnxModel;

beforeAll(async () => {
  await initBackend();
  dir = mkdtempSync(path.join(tmpdir(), 'amad-decoder-compat-'));
  const model = peakyModel(config, FIXTURE_SEED);
  await writeOnnxExport(model, tinyMetadata(config, 'captioning'), path.join(dir, 'model.onnx'));
  model.dispose();
  const runtime = loadOnnxRuntime(() => {});
  [older, current] = [await OnnxModel.open(FIXTURE, { runtime, thread: 'caller' }), await OnnxModel.open(path.join(dir, 'model.onnx'), { runtime, thread: 'caller' })];
});
afterAll(async () => {
  await older?.release();
  await current?.release();
  rmSync(dir, { recursive: true, force: true });
});

function batchInputs() {
  const x = rawInputs(config, [config.maxTextLength, 2, config.maxTextLength - 1, 1], undefined, 5);
  return { batch: x.batch, images: x.pixels, pixelStats: tinyMetadata(config, 'captioning').pixelStats, text: Int32Array.from(x.text.flat()) };
}

test('the fixture is the older format, the current export the newer', async () => {
  const [a, b] = [(await older.splitSessions())!, (await current.splitSessions())!];
  expect(a.decoderWithPast!.session.inputNames).toContain('encoder_hidden_states');
  expect(a.decoderWithPast!.session.inputNames).not.toContain('cross_key.0');
  expect(b.decoderWithPast!.session.inputNames).not.toContain('encoder_hidden_states');
  expect(b.decoderWithPast!.session.inputNames).toEqual(expect.arrayContaining(['encoder_attention_mask', 'cross_key.0', 'cross_value.0', 'cross_key.1', 'cross_value.1']));
});

test.each([1, 3])('beam %i: both formats decode every step with their cache, to the tokens of decoding without it', async (beamSize) => {
  const inputs = batchInputs();
  const tokens: number[][][] = [];
  for (const model of [older, current]) {
    const { withCache, without } = await decodeWithAndWithoutCache(model, inputs, beamSize);
    expect(withCache.map((h) => Array.from(h.tokens))).toEqual(without.map((h) => Array.from(h.tokens)));
    withCache.forEach((h, i) => expect(h.logProb).toBeCloseTo(without[i]!.logProb, 4));
    tokens.push(withCache.map((h) => Array.from(h.tokens)));
  }
  expect(tokens[1]).toEqual(tokens[0]); // the same weights in either format
  expect(new Set(tokens[0]!.map((t) => t.join(','))).size).toBeGreaterThan(1); // examples differ: not a degenerate decode
});
