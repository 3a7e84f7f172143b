/**
 * Examples per forward pass in the inference stages (teacher cache, evaluation).
 *
 * TensorFlow.js on one thread (wasm, cpu) is compute-bound per example: 32 is as fast as
 * anything larger. ONNX Runtime gets 128 whatever its thread count: each call pays a hop to the
 * session worker and the session's run set-up, which a small model's forward pass does not
 * hide, and more than one intra-op thread splits each operator, which pays only when operators
 * are large (docs/BENCHMARKS.md, "Inference stages"). Larger batches hold more attention maps at
 * once (they grow with T²), so the batch is capped by a memory budget — at paper scale (12
 * layers × 12 heads × 237² per example) that is 8 examples. The stages overlap a forward pass
 * with the last batch's records (pipeline.ts), so up to three batches' maps exist at once (the
 * one consumed, the one computed, the one arriving from the session worker): 768 MiB at most,
 * within the model Lambdas' 3,008 MB.
 */
import { attentionLayerCounts } from '../model/config';
import type { ModelConfig } from '../model/config';
import { ATTENTION_KINDS } from '../model/types';
import { attentionMapShape, headsOf } from '../jobs/map-shape';

/** Batch of TensorFlow.js (one thread, or tfjs-node's own pool). */
export const TFJS_BATCH = 32;
/** Batch of ONNX Runtime (any intra-op thread count). */
export const ONNX_RUNTIME_BATCH = 128;
/** Bytes the attention maps of one batch may take (float32, every attention layer). */
export const ATTENTION_BUDGET_BYTES = 256 * 2 ** 20;

/** float32 bytes of every attention map of one example: Σ over layers of H · Q · K · 4. */
export function attentionBytesPerExample(c: ModelConfig): number {
  const counts = attentionLayerCounts(c);
  return ATTENTION_KINDS.reduce((sum, kind) => {
    const [q, k] = attentionMapShape(c, kind);
    return sum + counts[kind] * headsOf(c, kind) * q * k * 4;
  }, 0);
}

/** Examples per forward pass on `runtime` for a model whose attention maps take `bytesPerExample` per example. */
export function inferenceBatchSize(runtime: 'onnxruntime' | 'tfjs', bytesPerExample: number): number {
  const wanted = runtime === 'onnxruntime' ? ONNX_RUNTIME_BATCH : TFJS_BATCH;
  const fits = bytesPerExample > 0 ? Math.floor(ATTENTION_BUDGET_BYTES / bytesPerExample) : wanted;
  return Math.max(1, Math.min(wanted, fits));
}
