/**
 * Pre-LN transformer blocks. All activations are 2-D `[T·B, width]`.
 * - `EncoderBlock`: self-attention + MLP (ViT blocks, single-stream fusion blocks).
 * - `CrossBlock`: self-attention + cross-attention to a memory + MLP (two-stream text blocks,
 *   decoder blocks).
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../ops/linear';
import { gelu } from '../ops/gelu';
import { layerNorm } from '../ops/layer-norm';
import { createAttention, multiHeadAttention, type AttentionParams } from './attention';
import type { LayerNormParams, LinearParams, ParamStore } from './params';
import type { AttentionMask } from './masks';
import type { ForwardContext } from './forward-context';
import type { AttentionKind } from './types';

export interface MlpParams {
  readonly hidden: LinearParams;
  readonly output: LinearParams;
}

export interface EncoderBlockParams {
  readonly attentionNorm: LayerNormParams;
  readonly attention: AttentionParams;
  readonly mlpNorm: LayerNormParams;
  readonly mlp: MlpParams;
}

export interface CrossBlockParams {
  readonly selfNorm: LayerNormParams;
  readonly selfAttention: AttentionParams;
  readonly crossNorm: LayerNormParams;
  readonly crossAttention: AttentionParams;
  readonly mlpNorm: LayerNormParams;
  readonly mlp: MlpParams;
}

export function norm(x: tf.Tensor2D, p: LayerNormParams): tf.Tensor2D {
  return layerNorm(x, p.gamma, p.beta);
}

function createMlp(store: ParamStore, name: string, width: number, mlpWidth: number): MlpParams {
  return { hidden: store.linear(`${name}/hidden`, width, mlpWidth), output: store.linear(`${name}/output`, mlpWidth, width) };
}

/** `[N, width]` → `[N, mlpWidth]` → GELU → `[N, width]`. */
function mlp(x: tf.Tensor2D, p: MlpParams): tf.Tensor2D {
  return linear(gelu(linear(x, p.hidden.w, p.hidden.b)), p.output.w, p.output.b);
}

export function createEncoderBlock(store: ParamStore, name: string, width: number, mlpWidth: number, heads: number): EncoderBlockParams {
  return {
    attentionNorm: store.layerNorm(`${name}/attentionNorm`, width),
    attention: createAttention(store, `${name}/attention`, width, heads),
    mlpNorm: store.layerNorm(`${name}/mlpNorm`, width),
    mlp: createMlp(store, `${name}/mlp`, width, mlpWidth),
  };
}

export function createCrossBlock(store: ParamStore, name: string, width: number, mlpWidth: number, heads: number): CrossBlockParams {
  return {
    selfNorm: store.layerNorm(`${name}/selfNorm`, width),
    selfAttention: createAttention(store, `${name}/selfAttention`, width, heads),
    crossNorm: store.layerNorm(`${name}/crossNorm`, width),
    crossAttention: createAttention(store, `${name}/crossAttention`, width, heads),
    mlpNorm: store.layerNorm(`${name}/mlpNorm`, width),
    mlp: createMlp(store, `${name}/mlp`, width, mlpWidth),
  };
}

/**
 * x + Attn(LN(x)); then + MLP(LN(·)).
 * @param x `[T·B, width]`
 */
export function encoderBlock(
  p: EncoderBlockParams,
  x: tf.Tensor2D,
  batch: number,
  len: number,
  mask: AttentionMask,
  ctx: ForwardContext,
  kind: AttentionKind,
): tf.Tensor2D {
  const h = norm(x, p.attentionNorm);
  const attended = multiHeadAttention(p.attention, h, h, { batch, queryLen: len, keyLen: len }, mask, ctx, kind);
  const x1 = tf.add(x, ctx.drop(attended)) as tf.Tensor2D;
  return tf.add(x1, ctx.drop(mlp(norm(x1, p.mlpNorm), p.mlp))) as tf.Tensor2D;
}

/**
 * x + SelfAttn(LN(x)); + CrossAttn(LN(·), memory); + MLP(LN(·)).
 * @param x `[T·B, width]`
 * @param memory `[M·B, width]` (already normalised)
 */
export function crossBlock(
  p: CrossBlockParams,
  x: tf.Tensor2D,
  memory: tf.Tensor2D,
  batch: number,
  len: number,
  memoryLen: number,
  selfMask: AttentionMask,
  memoryMask: AttentionMask,
  ctx: ForwardContext,
  kinds: { self: AttentionKind; cross: AttentionKind },
): tf.Tensor2D {
  const h = norm(x, p.selfNorm);
  const selfOut = multiHeadAttention(p.selfAttention, h, h, { batch, queryLen: len, keyLen: len }, selfMask, ctx, kinds.self);
  const x1 = tf.add(x, ctx.drop(selfOut)) as tf.Tensor2D;
  const crossOut = multiHeadAttention(
    p.crossAttention,
    norm(x1, p.crossNorm),
    memory,
    { batch, queryLen: len, keyLen: memoryLen },
    memoryMask,
    ctx,
    kinds.cross,
  );
  const x2 = tf.add(x1, ctx.drop(crossOut)) as tf.Tensor2D;
  return tf.add(x2, ctx.drop(mlp(norm(x2, p.mlpNorm), p.mlp))) as tf.Tensor2D;
}
