/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * The exported graph's form (trainer/onnx/layers.ts): standard-domain operators only, graph
 * outputs that are not Identity copies, no slow `[0, 2, 1, 3]` transposes, and the patterns
 * ONNX Runtime's CPU optimiser turns into single kernels (every MLP's GELU → FastGelu, every
 * bias inside its Gemm) — checked on the graph ONNX Runtime actually runs
 * (`optimizedModelFilePath`). Also: masked keys still get exactly zero probability and an
 * all-padding text still gives all-zero rows, now that the key-padding bias rides inside
 * Q·Kᵀ; and empty text or an empty batch still run. (Values against TensorFlow.js:
 * parity.test.ts.)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { initBackend } from '../../../trainer/backend';
import type { VLModel } from '../../../trainer/model';
import { numPatches, type ModelConfig } from '../../../trainer/model/config';
import { buildOnnxExport, type OnnxExport } from '../../../trainer/onnx/export-model';
import { weightMapOf } from '../../../trainer/onnx/export-files';
import { decodeModel } from '../../../trainer/onnx/graph';
import { tinyConfig } from '../model/fixtures';
import { ortFeeds, peakyModel, rawInputs, tinyMetadata } from './parity-helpers';

const FAMILIES: { name: string; config: ModelConfig; task: 'vqa' | 'captioning' }[] = [
  { name: 'single-stream VQA with vision layers', config: tinyConfig('single-stream', false, { visionLayers: 2 }), task: 'vqa' },
  { name: 'two-stream VQA', config: tinyConfig('two-stream', false), task: 'vqa' },
  { name: 'two-stream captioning (decoder)', config: tinyConfig('two-stream', true, { numAnswers: 0 }), task: 'captioning' },
];

