/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * ONNX export parity: the exported model run on onnxruntime-node gives the TensorFlow.js
 * model's logits (≤ 1e-4 relative) and every attention map (≤ 1e-5 absolute), for every family,
 * with padded text and decoder input, at batch 1 and batch > 1; the encoder/decoder split gives
 * the full model's logits.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../../../trainer/backend';
import { VLModel } from '../../../trainer/model';
import { attentionLayerCounts, type ModelConfig } from '../../../trainer/model/config';
import type { AttentionKind } from '../../../trainer/model/types';
import { greedyDecode } from '../../../trainer/eval/decode';
import { buildOnnxExport, type OnnxExport } from '../../../trainer/onnx/export-model';
import { weightMapOf } from '../../../trainer/onnx/export-files';
import { attentionOutputName, OnnxSidecarSchema } from '../../../contract/onnx-model';
import { tinyConfig } from '../model/fixtures';
import { decoderFeed, maxAbsDiff, maxRelDiff, ortFeeds, peakyModel, rawInputs, sliceInputs, tfInputs, tinyMetadata, type RawInputs } from './parity-helpers';

const LOGIT_REL = 1e-4;
const MAP_ABS = 1e-5;

interface Family {
  readonly name: string;
  readonly config: ModelConfig;
  readonly task: 'vqa' | 'captioning' | 'translation';
}

const FAMILIES: Family[] = [
  { name: 'single-stream VQA', config: tinyConfig('single-stream', false, { visionLayers: 0 }), task: 'vqa' },
  { name: 'single-stream VQA with vision layers', config: tinyConfig('single-stream', false, { visionLayers: 2 }), task: 'vqa' },
  { name: 'two-stream VQA', config: tinyConfig('two-stream', false), task: 'vqa' },
  { name: 'single-stream captioning (decoder)', config: tinyConfig('single-stream', true, { decoderLayers: 2, numAnswers: 0 }), task: 'captioning' },
  { name: 'two-stream translation (decoder)', config: tinyConfig('two-stream', true, { visionLayers: 0, numAnswers: 0 }), task: 'translation' },
];

beforeAll(async () => {
  await initBackend(); // wasm under jest
});

/** Runs the TF model with maps; plain arrays out. */
function tfRun(model: VLModel, x: RawInputs): { logits: Float32Array; maps: Map<string, Float32Array> } {
  const inputs = tfInputs(model.config, x);
  const maps = new Map<string, Float32Array>();
  let logits: Float32Array = new Float32Array(0);
  try {
    tf.tidy(() => {
      const out = model.apply(inputs, { training: false, returnAttention: true });
      for (const [kind, list] of Object.entries(out.attention)) list!.forEach((m, i) => maps.set(attentionOutputName(kind as AttentionKind, i), m.dataSync() as Float32Array));
      logits = (out.answerLogits ?? out.lmLogits)!.dataSync() as Float32Array;
    });
    return { logits, maps };
  } finally {
    tf.dispose(Object.values(inputs));
  }
}

