/**
 * The model family's building blocks as ONNX subgraphs, each computing what its TensorFlow.js
 * counterpart computes (trainer/ops, trainer/model/blocks.ts, attention.ts, masks.ts) to float32
 * rounding, in a form that is cheap on ONNX Runtime's CPU kernels (standard-domain operators
 * only, so the file serves on any ONNX runtime):
 *
 * - Token-wise layers (projections, LayerNorm, GELU, residual adds) run on 2-D rows
 *   `[B·T, width]` (`Tokens`), so every dense layer is one `Gemm` with its bias fused (ONNX
 *   Runtime fuses MatMul + Add into Gemm only for 2-D inputs or fully static shapes, and our
 *   batch is dynamic). Only attention views the rows as `[B, T, …]`.
 * - Weights are rearranged at export where that saves a runtime operation: the 1/√dh query
 *   scale is folded into the query weight and bias; the projections' output columns (and the
 *   output projection's input rows) are permuted so that every head split and merge is a
 *   transpose of two adjacent axis groups (`[B, X, Y]` → `[B, Y, X]`), which ONNX Runtime runs
 *   as a 2-D transpose per example, never the `[0, 2, 1, 3]` perm of `[B, T, H, dh]`, which
 *   ONNX Runtime runs as one memcpy per dh-float block (onnxruntime/core/providers/cpu/tensor/
 *   transpose.cc, TransposeSingleAxisOutwards: memcpy for blocks over 64 bits), the slowest
 *   Transposes in an ONNX Runtime profile of the demo teacher's previous graph.
 * - A key-padding mask is added inside the Q·Kᵀ product (one more depth slot, see
 *   `attention`) instead of by an Add over the whole scores tensor.
 * - GELU is written in the tanh form ONNX Runtime recognises and fuses into one kernel
 *   (`FastGelu`, onnxruntime/core/optimizer/fast_gelu_fusion.cc); elsewhere it is 9 plain ops.
 * Graph outputs are renamed node outputs, not Identity copies (graph.ts `output`).
 * bench/onnx-graph.ts times this graph against an earlier commit's.
 */
import { float, type OnnxGraph } from './graph';
import { LAYER_NORM_EPSILON } from '../ops/layer-norm';
import { GELU_CUBIC, GELU_SIGMOID_SCALE } from '../ops/gelu';
import { MASKED_SCORE } from '../ops/attention-core';

/** A trained weight by its model-relative name (`VLModel.namedWeights()`). */
export interface WeightSource {
  /** Adds the weight as an initializer (once) and returns its value name. */
  weight(name: string): string;
  /** The weight's values (row-major) and shape, to derive rearranged initializers from. */
  values(name: string): { readonly data: Float32Array; readonly shape: readonly number[] };
  /** Adds a derived float32 initializer under `name` (once: later calls return it without calling `make`). */
  derived(name: string, make: () => { data: Float32Array; dims: number[] }): string;
}

/**
 * A sequence's token states as 2-D rows: `x` is `[B·T, width]`, row b·T + t.
 * `length` is T: a number when fixed (image patches), else an int64 `[1]` value;
 * `batch` is an int64 `[1]` value holding B.
 */
export interface Tokens {
  readonly x: string;
  readonly batch: string;
  readonly length: number | string;
}

/** Keys and values after projection, `[B, H, T, dh]` each (a key/value cache's layout). */
export interface KeysValues {
  readonly key: string;
  readonly value: string;
}

/** How keys are masked in one attention call (masks.ts AttentionMask in graph form). */
export interface GraphMask {
  /** Additive bias broadcastable to `[B, H, Tq, Tk]`, or null. */
  readonly bias: string | null;
  /** 0/1 `[B, 1, 1, Tk]` multiplied after the softmax (all-padding rows → zeros), or null. */
  readonly keyKeep: string | null;
  /**
   * True when `bias` is a key-padding bias `[B, 1, 1, Tk]` alone, the same for every query and
   * head: attention then adds it inside the Q·Kᵀ product instead of with an Add on the scores.
   */
  readonly keysOnly?: boolean;
}

export const NO_GRAPH_MASK: GraphMask = { bias: null, keyKeep: null };

/** How a projection's output columns are arranged for the head split that follows. */
interface HeadLayout {
  /** head-major: the model's own order (head h owns columns h·dh … h·dh+dh−1); depth-major: column d·H + h. */
  readonly order: 'head-major' | 'depth-major';
  /** Multiplies weight and bias (the folded 1/√dh of the query); default 1. */
  readonly scale?: number;
  /** depth-major only: one more depth slot per head (d = dh) that is exactly 1 (weights 0, bias 1). */
  readonly onesSlot?: boolean;
}