let dir: string;
beforeAll(async () => {
  await initBackend();
  dir = mkdtempSync(path.join(tmpdir(), 'onnx-graph-form-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The graph ONNX Runtime runs after its optimiser (level "all", as trainer/onnx/runtime.ts creates sessions). */
async function optimized(model: Uint8Array, name: string): Promise<onnx.IGraphProto> {
  const file = path.join(dir, `${name}.onnx`);
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', optimizedModelFilePath: file, logSeverityLevel: 3 });
  await session.release();
  return decodeModel(readFileSync(file)).graph!;
}

const perm = (n: onnx.INodeProto) => n.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);

describe.each(FAMILIES)('$name', ({ name, config, task }) => {
  let model: VLModel;
  let exp: OnnxExport;
  beforeAll(() => {
    model = peakyModel(config, 2);
    exp = buildOnnxExport(config, weightMapOf(model), tinyMetadata(config, task));
  });
  afterAll(() => model.dispose());

  const files = () => Object.entries({ model: exp.model, encoder: exp.encoder, decoder: exp.decoder, decoderWithPast: exp.decoderWithPast }).filter((e): e is [string, Uint8Array] => !!e[1]);

  it('every file uses standard-domain operators only, copies no output through an Identity and has no [0, 2, 1, 3] transpose', () => {
    for (const [file, bytes] of files()) {
      const proto = decodeModel(bytes);
      expect(proto.opsetImport.map((o) => o.domain ?? '')).toEqual(['']);
      const nodes = proto.graph!.node!;
      expect({ file, domains: [...new Set(nodes.map((n) => n.domain ?? ''))] }).toEqual({ file, domains: [''] });
      expect({ file, identities: nodes.filter((n) => n.opType === 'Identity').length }).toEqual({ file, identities: 0 });
      const slow = nodes.filter((n) => n.opType === 'Transpose' && perm(n)?.join() === '0,2,1,3');
      expect({ file, slowTransposes: slow.length }).toEqual({ file, slowTransposes: 0 });
      // Every declared output is written by a node under its own name.
      const written = new Set(nodes.flatMap((n) => n.output!));
      for (const o of proto.graph!.output!) expect(written.has(o.name!)).toBe(true);
    }
  });

  it('on ONNX Runtime every GELU runs as one FastGelu and every bias inside its Gemm', async () => {
    const mlps = config.visionLayers + config.fusionLayers + config.decoderLayers;
    const graph = await optimized(exp.model, `${name}-model`.replace(/\W+/g, '-'));
    const ops = graph.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'FastGelu')).toHaveLength(mlps);
    expect(ops).not.toContain('Tanh');
    expect(ops).not.toContain('Identity');
    // No Add reads a trained bias (names `<module>/b`, derived ones `<module>/b/<layout>`).
    const biasAdds = graph.node!.filter((n) => n.opType === 'Add' && n.input!.some((i) => /\/b(\/|$)/.test(i)));
    expect(biasAdds.map((n) => n.input)).toEqual([]);
  });
});

describe('masking with the key-padding bias inside Q·Kᵀ', () => {
  it('masked keys get probability exactly 0 (single-stream), and an all-padding text all-zero rows (two-stream)', async () => {
    const single = tinyConfig('single-stream', false);
    const two = tinyConfig('two-stream', false);
    for (const [config, kind] of [
      [single, 'fusionSelf'],
      [two, 'fusionSelf'],
    ] as const) {
      const m = peakyModel(config, 4);
      const session = await ort.InferenceSession.create(buildOnnxExport(config, weightMapOf(m), tinyMetadata(config, 'vqa')).model);
      m.dispose();
      try {
        const x = rawInputs(config, [2, config.maxTextLength, 0], undefined, 9); // 2 real tokens, none padded, all padding
        const out = await session.run(ortFeeds(config, x, false));
        for (let layer = 0; layer < config.fusionLayers; layer++) {
          const map = out[`attn.${kind}.${layer}`]!;
          const [B, H, Q, K] = map.dims as number[];
          const data = map.data as Float32Array;
          const at = (b: number, h: number, q: number, k: number) => data[((b * H + h) * Q + q) * K + k]!;
          const textStart = config.fusion === 'single-stream' ? numPatches(config) : 0; // the text's first key
          for (let h = 0; h < H; h++)
            for (let q = 0; q < Q; q++) {
              for (let k = textStart + 2; k < K; k++) expect(at(0, h, q, k)).toBe(0); // example 0: keys after its 2 tokens
              let sum = 0;
              for (let k = 0; k < K; k++) sum += at(1, h, q, k);
              expect(sum).toBeCloseTo(1, 5); // example 1: a distribution over its keys
              for (let k = 0; k < K; k++) if (config.fusion === 'two-stream') expect(at(2, h, q, k)).toBe(0); // example 2: no valid key at all
            }
          expect(B).toBe(3);
        }
      } finally {
        await session.release();
      }
    }
  });

  it('an empty text (length 0) and an empty batch still run', async () => {
    for (const config of [tinyConfig('single-stream', false), tinyConfig('two-stream', false)]) {
      const m = peakyModel(config, 4);
      const session = await ort.InferenceSession.create(buildOnnxExport(config, weightMapOf(m), tinyMetadata(config, 'vqa')).model);
      m.dispose();
      try {
        const s = config.imageSize;
        const run = (batch: number, length: number) =>
          session.run({
            pixel_values: new ort.Tensor('float32', new Float32Array(batch * s * s * 3).fill(0.5), [batch, s, s, 3]),
            input_ids: new ort.Tensor('int64', new BigInt64Array(batch * length).fill(5n), [batch, length]),
            attention_mask: new ort.Tensor('int64', new BigInt64Array(batch * length).fill(1n), [batch, length]),
          });
        const noText = await run(2, 0);
        expect(noText.logits!.dims).toEqual([2, config.numAnswers]);
        expect(Array.from(noText.logits!.data as Float32Array).every(Number.isFinite)).toBe(true);
        expect((await run(0, 3)).logits!.dims).toEqual([0, config.numAnswers]);
      } finally {
        await session.release();
      }
    }
  });
});