describe.each(FAMILIES)('$name', ({ config, task }) => {
  let model: VLModel;
  let exp: OnnxExport;
  let session: ort.InferenceSession;
  const generation = task !== 'vqa';
  // Example 0: padded text and decoder; 1: no padding; 2: one text token, decoder BOS + 1;
  // 3: all-padding text (two-stream's guarded empty rows), decoder BOS alone.
  const inputs = () =>
    rawInputs(config, [config.maxTextLength - 2, config.maxTextLength, 1, 0], generation ? [config.maxTargetLength - 2, config.maxTargetLength, 2, 1] : undefined, 7);

  beforeAll(async () => {
    model = peakyModel(config, 3);
    exp = buildOnnxExport(config, weightMapOf(model), tinyMetadata(config, task));
    session = await ort.InferenceSession.create(exp.model);
  });
  afterAll(async () => {
    model.dispose();
    await session.release();
  });

  it('declares the contract inputs and an attn.<kind>.<layer> output per attention module, listed in a valid sidecar', () => {
    expect(session.inputNames).toEqual(['pixel_values', 'input_ids', 'attention_mask', ...(generation ? ['decoder_input_ids'] : [])]);
    const counts = attentionLayerCounts(config);
    const expected = (Object.entries(counts) as [AttentionKind, number][])
      .filter(([k]) => generation || (k !== 'decoderSelf' && k !== 'decoderCross'))
      .flatMap(([k, n]) => Array.from({ length: n }, (_, i) => attentionOutputName(k, i)));
    expect(session.outputNames[0]).toBe('logits');
    expect([...session.outputNames.slice(1)].sort()).toEqual([...expected].sort());
    const sidecar = OnnxSidecarSchema.parse(exp.sidecar);
    expect(sidecar.attention.map((a) => a.output).sort()).toEqual([...expected].sort());
    expect(!!exp.encoder && !!exp.decoder).toBe(generation);
  });

  it.each([
    ['batch 4 (padded rows)', 0, 4],
    ['batch 1 (padded row)', 0, 1],
  ])('%s: logits and every attention map equal the TensorFlow.js model', async (_label, from, to) => {
    const x = sliceInputs(config, inputs(), from, to);
    const ref = tfRun(model, x);
    const got = await session.run(ortFeeds(config, x, generation));
    expect(got.logits.dims).toEqual(generation ? [x.batch, config.maxTargetLength, config.vocabSize] : [x.batch, config.numAnswers]);
    expect(maxRelDiff(got.logits.data as Float32Array, ref.logits)).toBeLessThanOrEqual(LOGIT_REL);
    expect(ref.maps.size).toBe(session.outputNames.length - 1);
    for (const [name, map] of ref.maps) {
      const diff = maxAbsDiff(got[name].data as Float32Array, map);
      if (diff > MAP_ABS) throw new Error(`${name}: max |ONNX − tfjs| = ${diff} > ${MAP_ABS}`);
    }
  });

  if (generation) it('encoder.onnx + decoder.onnx give the full model logits and VLModel.encode states', async () => {
    const x = inputs();
    const encoder = await ort.InferenceSession.create(exp.encoder!);
    const decoder = await ort.InferenceSession.create(exp.decoder!);
    try {
      const sidecar = OnnxSidecarSchema.parse(exp.sidecar);
      const split = sidecar.split!;
      const enc = await encoder.run(ortFeeds(config, x, false));
      const dec = await decoder.run({ decoder_input_ids: decoderFeed(x.decoder!), [split.states]: enc[split.states], [split.mask]: enc[split.mask] });
      const full = await session.run(ortFeeds(config, x, true));
      expect(maxRelDiff(dec.logits.data as Float32Array, full.logits.data as Float32Array)).toBeLessThanOrEqual(1e-6);
      const t = tfInputs(config, x);
      const encoded = model.encode({ images: t.images, text: t.text });
      try {
        expect(maxRelDiff(enc[split.states].data as Float32Array, encoded.states.dataSync())).toBeLessThanOrEqual(LOGIT_REL);
        expect(maxAbsDiff(enc[split.mask].data as Float32Array, encoded.valid.dataSync())).toBe(0);
      } finally {
        tf.dispose([encoded.states, encoded.valid, ...Object.values(t)]);
      }
      // A shorter decoder prefix (autoregressive use): its logits are the full run's first positions (causal).
      const prefix = x.decoder!.map((r) => r.slice(0, 2));
      const short = await decoder.run({ decoder_input_ids: decoderFeed(prefix), [split.states]: enc[split.states], [split.mask]: enc[split.mask] });
      const V = config.vocabSize;
      const Ld = config.maxTargetLength;
      const fullFirst = Array.from({ length: x.batch }, (_, b) => Array.from((full.logits.data as Float32Array).slice(b * Ld * V, (b * Ld + 2) * V))).flat();
      expect(maxRelDiff(short.logits.data as Float32Array, fullFirst)).toBeLessThanOrEqual(LOGIT_REL);
    } finally {
      await encoder.release();
      await decoder.release();
    }
  });

  if (generation) it('decoder-with-past.onnx, fed a padded decoder input in chunks with its key/value cache and encoder.onnx\'s cross-attention keys/values, gives decoder.onnx logits', async () => {
    const x = inputs();
    const sidecar = OnnxSidecarSchema.parse(exp.sidecar);
    expect(sidecar.split?.decoderWithPast).toBe('decoder-with-past.onnx');
    const encoder = await ort.InferenceSession.create(exp.encoder!);
    const decoder = await ort.InferenceSession.create(exp.decoder!);
    const cached = await ort.InferenceSession.create(exp.decoderWithPast!);
    try {
      const enc = await encoder.run(ortFeeds(config, x, false));
      const memory = { encoder_hidden_states: enc.encoder_hidden_states, encoder_attention_mask: enc.encoder_attention_mask };
      const full = (await decoder.run({ decoder_input_ids: decoderFeed(x.decoder!), ...memory })).logits.data as Float32Array;
      const H = config.heads.decoder;
      const dh = config.width / H;
      // The cached decoder reads the projected keys/values, not the states.
      expect(cached.inputNames).not.toContain('encoder_hidden_states');
      const cross: Record<string, ort.Tensor> = { encoder_attention_mask: enc.encoder_attention_mask };
      for (let i = 0; i < config.decoderLayers; i++) {
        for (const name of [`cross_key.${i}`, `cross_value.${i}`]) {
          expect(enc[name].dims).toEqual([x.batch, H, enc.encoder_attention_mask.dims[1], dh]);
          cross[name] = enc[name];
        }
      }
      let past: Record<string, ort.Tensor> = { past_valid: new ort.Tensor('float32', new Float32Array(0), [x.batch, 0]) };
      for (let i = 0; i < config.decoderLayers; i++) {
        past[`past_key.${i}`] = new ort.Tensor('float32', new Float32Array(0), [x.batch, H, 0, dh]);
        past[`past_value.${i}`] = new ort.Tensor('float32', new Float32Array(0), [x.batch, H, 0, dh]);
      }
      const Ld = config.maxTargetLength;
      const V = config.vocabSize;
      const stepped = new Float32Array(x.batch * Ld * V);
      // Chunks: BOS + first token together, then one token per step.
      for (const [from, to] of [[0, 2], ...Array.from({ length: Ld - 2 }, (_, t) => [t + 2, t + 3])]) {
        const out = await cached.run({ decoder_input_ids: decoderFeed(x.decoder!.map((r) => r.slice(from, to))), ...cross, ...past });
        const logits = out.logits.data as Float32Array;
        for (let b = 0; b < x.batch; b++) stepped.set(logits.subarray(b * (to - from) * V, (b + 1) * (to - from) * V), (b * Ld + from) * V);
        expect(out.present_valid.dims).toEqual([x.batch, to]);
        past = { past_valid: out.present_valid };
        for (let i = 0; i < config.decoderLayers; i++) {
          expect(out[`present_key.${i}`].dims).toEqual([x.batch, H, to, dh]);
          past[`past_key.${i}`] = out[`present_key.${i}`];
          past[`past_value.${i}`] = out[`present_value.${i}`];
        }
      }
      expect(maxRelDiff(stepped, full)).toBeLessThanOrEqual(LOGIT_REL);
    } finally {
      await encoder.release();
      await decoder.release();
      await cached.release();
    }
  });

  if (generation) it('greedy decoding on encoder.onnx + decoder.onnx gives the tokens of trainer/eval/decode greedyDecode', async () => {
    const x = inputs();
    const encoder = await ort.InferenceSession.create(exp.encoder!);
    const decoder = await ort.InferenceSession.create(exp.decoder!);
    const t = tfInputs(config, x);
    try {
      const expected = greedyDecode(model, { images: t.images, text: t.text }).map((ids) => Array.from(ids));
      // The same search: encode once, then the argmax of the last position's logits over every
      // token but PAD (0) and BOS (2), until EOS (3) or maxTargetLength tokens.
      const enc = await encoder.run(ortFeeds(config, x, false));
      const V = config.vocabSize;
      const got: number[][] = Array.from({ length: x.batch }, () => []);
      const done = new Array<boolean>(x.batch).fill(false);
      for (let step = 1; step <= config.maxTargetLength && done.includes(false); step++) {
        const prefix = got.map((g) => [2, ...g, ...new Array(step - 1 - g.length).fill(0)]); // finished rows padded (their output is ignored)
        const logits = (await decoder.run({ decoder_input_ids: decoderFeed(prefix), encoder_hidden_states: enc.encoder_hidden_states, encoder_attention_mask: enc.encoder_attention_mask })).logits.data as Float32Array;
        for (let b = 0; b < x.batch; b++) {
          if (done[b]) continue;
          const row = logits.subarray((b * step + step - 1) * V, (b * step + step) * V);
          let best = -1;
          for (let v = 0; v < V; v++) if (v !== 0 && v !== 2 && (best < 0 || row[v] > row[best])) best = v;
          got[b].push(best);
          if (best === 3) done[b] = true;
        }
      }
      expect(got).toEqual(expected);
      expect(new Set(got.map((g) => g.join(','))).size).toBeGreaterThan(1); // the examples decode differently: the image/text reach the decoder
    } finally {
      tf.dispose(Object.values(t));
      await encoder.release();
      await decoder.release();
    }
  });
});