/**
 * The columns of a head-major `[rows, H·dh]` matrix (weight, or a bias as one row) in
 * `layout`. Depth-major rows viewed as `[B, T, dh, H]` become `[B, H, T, dh]` by moving H in
 * front of (T, dh), a fast transpose; head-major ones would need a slow `[0, 2, 1, 3]`.
 * @param slotValue what the ones slot holds in these rows: 0 in the weight, 1 in the bias
 */
function arrangeColumns(data: Float32Array, rows: number, heads: number, layout: HeadLayout, slotValue: number): Float32Array {
  const scale = layout.scale ?? 1;
  if (layout.order === 'head-major') return scale === 1 ? data : data.map((v) => v * scale);
  const width = data.length / rows;
  const dh = width / heads;
  const depth = dh + (layout.onesSlot ? 1 : 0);
  const out = new Float32Array(rows * depth * heads);
  for (let r = 0; r < rows; r++) {
    const from = r * width;
    const to = r * depth * heads;
    for (let h = 0; h < heads; h++) {
      for (let d = 0; d < dh; d++) out[to + d * heads + h] = data[from + h * dh + d]! * scale;
      if (layout.onesSlot) out[to + dh * heads + h] = slotValue;
    }
  }
  return out;
}

/** The rows of a head-major `[H·dh, cols]` matrix in depth-major order (row d·H + h = original row h·dh + d). */
function depthMajorRows(data: Float32Array, heads: number, dh: number, cols: number): Float32Array {
  const out = new Float32Array(heads * dh * cols);
  for (let h = 0; h < heads; h++) for (let d = 0; d < dh; d++) out.set(data.subarray((h * dh + d) * cols, (h * dh + d + 1) * cols), (d * heads + h) * cols);
  return out;
}

export class LayerEmitter {
  /** Shape values and expanded masks by key, built once per graph. */
  private readonly cached = new Map<string, string>();

  constructor(
    readonly g: OnnxGraph,
    private readonly w: WeightSource,
  ) {}

  private once(key: string, make: () => string): string {
    let v = this.cached.get(key);
    if (v === undefined) this.cached.set(key, (v = make()));
    return v;
  }

  /** `x @ W + b` (ops/linear.ts) as one Gemm: `[N, in]` → `[N, out]`. */
  linear(x: string, prefix: string): string {
    return this.g.op('Gemm', [x, this.w.weight(`${prefix}/w`), this.w.weight(`${prefix}/b`)]);
  }

  /** A projection into heads, `[N, width]` → `[N, H·(dh or dh+1)]`, its columns arranged as `layout` says. */
  private headProjection(x: string, prefix: string, heads: number, layout: HeadLayout): string {
    if (layout.order === 'head-major' && (layout.scale ?? 1) === 1) return this.linear(x, prefix);
    const w = this.w.values(`${prefix}/w`);
    const b = this.w.values(`${prefix}/b`);
    const rows = w.shape[0]!;
    const tag = [layout.order === 'depth-major' ? 'depth_major' : 'head_major', ...((layout.scale ?? 1) !== 1 ? ['scaled'] : []), ...(layout.onesSlot ? ['ones'] : [])].join('_');
    const wName = this.w.derived(`${prefix}/w/${tag}`, () => {
      const data = arrangeColumns(w.data, rows, heads, layout, 0);
      return { data, dims: [rows, data.length / rows] };
    });
    const bName = this.w.derived(`${prefix}/b/${tag}`, () => {
      const data = arrangeColumns(b.data, 1, heads, layout, 1);
      return { data, dims: [data.length] };
    });
    return this.g.op('Gemm', [x, wName, bName]);
  }

  /** The output projection reading heads merged depth-major (`[N, dh·H]`, column d·H + h). */
  private outputProjection(merged: string, prefix: string, heads: number): string {
    const w = this.w.values(`${prefix}/w`);
    const [width, cols] = w.shape as [number, number];
    const wName = this.w.derived(`${prefix}/w/depth_major_rows`, () => ({ data: depthMajorRows(w.data, heads, width / heads, cols), dims: [width, cols] }));
    return this.g.op('Gemm', [merged, wName, this.w.weight(`${prefix}/b`)]);
  }

