/**
 * Forward-pass FLOPs of one example, counted from the model config: 2 × the multiply-adds of
 * every matmul (patch embedding, Q/K/V/output projections, attention score Q·Kᵀ and value A·V
 * products, MLP, task heads). Softmax, layer norm, GELU, embedding look-ups and bias adds are
 * not matmuls and are left out (they are O(T·d), small next to the O(T·d²) terms).
 *
 * Sequence lengths are the padded lengths the model computes on (padding costs the same as
 * real tokens). Shapes per stack (d = width, m = mlpWidth, P = patches, Lt = maxTextLength,
 * Ld = maxTargetLength):
 * - vision blocks: self-attention over the P patches;
 * - single-stream fusion blocks: self-attention over [patches ; text], T = P + Lt;
 * - two-stream fusion blocks: text self-attention over Lt, then text→image cross-attention
 *   (Lt queries, P keys/values);
 * - decoder blocks (generation tasks only), teacher-forced over Ld target positions: causal
 *   self-attention (the full Ld×Ld score matrix is computed, then masked) and cross-attention to
 *   the encoder output, which is P + Lt tokens in both fusion styles (two-stream: [image memory ;
 *   text], as trainer/model/vl-model.ts builds it), then the LM head per position.
 * - VQA: one linear classifier d → numAnswers on the mean-pooled encoder output.
 */
import { numPatches, type ModelConfig } from '../../model/config';

/** The task decides which head runs (and whether the decoder does). */
export type CostTask = 'vqa' | 'caption' | 'translate';

/** FLOPs per part of the model, and their total. */
export interface FlopsBreakdown {
  readonly patchEmbed: number;
  readonly vision: number;
  readonly fusion: number;
  readonly decoder: number;
  readonly head: number;
  readonly total: number;
}

/** Multiply-adds of one self-attention module over T tokens: 4 projections, scores, values. */
function selfAttentionMacs(T: number, d: number): number {
  return 4 * T * d * d + 2 * T * T * d; // [T,d]@[d,d] ×4 ; Σ_heads [T,dh]@[dh,T] and [T,T]@[T,dh] = T²d each
}

/** Multiply-adds of cross-attention: Q, output on Tq queries; K, V on Tk memory tokens. */
function crossAttentionMacs(Tq: number, Tk: number, d: number): number {
  return 2 * Tq * d * d + 2 * Tk * d * d + 2 * Tq * Tk * d;
}

function mlpMacs(T: number, d: number, m: number): number {
  return 2 * T * d * m; // [T,d]@[d,m] then [T,m]@[m,d]
}

/** FLOPs (2 × multiply-adds) per part for one example of `task`. */
export function flopsBreakdown(config: ModelConfig, task: CostTask): FlopsBreakdown {
  if (task !== 'vqa' && task !== 'caption' && task !== 'translate') {
    throw new RangeError(`flopsBreakdown: task must be "vqa", "caption" or "translate", got ${JSON.stringify(task)}`);
  }
  const d = config.width;
  const m = config.mlpWidth;
  const P = numPatches(config);
  const Lt = config.maxTextLength;
  const Ld = config.maxTargetLength;

  const patchEmbed = P * (config.patchSize * config.patchSize * 3) * d; // [P, p²·3] @ [p²·3, d]
  const vision = config.visionLayers * (selfAttentionMacs(P, d) + mlpMacs(P, d, m));
  const fusionBlock =
    config.fusion === 'single-stream'
      ? selfAttentionMacs(P + Lt, d) + mlpMacs(P + Lt, d, m)
      : selfAttentionMacs(Lt, d) + crossAttentionMacs(Lt, P, d) + mlpMacs(Lt, d, m);
  const fusion = config.fusionLayers * fusionBlock;

  let decoder = 0;
  let head: number;
  if (task === 'vqa') {
    if (config.numAnswers === 0) throw new RangeError('flopsBreakdown: task "vqa" needs a classifier, but the config has numAnswers = 0');
    head = d * config.numAnswers; // pooled [1, d] @ [d, A]
  } else {
    if (config.decoderLayers === 0) throw new RangeError(`flopsBreakdown: task "${task}" needs a decoder, but the config has decoderLayers = 0`);
    const memory = P + Lt; // the decoder cross-attends the whole encoder output
    decoder = config.decoderLayers * (selfAttentionMacs(Ld, d) + crossAttentionMacs(Ld, memory, d) + mlpMacs(Ld, d, m));
    head = Ld * d * config.vocabSize; // [Ld, d] @ [d, V]
  }
  const parts = { patchEmbed: 2 * patchEmbed, vision: 2 * vision, fusion: 2 * fusion, decoder: 2 * decoder, head: 2 * head };
  return { ...parts, total: parts.patchEmbed + parts.vision + parts.fusion + parts.decoder + parts.head };
}

/** Total forward FLOPs of one example (see flopsBreakdown for what is counted). */
export function flopsPerExample(config: ModelConfig, task: CostTask): number {
  return flopsBreakdown(config, task).total;
}
