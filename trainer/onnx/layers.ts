/**
 * The model family's building blocks as ONNX subgraphs, each mirroring its TensorFlow.js
 * counterpart (trainer/ops, trainer/model/blocks.ts, attention.ts, masks.ts) operation for
 * operation, so the exported model computes the same numbers to float32 rounding.
 *
 * Activations here are batch-major `[B, T, width]` (the tfjs model runs time-major `[T·B, width]`
 * for wasm speed; ONNX Runtime needs no such trick, and the values are the same).
 */
import { float, type OnnxGraph } from './graph';
import { LAYER_NORM_EPSILON } from '../ops/layer-norm';
import { GELU_CUBIC, GELU_SIGMOID_SCALE } from '../ops/gelu';
import { MASKED_SCORE } from '../ops/attention-core';

/** A trained weight by its model-relative name (`VLModel.namedWeights()`). */
export interface WeightSource {
  /** Adds the weight as an initializer (once) and returns its value name. */
  weight(name: string): string;
}

/** How keys are masked in one attention call (masks.ts AttentionMask in graph form). */
export interface GraphMask {
  /** Additive bias broadcastable to `[B, H, Tq, Tk]`, or null. */
  readonly bias: string | null;
  /** 0/1 `[B, 1, 1, Tk]` multiplied after the softmax (all-padding rows → zeros), or null. */
  readonly keyKeep: string | null;
}

export const NO_GRAPH_MASK: GraphMask = { bias: null, keyKeep: null };

export class LayerEmitter {
  constructor(
    readonly g: OnnxGraph,
    private readonly w: WeightSource,
  ) {}

  /** `x @ W + b` (ops/linear.ts): `[…, in]` → `[…, out]`. */
  linear(x: string, prefix: string): string {
    return this.g.op('Add', [this.g.op('MatMul', [x, this.w.weight(`${prefix}/w`)]), this.w.weight(`${prefix}/b`)]);
  }

  /** LayerNormalization over the last axis, ε as in ops/layer-norm.ts. */
  layerNorm(x: string, prefix: string): string {
    return this.g.op('LayerNormalization', [x, this.w.weight(`${prefix}/gamma`), this.w.weight(`${prefix}/beta`)], { axis: -1, epsilon: float(LAYER_NORM_EPSILON) });
  }

  /** GELU in the same sigmoid form as ops/gelu.ts: x · σ(x · (x²·a·c + c)). */
  gelu(x: string): string {
    const g = this.g;
    const x2 = g.op('Mul', [x, x]);
    const inner = g.op('Add', [g.op('Mul', [x2, g.float32([GELU_CUBIC * GELU_SIGMOID_SCALE])]), g.float32([GELU_SIGMOID_SCALE])]);
    return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, inner])])]);
  }

  /** MLP of blocks.ts: linear → GELU → linear. */
  mlp(x: string, prefix: string): string {
    return this.linear(this.gelu(this.linear(x, `${prefix}/hidden`)), `${prefix}/output`);
  }

  /**
   * Multi-head attention (attention.ts + ops/attention-core.ts): Q scaled by 1/√dh before
   * Q·Kᵀ, additive mask, softmax over keys, optional post-softmax key keep, P·V, output projection.
   * @param xq `[B, Tq, width]`; @param xkv `[B, Tk, width]`
   * @returns the output `[B, Tq, width]` and the probabilities `[B, H, Tq, Tk]`
   */
  attention(
    prefix: string,
    xq: string,
    xkv: string,
    heads: number,
    width: number,
    mask: GraphMask,
    past?: { readonly key: string; readonly value: string },
  ): { out: string; probs: string; present?: { key: string; value: string } } {
    const g = this.g;
    const dh = width / heads;
    const split = g.int64([0, 0, heads, dh]); // [B, T, width] → [B, T, H, dh] (0 = keep that dimension)
    const q = g.op('Mul', [this.linear(xq, `${prefix}/query`), g.float32([1 / Math.sqrt(dh)])]);
    const k = this.linear(xkv, `${prefix}/key`);
    const v = this.linear(xkv, `${prefix}/value`);
    const qh = g.op('Transpose', [g.op('Reshape', [q, split])], { perm: [0, 2, 1, 3] }); // [B, H, Tq, dh]
    let kt: string; // [B, H, dh, Tk]
    let vh = g.op('Transpose', [g.op('Reshape', [v, split])], { perm: [0, 2, 1, 3] }); // [B, H, Tk, dh]
    let present: { key: string; value: string } | undefined;
    if (past) {
      // Key/value cache: the past positions' keys and values `[B, H, Tpast, dh]` come first.
      const kh = g.op('Concat', [past.key, g.op('Transpose', [g.op('Reshape', [k, split])], { perm: [0, 2, 1, 3] })], { axis: 2 }); // [B, H, Tk, dh]
      vh = g.op('Concat', [past.value, vh], { axis: 2 });
      kt = g.op('Transpose', [kh], { perm: [0, 1, 3, 2] });
      present = { key: kh, value: vh };
    } else {
      kt = g.op('Transpose', [g.op('Reshape', [k, split])], { perm: [0, 2, 3, 1] });
    }
    let scores = g.op('MatMul', [qh, kt]); // [B, H, Tq, Tk]
    if (mask.bias) scores = g.op('Add', [scores, mask.bias]);
    let probs = g.op('Softmax', [scores], { axis: -1 });
    if (mask.keyKeep) probs = g.op('Mul', [probs, mask.keyKeep]);
    const heads4 = g.op('Transpose', [g.op('MatMul', [probs, vh])], { perm: [0, 2, 1, 3] }); // [B, Tq, H, dh]
    const merged = g.op('Reshape', [heads4, g.int64([0, 0, width])]); // [B, Tq, width]
    return { out: this.linear(merged, `${prefix}/output`), probs, ...(present ? { present } : {}) };
  }

  /** 0/1 validity `[B, T]` → additive key bias `[B, 1, 1, T]` (masks.ts keyPaddingBias). */
  keyPaddingBias(valid: string): string {
    const g = this.g;
    const bias = g.op('Mul', [g.op('Sub', [g.float32([1]), valid]), g.float32([MASKED_SCORE])]);
    return g.op('Unsqueeze', [bias, g.int64([1, 2])]);
  }

  /** 0/1 validity `[B, T]` → post-softmax keep `[B, 1, 1, T]`. */
  keyKeep(valid: string): string {
    return this.g.op('Unsqueeze', [valid, this.g.int64([1, 2])]);
  }

  /**
   * Causal bias `[1, 1, N, P+N]` of N new queries after P cached positions (P = 0 without a
   * cache): rows P … P+N−1 of a `[maxLength, maxLength]` constant (0 on and below the diagonal,
   * MASKED_SCORE above, masks.ts causalBias), so lengths stay dynamic up to maxLength.
   * @param start int64 `[1]` holding P; @param end int64 `[1]` holding P+N
   */
  causalBias(maxLength: number, start: string, end: string): string {
    const g = this.g;
    const values: number[] = [];
    for (let i = 0; i < maxLength; i++) for (let j = 0; j < maxLength; j++) values.push(j > i ? MASKED_SCORE : 0);
    const full = g.float32(values, [1, 1, maxLength, maxLength]);
    return g.op('Slice', [full, g.op('Concat', [start, g.int64([0])], { axis: 0 }), g.op('Concat', [end, end], { axis: 0 }), g.int64([2, 3])]);
  }
}