  /** LayerNormalization over the last axis, ε as in ops/layer-norm.ts. */
  layerNorm(x: string, prefix: string): string {
    return this.g.op('LayerNormalization', [x, this.w.weight(`${prefix}/gamma`), this.w.weight(`${prefix}/beta`)], { axis: -1, epsilon: float(LAYER_NORM_EPSILON) });
  }

  /**
   * GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))), which equals
   * ops/gelu.ts's x·σ(2·√(2/π)·(x + 0.044715·x³)) (σ(2z) = (1 + tanh z)/2). Written node for
   * node as ONNX Runtime's FastGeluFusion matches it (its first formula), so the nine nodes run
   * as one kernel there; the constants must stay scalars with these float32 values.
   */
  gelu(x: string): string {
    const g = this.g;
    const ax2 = g.op('Mul', [g.op('Mul', [x, g.float32([GELU_CUBIC])]), x]); // 0.044715·x²
    const inner = g.op('Mul', [g.op('Mul', [x, g.float32([GELU_SIGMOID_SCALE / 2])]), g.op('Add', [ax2, g.float32([1])])]); // √(2/π)·x·(1 + 0.044715·x²)
    const onePlusTanh = g.op('Add', [g.op('Tanh', [inner]), g.float32([1])]);
    return g.op('Mul', [g.op('Mul', [x, g.float32([0.5])]), onePlusTanh]);
  }

  /** MLP of blocks.ts: linear → GELU → linear, on `[N, width]` rows. */
  mlp(x: string, prefix: string): string {
    return this.linear(this.gelu(this.linear(x, `${prefix}/hidden`)), `${prefix}/output`);
  }

  /**
   * int64 `[n+2]` shape `[B, T, ...dims]` viewing a sequence's rows `[B·T, ∏dims]`. A fixed T
   * gives a constant (`-1` for B); a dynamic one is built from the values once per graph, for
   * a Reshape with allowzero = 1 (so an empty sequence stays empty instead of 0 meaning "copy
   * that dimension").
   */
  private view(t: Tokens, dims: readonly number[]): string {
    const length = t.length;
    if (typeof length === 'number') return this.g.int64([-1, length, ...dims]);
    return this.once(`view|${t.batch}|${length}|${dims.join(',')}`, () => this.g.op('Concat', [t.batch, length, this.g.int64([...dims])], { axis: 0 }));
  }

  /** `[B·T, width]` rows → `[B, T, width]`. */
  unflatten(t: Tokens, width: number): string {
    return this.g.op('Reshape', [t.x, this.view(t, [width])], { allowzero: 1 });
  }

  /** `[B, T, width]` → `[B·T, width]` rows. */
  flatten(x: string, width: number): string {
    return this.g.op('Reshape', [x, this.g.int64([-1, width])]);
  }

  /**
   * Projected rows `[B·T, depth·H]` in depth-major column order → `[B, H, T, depth]` (one fast
   * transpose: `[B, T·depth, H]` → `[B, H, T·depth]`).
   */
  private headsFromDepthMajor(x: string, t: Tokens, heads: number, depth: number): string {
    const g = this.g;
    return g.op('Transpose', [g.op('Reshape', [x, this.view(t, [depth, heads])], { allowzero: 1 })], { perm: [0, 3, 1, 2] });
  }

  /**
   * The keys and values attention `prefix` computes from `xkv` `[B·Tk, width]`, each
   * `[B, H, Tk, dh]` (the layout of a key/value cache): what a decoder's cross-attention reuses
   * at every step, so encoder.onnx computes them once per encoded batch.
   */
  keysValues(prefix: string, xkv: Tokens, heads: number, width: number): KeysValues {
    const dh = width / heads;
    const project = (what: 'key' | 'value') => this.headsFromDepthMajor(this.headProjection(xkv.x, `${prefix}/${what}`, heads, { order: 'depth-major' }), xkv, heads, dh);
    return { key: project('key'), value: project('value') };
  }

