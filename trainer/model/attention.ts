/**
 * Multi-head attention module (self or cross): Q/K/V projections, masked softmax, output
 * projection. Inputs and outputs are 2-D `[T·B, width]` so every projection is a fast 2-D matMul.
 */
import type * as tf from '@tensorflow/tfjs';
import { linear } from '../ops/linear';
import { attentionScores, attentionValues, maskedSoftmax, type AttentionDims } from '../ops/attention-core';
import type { LinearParams, ParamStore } from './params';
import type { AttentionMask } from './masks';
import type { ForwardContext } from './forward-context';
import type { AttentionKind } from './types';

export interface AttentionParams {
  readonly heads: number;
  readonly query: LinearParams;
  readonly key: LinearParams;
  readonly value: LinearParams;
  readonly output: LinearParams;
}

export function createAttention(store: ParamStore, name: string, width: number, heads: number): AttentionParams {
  return {
    heads,
    query: store.linear(`${name}/query`, width, width),
    key: store.linear(`${name}/key`, width, width),
    value: store.linear(`${name}/value`, width, width),
    output: store.linear(`${name}/output`, width, width),
  };
}

/**
 * @param xq queries' input `[Tq·B, width]`
 * @param xkv keys'/values' input `[Tk·B, width]` (the same tensor for self-attention)
 * @returns `[Tq·B, width]`
 */
export function multiHeadAttention(
  p: AttentionParams,
  xq: tf.Tensor2D,
  xkv: tf.Tensor2D,
  shape: { batch: number; queryLen: number; keyLen: number },
  mask: AttentionMask,
  ctx: ForwardContext,
  kind: AttentionKind,
): tf.Tensor2D {
  const width = xq.shape[1];
  const dims: AttentionDims = { ...shape, heads: p.heads, headSize: width / p.heads };
  const q = linear(xq, p.query.w, p.query.b); // [Tq·B, width]
  const k = linear(xkv, p.key.w, p.key.b); // [Tk·B, width]
  const v = linear(xkv, p.value.w, p.value.b); // [Tk·B, width]
  const scores = attentionScores(q, k, dims, 1 / Math.sqrt(dims.headSize)); // [Tq, B·H, Tk]
  const probs = maskedSoftmax(scores, dims, mask.bias, mask.keyKeep); // [Tq, B·H, Tk]
  ctx.record(kind, probs, dims, xq === xkv ? { q, k, v } : null);
  const heads = attentionValues(probs, v, dims); // [Tq·B, width]
  return linear(heads, p.output.w, p.output.b);
}
