/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/** The exporter's opset range, metadata, dynamic batch and its refusals. */
import * as ort from 'onnxruntime-node';
import { initBackend } from '../../../trainer/backend';
import type { VLModel } from '../../../trainer/model';
import { decodeModel } from '../../../trainer/onnx/graph';
import { buildOnnxExport, MAX_OPSET, METADATA_KEYS, MIN_OPSET, OnnxExportError } from '../../../trainer/onnx/export-model';
import { weightMapOf } from '../../../trainer/onnx/export-files';
import { OnnxSidecarSchema } from '../../../contract/onnx-model';
import { tinyConfig } from '../model/fixtures';
import { maxAbsDiff, ortFeeds, peakyModel, rawInputs, tinyMetadata } from './parity-helpers';

const config = tinyConfig('two-stream', true, { numAnswers: 0 });
let model: VLModel;

beforeAll(async () => {
  await initBackend();
  model = peakyModel(config, 5);
});
afterAll(() => model.dispose());

describe('opset', () => {
  it.each([16, MAX_OPSET + 1, 17.5])('refuses opset %p naming the supported range', (opset) => {
    expect(() => buildOnnxExport(config, weightMapOf(model), tinyMetadata(config, 'captioning'), { opset })).toThrow(
      new OnnxExportError(`opset ${opset} is not supported: choose an integer in ${MIN_OPSET}..${MAX_OPSET} (LayerNormalization needs ≥ 17)`),
    );
  });

  it(`every opset in ${MIN_OPSET}..${MAX_OPSET} loads in ONNX Runtime and computes the same logits`, async () => {
    const x = rawInputs(config, [3, 5], [2, 4], 11);
    let reference: Float32Array | undefined;
    for (let opset = MIN_OPSET; opset <= MAX_OPSET; opset++) {
      const exp = buildOnnxExport(config, weightMapOf(model), tinyMetadata(config, 'captioning'), { opset });
      const proto = decodeModel(exp.model);
      expect(proto.opsetImport).toEqual([expect.objectContaining({ domain: '', version: expect.anything() })]);
      expect(Number(proto.opsetImport[0].version)).toBe(opset);
      const session = await ort.InferenceSession.create(exp.model);
      const logits = (await session.run(ortFeeds(config, x, true))).logits.data as Float32Array;
      await session.release();
      reference ??= logits;
      expect(maxAbsDiff(logits, reference)).toBe(0);
    }
  });
});

it('embeds the sidecar, pixel stats, tokenizer and config in metadata_props, and declares a dynamic batch', () => {
  const meta = tinyMetadata(config, 'translation');
  const exp = buildOnnxExport(config, weightMapOf(model), meta);
  for (const bytes of [exp.model, exp.encoder!, exp.decoder!, exp.decoderWithPast!]) {
    const proto = decodeModel(bytes);
    const props = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
    expect(OnnxSidecarSchema.parse(JSON.parse(props[METADATA_KEYS.sidecar]!))).toEqual(OnnxSidecarSchema.parse(exp.sidecar));
    expect(JSON.parse(props[METADATA_KEYS.pixelStats]!)).toEqual(meta.pixelStats);
    expect(JSON.parse(props[METADATA_KEYS.tokenizer]!)).toEqual(meta.tokenizer);
    expect(JSON.parse(props[METADATA_KEYS.config]!)).toEqual(config);
    for (const v of [...proto.graph!.input!, ...proto.graph!.output!]) expect(v.type!.tensorType!.shape!.dim![0].dimParam).toBe('batch');
  }
  expect(exp.sidecar).toMatchObject({
    task: 'translation',
    image: { input: 'pixel_values', layout: 'NHWC', size: config.imageSize, mean: meta.pixelStats.mean, std: meta.pixelStats.std },
    text: { ids: 'input_ids', mask: 'attention_mask', idType: 'int64', maxLength: config.maxTextLength, padId: 0 },
    decoder: { ids: 'decoder_input_ids', maxLength: config.maxTargetLength, bosId: 2, eosId: 3, padId: 0 },
    split: { encoder: 'encoder.onnx', decoder: 'decoder.onnx', decoderWithPast: 'decoder-with-past.onnx', states: 'encoder_hidden_states', mask: 'encoder_attention_mask' },
  });
});

it('refuses a task its config cannot serve, naming the field', () => {
  const vqa = tinyConfig('single-stream', false);
  const m = peakyModel(vqa, 1);
  try {
    expect(() => buildOnnxExport(vqa, weightMapOf(m), tinyMetadata(vqa, 'captioning'))).toThrow(/captioning model needs a decoder, but config.decoderLayers is 0/);
    expect(() => buildOnnxExport(vqa, weightMapOf(m), { ...tinyMetadata(vqa, 'vqa'), answers: ['yes'] })).toThrow(/3 answer classes but its metadata lists 1/);
    const missing = new Map(weightMapOf(m));
    missing.delete('head/answer/w');
    expect(() => buildOnnxExport(vqa, missing, tinyMetadata(vqa, 'vqa'))).toThrow(/no "head\/answer\/w"/);
  } finally {
    m.dispose();
  }
});

it('a VQA sidecar carries the answer surface forms when the model has them (issue 18), and the contract checks their count', () => {
  const vqa = tinyConfig('single-stream', false);
  const m = peakyModel(vqa, 1);
  try {
    const meta = tinyMetadata(vqa, 'vqa');
    const forms = meta.answers.map((a) => `${a}-form`);
    const withForms = buildOnnxExport(vqa, weightMapOf(m), { ...meta, answerForms: forms }).sidecar;
    expect(withForms).toMatchObject({ answers: meta.answers, answerForms: forms });
    expect(OnnxSidecarSchema.parse(withForms).answerForms).toEqual(forms);
    expect(buildOnnxExport(vqa, weightMapOf(m), meta).sidecar).not.toHaveProperty('answerForms');
    expect(() => OnnxSidecarSchema.parse({ ...withForms, answerForms: forms.slice(1) })).toThrow(/answerForms lists 2 forms for 3 answers/);
  } finally {
    m.dispose();
  }
});

it('refuses weights beyond the 2 GB a single-file ONNX model can hold, before building anything', () => {
  const huge = new Map(weightMapOf(model));
  huge.set('embedding/token', { data: { byteLength: 2 ** 31 } as Float32Array, shape: [2 ** 29, 1] }); // a stand-in: only its size is read
  expect(() => buildOnnxExport(config, huge, tinyMetadata(config, 'captioning'))).toThrow(/more than a single-file ONNX model can hold \(protobuf's 2 GB\)/);
});