  /**
   * Multi-head attention (attention.ts + ops/attention-core.ts): Q (scaled by 1/√dh, folded
   * into its weights) · Kᵀ, additive mask, softmax over keys, optional post-softmax key keep,
   * P·V, output projection.
   *
   * A key-padding mask alone (`mask.keysOnly`) rides inside the product: Q gets one more depth
   * slot per head that is exactly 1 (from its weights: 0s, and a bias of 1) and Kᵀ one more row
   * holding the key bias, so Q'·K'ᵀ = Q·Kᵀ + bias. That replaces an Add over the whole
   * `[B, H, Tq, Tk]` scores by a Concat of a row onto Kᵀ (`[B, H, dh, Tk]`, Tq× smaller).
   * @param xq queries' rows `[B·Tq, width]`
   * @param kv keys'/values' rows `[B·Tk, width]`, or the keys and values already projected
   *   (`keysValues`: a decoder's cross-attention, computed once per encoded batch)
   * @param past this call's self-attention key/value cache `[B, H, Tpast, dh]` (decoder with past)
   * @returns the output rows `[B·Tq, width]`, the probabilities `[B, H, Tq, Tk]` and, with
   *   `past`, the grown cache `[B, H, Tpast+Tk, dh]`
   */
  attention(
    prefix: string,
    xq: Tokens,
    kv: Tokens | KeysValues,
    heads: number,
    width: number,
    mask: GraphMask,
    past?: KeysValues,
  ): { out: string; probs: string; present?: KeysValues } {
    const g = this.g;
    const dh = width / heads;
    const biasInProduct = mask.bias !== null && mask.keysOnly === true;
    const q = this.headProjection(xq.x, `${prefix}/query`, heads, { order: 'depth-major', scale: 1 / Math.sqrt(dh), onesSlot: biasInProduct });
    const qh = this.headsFromDepthMajor(q, xq, heads, biasInProduct ? dh + 1 : dh); // [B, H, Tq, dh(+1)], scaled
    let vh: string; // [B, H, Tk, dh]
    let kt: string; // [B, H, dh, Tk]
    let present: KeysValues | undefined;
    if (!('x' in kv) || past) {
      // Keys and values as a cache holds them, [B, H, Tk, dh]: given projected (a decoder's
      // cross-attention), or projected here and appended to the past positions' (key/value cache).
      let { key, value } = 'x' in kv ? this.keysValues(prefix, kv, heads, width) : kv;
      if (past) {
        key = g.op('Concat', [past.key, key], { axis: 2 });
        value = g.op('Concat', [past.value, value], { axis: 2 });
        present = { key, value };
      }
      kt = g.op('Transpose', [key], { perm: [0, 1, 3, 2] });
      vh = value;
    } else {
      vh = this.headsFromDepthMajor(this.headProjection(kv.x, `${prefix}/value`, heads, { order: 'depth-major' }), kv, heads, dh);
      // Head-major columns viewed [B, Tk, H, dh] → [B, H, dh, Tk]: a fast transpose ([B, Tk, H·dh] → [B, H·dh, Tk]).
      const k = this.headProjection(kv.x, `${prefix}/key`, heads, { order: 'head-major' });
      kt = g.op('Transpose', [g.op('Reshape', [k, this.view(kv, [heads, dh])], { allowzero: 1 })], { perm: [0, 2, 3, 1] });
    }
    let scores: string; // [B, H, Tq, Tk]
    if (biasInProduct) {
      // [B, 1, 1, Tk] → [B, H, 1, Tk], once per mask and head count: the last row of K'ᵀ.
      const biasRow = this.once(`biasRow|${mask.bias}|${heads}`, () => g.op('Expand', [mask.bias!, g.int64([1, heads, 1, 1])]));
      scores = g.op('MatMul', [qh, g.op('Concat', [kt, biasRow], { axis: 2 })]);
    } else {
      scores = g.op('MatMul', [qh, kt]);
      if (mask.bias) scores = g.op('Add', [scores, mask.bias]);
    }
    let probs = g.op('Softmax', [scores], { axis: -1 });
    if (mask.keyKeep) probs = g.op('Mul', [probs, mask.keyKeep]);
    // [B, H, Tq, dh] → [B, Tq, dh, H] (fast: [B, H, Tq·dh] → [B, Tq·dh, H]) → rows [B·Tq, dh·H], depth-major
    const merged = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, vh])], { perm: [0, 2, 3, 1] }), g.int64([-1, width])]);
    return { out: this.outputProjection(merged, `${prefix}/output`, heads), probs, ...(present ? { present } : {}) };
  }

  /**
   * A key-padding mask (masks.ts paddingMask): the bias of `keyPaddingBias`, marked keys-only,
   * and with `guardEmptyRows` the post-softmax keep for sequences that may be all padding.
   * @param valid 0/1 `[B, Tk]`
   */
  paddingMask(valid: string, guardEmptyRows: boolean): GraphMask {
    return { bias: this.keyPaddingBias(valid), keyKeep: guardEmptyRows ? this.keyKeep(valid) : null, keysOnly: true };
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
