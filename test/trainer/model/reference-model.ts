/**
 * An independent, deliberately plain re-implementation of the model's forward pass for tests:
 * tf's own autodiff everywhere (batched matMul, gather, moments, tanh-GELU, softmax with
 * `where` masks), the public `[B, H, Q, K]` layout throughout, no custom gradients. Run it on
 * the cpu backend (tf.gather's gradient is missing on wasm). Dropout is not modelled
 * (compare with training = false).
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../../../trainer/model/config';
import type { AttentionKind, ModelInputs } from '../../../trainer/model/types';

export type Weights = Record<string, tf.Tensor>;

export interface ReferenceOutputs {
  answerLogits?: tf.Tensor2D;
  lmLogits?: tf.Tensor3D;
  encoderOutput: tf.Tensor3D;
  attention: Partial<Record<AttentionKind, tf.Tensor4D[]>>;
}

function dense(x: tf.Tensor, w: Weights, name: string): tf.Tensor {
  // [..., in] @ [in, out] via reshape (broadcast matMul has a gradient bug).
  const shape = x.shape;
  const out = tf.add(tf.matMul(x.reshape([-1, shape[shape.length - 1]]), w[`${name}/w`]), w[`${name}/b`]);
  return out.reshape([...shape.slice(0, -1), -1]);
}

function layerNorm(x: tf.Tensor, w: Weights, name: string): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), w[`${name}/gamma`]), w[`${name}/beta`]);
}

/** The textbook tanh approximation of GELU. */
function gelu(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/**
 * @param xq [B, Tq, d]  @param xkv [B, Tk, d]
 * @param allowed bool [B | 1, 1, Tq | 1, Tk] (true = may attend) or null
 */
function attention(xq: tf.Tensor, xkv: tf.Tensor, heads: number, w: Weights, name: string, allowed: tf.Tensor | null, maps: tf.Tensor4D[]): tf.Tensor {
  const [b, tq, d] = xq.shape as [number, number, number];
  const tk = xkv.shape[1] as number;
  const dh = d / heads;
  const split = (t: tf.Tensor, len: number) => tf.transpose(t.reshape([b, len, heads, dh]), [0, 2, 1, 3]); // [B, H, T, dh]
  const q = split(dense(xq, w, `${name}/query`), tq);
  const k = split(dense(xkv, w, `${name}/key`), tk);
  const v = split(dense(xkv, w, `${name}/value`), tk);
  let scores = tf.div(tf.matMul(q, k, false, true), Math.sqrt(dh)); // [B, H, Tq, Tk]
  if (allowed) scores = tf.where(tf.broadcastTo(allowed, scores.shape), scores, tf.fill(scores.shape, -Infinity));
  const probs = tf.softmax(scores) as tf.Tensor4D;
  maps.push(probs);
  const out = tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]).reshape([b, tq, d]);
  return dense(out, w, `${name}/output`);
}

function mlp(x: tf.Tensor, w: Weights, name: string): tf.Tensor {
  return dense(gelu(dense(x, w, `${name}/hidden`)), w, `${name}/output`);
}

