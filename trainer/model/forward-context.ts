/**
 * Per-call state of one forward pass: dropout seeding and the attention/QKV recorders.
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed, dropout } from '../ops/dropout';
import { probsToMaps, type AttentionDims } from '../ops/attention-core';
import type { AttentionKind, ModelOutputs } from './types';

export class ForwardContext {
  readonly attention: ModelOutputs['attention'] = {};
  readonly qkv: ModelOutputs['qkv'] = {};
  private site = 0;

  constructor(
    private readonly training: boolean,
    private readonly rate: number,
    private readonly stepSeed: number,
    private readonly returnAttention: boolean,
    private readonly returnQKV: boolean,
  ) {}

  /**
   * Dropout with a mask of its own: the k-th call of a forward pass uses
   * deriveSeed(dropoutSeed, k), so masks differ across sites and steps but repeat for equal seeds.
   */
  drop<T extends tf.Tensor>(x: T): T {
    if (!this.training || this.rate === 0) return x;
    return dropout(x, this.rate, deriveSeed(this.stepSeed, this.site++));
  }

  /** Records one attention module's maps and (self-attention only) its projections. */
  record(kind: AttentionKind, probs: tf.Tensor3D, dims: AttentionDims, qkv: { q: tf.Tensor2D; k: tf.Tensor2D; v: tf.Tensor2D } | null): void {
    if (this.returnAttention) (this.attention[kind] ??= []).push(probsToMaps(probs, dims));
    if (this.returnQKV && qkv) {
      const { batch: b, queryLen: tq, keyLen: tk } = dims;
      const w = qkv.q.shape[1];
      // Activations are time-major [T·B, width]; the public layout is [B, T, width].
      const batchMajor = (x: tf.Tensor2D, t: number) => tf.transpose(x.reshape([t, b, w]), [1, 0, 2]) as tf.Tensor3D;
      (this.qkv[kind] ??= []).push({ q: batchMajor(qkv.q, tq), k: batchMajor(qkv.k, tk), v: batchMajor(qkv.v, tk) });
    }
  }
}
