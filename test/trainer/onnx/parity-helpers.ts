/** Shared by the ONNX parity tests: tiny models with non-trivial weights, padded inputs, ORT runs. */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { VLModel } from '../../../trainer/model';
import type { ModelConfig } from '../../../trainer/model/config';
import { beamSearchWith, greedyDecodeWith, type Hypothesis } from '../../../trainer/eval/decode';
import type { ExportMetadata } from '../../../trainer/onnx/export-model';
import { onnxStepDecoder } from '../../../trainer/onnx/onnx-decoder';
import type { OnnxBatchInputs, OnnxModel } from '../../../trainer/onnx/onnx-model';
import { mulberry } from '../model/fixtures';

/**
 * A model whose weights are redrawn at a scale where attention is far from uniform (the
 * default init, std 0.02, gives near-uniform maps that would hide a wrong scale or mask) and
 * LayerNorm gains/biases are not the identity.
 */
export function peakyModel(config: ModelConfig, seed: number): VLModel {
  const model = new VLModel(config, { seed });
  const rnd = mulberry(seed + 1000);
  for (const { name, tensor } of model.namedWeights()) {
    const scale = /gamma$/.test(name) ? 0.5 : /embedding|positions|modality/.test(name) ? 1 : 0.6;
    const base = /gamma$/.test(name) ? 1 : 0;
    const values = Float32Array.from({ length: tensor.size }, () => base + (rnd() * 2 - 1) * scale);
    tensor.assign(tf.tensor(values, tensor.shape));
  }
  return model;
}

export function tinyMetadata(config: ModelConfig, task: ExportMetadata['task']): ExportMetadata {
  const vocab = ['[PAD]', '[UNK]', '[BOS]', '[EOS]', ...Array.from({ length: config.vocabSize - 4 }, (_, i) => `w${i}`)];
  return {
    task,
    tokenizer: { kind: 'word', version: 1, lowercase: true, vocab },
    answers: task === 'vqa' ? Array.from({ length: config.numAnswers }, (_, i) => `answer${i}`) : [],
    pixelStats: { mean: [0.5, 0.4, 0.3], std: [0.25, 0.2, 0.3] },
    provenance: { test: true },
  };
}

/** Plain-array inputs of B examples; text and decoder rows follow `textLens` / `decoderLens` (real tokens, rest PAD). */
export interface RawInputs {
  readonly batch: number;
  readonly pixels: Float32Array; // [B, S, S, 3]
  readonly text: number[][]; // [B, Lt]
  readonly decoder?: number[][]; // [B, Ld], BOS first
}

export function rawInputs(c: ModelConfig, textLens: number[], decoderLens: number[] | undefined, seed: number): RawInputs {
  const rnd = mulberry(seed);
  const id = () => 4 + Math.floor(rnd() * (c.vocabSize - 4));
  const batch = textLens.length;
  const text = textLens.map((n) => Array.from({ length: c.maxTextLength }, (_, i) => (i < n ? id() : 0)));
  const decoder = decoderLens?.map((n) => Array.from({ length: c.maxTargetLength }, (_, i) => (i === 0 ? 2 : i < n ? id() : 0)));
  const pixels = Float32Array.from({ length: batch * c.imageSize * c.imageSize * 3 }, () => rnd() * 4 - 2);
  return { batch, pixels, text, decoder };
}

/** Rows `[from, to)` of the inputs. */
export function sliceInputs(c: ModelConfig, x: RawInputs, from: number, to: number): RawInputs {
  const per = c.imageSize * c.imageSize * 3;
  return { batch: to - from, pixels: x.pixels.slice(from * per, to * per), text: x.text.slice(from, to), decoder: x.decoder?.slice(from, to) };
}

export function tfInputs(c: ModelConfig, x: RawInputs) {
  const s = c.imageSize;
  return {
    images: tf.tensor4d(x.pixels, [x.batch, s, s, 3]),
    text: tf.tensor2d(x.text, [x.batch, x.text[0].length], 'int32'),
    ...(x.decoder ? { decoderInput: tf.tensor2d(x.decoder, [x.batch, x.decoder[0].length], 'int32') } : {}),
  };
}

const int64 = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);

/** The contract's feeds: pixel_values, input_ids, attention_mask (ids ≠ PAD), decoder_input_ids. */
export function ortFeeds(c: ModelConfig, x: RawInputs, withDecoder: boolean): Record<string, ort.Tensor> {
  const s = c.imageSize;
  const feeds: Record<string, ort.Tensor> = {
    pixel_values: new ort.Tensor('float32', x.pixels, [x.batch, s, s, 3]),
    input_ids: int64(x.text),
    attention_mask: int64(x.text.map((r) => r.map((v) => (v === 0 ? 0 : 1)))),
  };
  if (withDecoder && x.decoder) feeds.decoder_input_ids = int64(x.decoder);
  return feeds;
}

export function decoderFeed(rows: number[][]): ort.Tensor {
  return int64(rows);
}

/** max |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) ? Infinity : m;
}

/** max |a − b| / max |b|: the error relative to the tensor's scale. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  return maxAbsDiff(a, b) / Math.max(scale, 1e-30);
}

/**
 * Greedy (beam 1) or beam search of `inputs` twice: with decoder-with-past.onnx, checking that
 * its cache served every step (decoder.onnx never ran), and without the cache.
 */
export async function decodeWithAndWithoutCache(model: OnnxModel, inputs: OnnxBatchInputs, beamSize: number): Promise<{ withCache: Hypothesis[]; without: Hypothesis[] }> {
  const search = (d: Awaited<ReturnType<typeof onnxStepDecoder>>) => (beamSize === 1 ? greedyDecodeWith(d) : beamSearchWith(d, { beamSize, lengthPenalty: 0.6 }));
  const sessions = (await model.splitSessions())!;
  expect(sessions.decoderWithPast).not.toBeNull();
  const full = jest.spyOn(sessions.decoder.session, 'run');
  const cached = jest.spyOn(sessions.decoderWithPast!.session, 'run');
  try {
    const withCache = await search(await onnxStepDecoder(model, inputs));
    expect(full).not.toHaveBeenCalled(); // no step fell back to the whole prefix
    expect(cached).toHaveBeenCalled();
    return { withCache, without: await search(await onnxStepDecoder(model, inputs, { useCache: false })) };
  } finally {
    full.mockRestore();
    cached.mockRestore();
  }
}