export function referenceForward(c: ModelConfig, w: Weights, inputs: ModelInputs): ReferenceOutputs {
  const attn: ReferenceOutputs['attention'] = {};
  const list = (k: AttentionKind) => (attn[k] ??= []);
  const [b, s] = inputs.images.shape;
  const ps = c.patchSize;
  const g = s / ps;
  const np = g * g;
  const lt = inputs.text.shape[1];
  const d = c.width;

  // Patch (gy, gx) holds pixels (gy·p + py, gx·p + px), flattened (py, px, channel).
  const patches = tf.transpose(inputs.images.reshape([b, g, ps, g, ps, 3]), [0, 1, 3, 2, 4, 5]).reshape([b, np, ps * ps * 3]);
  let image = tf.add(tf.add(dense(patches, w, 'embedding/patch'), w['embedding/imagePositions']), w['embedding/modality'].slice([0, 0], [1, d]));
  const tokens = tf.gather(w['embedding/token'], inputs.text.reshape([-1])).reshape([b, lt, d]);
  const text = tf.add(tf.add(tokens, w['embedding/textPositions'].slice([0, 0], [lt, d])), w['embedding/modality'].slice([1, 0], [1, d]));
  const textValid = tf.notEqual(inputs.text, 0); // bool [B, Lt]
  const encValid = tf.concat([tf.onesLike(tf.zeros([b, np])).cast('bool'), textValid], 1); // [B, T]

  const encoderBlock = (x: tf.Tensor, name: string, heads: number, allowed: tf.Tensor | null, kind: AttentionKind) => {
    const x1 = tf.add(x, attention(layerNorm(x, w, `${name}/attentionNorm`), layerNorm(x, w, `${name}/attentionNorm`), heads, w, `${name}/attention`, allowed, list(kind)));
    return tf.add(x1, mlp(layerNorm(x1, w, `${name}/mlpNorm`), w, `${name}/mlp`));
  };
  const crossBlock = (x: tf.Tensor, mem: tf.Tensor, name: string, heads: number, selfAllowed: tf.Tensor | null, memAllowed: tf.Tensor | null, kinds: [AttentionKind, AttentionKind]) => {
    const h = layerNorm(x, w, `${name}/selfNorm`);
    const x1 = tf.add(x, attention(h, h, heads, w, `${name}/selfAttention`, selfAllowed, list(kinds[0])));
    const x2 = tf.add(x1, attention(layerNorm(x1, w, `${name}/crossNorm`), mem, heads, w, `${name}/crossAttention`, memAllowed, list(kinds[1])));
    return tf.add(x2, mlp(layerNorm(x2, w, `${name}/mlpNorm`), w, `${name}/mlp`));
  };

  for (let i = 0; i < c.visionLayers; i++) image = encoderBlock(image, `vision/${i}`, c.heads.vision, null, 'visionSelf');
  let encoder: tf.Tensor;
  if (c.fusion === 'single-stream') {
    let x = tf.concat([image, text], 1);
    const allowed = encValid.reshape([b, 1, 1, np + lt]);
    for (let i = 0; i < c.fusionLayers; i++) x = encoderBlock(x, `fusion/${i}`, c.heads.fusion, allowed, 'fusionSelf');
    encoder = layerNorm(x, w, 'encoder/norm');
  } else {
    const memory = layerNorm(image, w, 'vision/norm');
    let x = text;
    for (let i = 0; i < c.fusionLayers; i++) {
      x = crossBlock(x, memory, `fusion/${i}`, c.heads.fusion, textValid.reshape([b, 1, 1, lt]), null, ['fusionSelf', 'crossImage']);
    }
    encoder = tf.concat([memory, layerNorm(x, w, 'encoder/norm')], 1);
  }
  const out: ReferenceOutputs = { encoderOutput: encoder as tf.Tensor3D, attention: attn };
  if (c.numAnswers > 0) {
    // Mean over valid positions.
    const m = encValid.cast('float32').expandDims(2); // [B, T, 1]
    const pooled = tf.div(tf.sum(tf.mul(encoder, m), 1), tf.sum(m, 1));
    out.answerLogits = dense(pooled, w, 'head/answer') as tf.Tensor2D;
  }
  if (c.decoderLayers > 0 && inputs.decoderInput) {
    const ld = inputs.decoderInput.shape[1];
    let y = tf.add(tf.gather(w['embedding/token'], inputs.decoderInput.reshape([-1])).reshape([b, ld, d]), w['decoder/positions'].slice([0, 0], [ld, d]));
    const causal = tf.linalg.bandPart(tf.ones([ld, ld]), -1, 0).cast('bool').reshape([1, 1, ld, ld]);
    const selfAllowed = tf.logicalAnd(causal, tf.notEqual(inputs.decoderInput, 0).reshape([b, 1, 1, ld]));
    const memAllowed = encValid.reshape([b, 1, 1, -1]);
    for (let i = 0; i < c.decoderLayers; i++) y = crossBlock(y, encoder, `decoder/${i}`, c.heads.decoder, selfAllowed, memAllowed, ['decoderSelf', 'decoderCross']);
    out.lmLogits = dense(layerNorm(y, w, 'decoder/norm'), w, 'decoder/lmHead') as tf.Tensor3D;
  }
  return out;
}
