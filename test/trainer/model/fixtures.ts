/** Small configs, inputs with padding, and a probe loss shared by the model tests. */
import * as tf from '@tensorflow/tfjs';
import { parseModelConfig, type ModelConfig } from '../../../trainer/model/config';
import type { AttentionKind, ModelInputs } from '../../../trainer/model/types';

export type Fusion = 'single-stream' | 'two-stream';

/** A tiny model of either style; 4 patches of 4×4 px, 5 text tokens, 4 decoder tokens. */
export function tinyConfig(fusion: Fusion, withDecoder: boolean, overrides: Record<string, unknown> = {}): ModelConfig {
  return parseModelConfig({
    fusion,
    imageSize: 8,
    patchSize: 4,
    width: 16,
    mlpWidth: 24,
    visionLayers: 1,
    fusionLayers: 2,
    decoderLayers: withDecoder ? 1 : 0,
    heads: { vision: 2, fusion: 4, decoder: 2 },
    vocabSize: 12,
    maxTextLength: 5,
    maxTargetLength: 4,
    numAnswers: 3,
    dropout: 0.1,
    ...overrides,
  });
}

/**
 * Two examples: the first text has 2 PADs at the end, the second none; the first decoder
 * input has 2 PADs. Token ids are drawn from a seeded generator.
 */
export function tinyInputs(c: ModelConfig, seed = 1): ModelInputs {
  const s = c.imageSize;
  const rnd = mulberry(seed);
  const id = () => 4 + Math.floor(rnd() * (c.vocabSize - 4));
  const lt = c.maxTextLength;
  const ld = c.maxTargetLength;
  const text = [Array.from({ length: lt }, (_, i) => (i < lt - 2 ? id() : 0)), Array.from({ length: lt }, id)];
  const dec = [Array.from({ length: ld }, (_, i) => (i === 0 ? 2 : i < ld - 2 ? id() : 0)), Array.from({ length: ld }, (_, i) => (i === 0 ? 2 : id()))];
  const pixels = Float32Array.from({ length: 2 * s * s * 3 }, () => rnd() * 2 - 1);
  const inputs: ModelInputs = {
    images: tf.tensor4d(pixels, [2, s, s, 3]),
    text: tf.tensor2d(text, [2, lt], 'int32'),
  };
  if (c.decoderLayers > 0) inputs.decoderInput = tf.tensor2d(dec, [2, ld], 'int32');
  return inputs;
}

export function disposeInputs(inputs: ModelInputs): void {
  tf.dispose([inputs.images, inputs.text, inputs.decoderInput ?? []]);
}

/** Small deterministic PRNG for fixtures. */
export function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fixed pseudo-random tensor with values in [-1, 1). */
export function probeTensor(shape: number[], seed: number): tf.Tensor {
  const rnd = mulberry(seed);
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rnd() * 2 - 1), shape);
}

/**
 * A scalar that depends on every output the distillation uses: Σ probe·logits plus
 * Σ probe·map over every attention map (so gradients through the maps are checked too).
 */
export function probeLoss(out: {
  answerLogits?: tf.Tensor;
  lmLogits?: tf.Tensor;
  attention: Partial<Record<AttentionKind, tf.Tensor4D[]>>;
}): tf.Scalar {
  const terms: tf.Tensor[] = [];
  let seed = 100;
  const add = (t: tf.Tensor | undefined) => {
    if (t) terms.push(tf.sum(tf.mul(t, probeTensor(t.shape, seed++))));
  };
  add(out.answerLogits);
  add(out.lmLogits);
  for (const kind of ['visionSelf', 'fusionSelf', 'crossImage', 'decoderSelf', 'decoderCross'] as const) {
    for (const m of out.attention[kind] ?? []) add(tf.mul(m, 10));
  }
  return tf.addN(terms) as tf.Scalar;
}

/** ‖a − b‖ / ‖b‖. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
