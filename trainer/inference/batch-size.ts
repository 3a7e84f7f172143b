/**
 * Examples per forward pass in the inference stages (teacher cache, evaluation).
 *
 * One thread (tfjs wasm, or ONNX Runtime with one intra-op thread) is compute-bound per example,
 * so 32 is as fast as anything larger. ONNX Runtime splits each operator over its intra-op
 * threads, which only pays when the operators are large, so with more than one thread the
 * stages hand it larger batches; docs/BENCHMARKS.md ("Inference stages") has the stage-level
 * figures for 1 thread × 32 and 2 threads × 128 — the second thread pays at the reference shapes'
 * cache and VQA evaluation, not on the demo's tiny models (AMAD_ORT_THREADS=1 there). Larger
 * batches hold more attention maps at once (they grow with T²), so the batch is capped by a
 * memory budget — at paper scale (12 layers × 12 heads × 237² per example) that is 8 examples.
 * The stages overlap a forward pass with the last batch's records (pipeline.ts), so up to three
 * batches' maps exist at once (the one consumed, the one computed, its copy from the session
 * worker): 768 MiB at most, within the model Lambdas' 3,008 MB.
 */
import { attentionLayerCounts } from '../model/config';
import type { ModelConfig } from '../model/config';
import { ATTENTION_KINDS } from '../model/types';
import { attentionMapShape, headsOf } from '../jobs/map-shape';

/** Batch on one thread. */
export const SINGLE_THREAD_BATCH = 32;
/** Batch when the runtime has more than one intra-op thread to split each operator over. */
export const MULTI_THREAD_BATCH = 128;
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

/**
 * Examples per forward pass for a runtime with `threads` intra-op threads (null: its own pool,
 * e.g. tfjs-node) and a model whose attention maps take `bytesPerExample` per example.
 */
export function inferenceBatchSize(threads: number | null, bytesPerExample: number): number {
  const wanted = threads !== null && threads > 1 ? MULTI_THREAD_BATCH : SINGLE_THREAD_BATCH;
  const fits = bytesPerExample > 0 ? Math.floor(ATTENTION_BUDGET_BYTES / bytesPerExample) : wanted;
  return Math.max(1, Math.min(wanted, fits));
}
