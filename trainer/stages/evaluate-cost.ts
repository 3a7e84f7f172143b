/**
 * Model cost for the evaluation result: parameters, FLOPs per example (from the config), weight
 * file size and measured inference latency on the current tfjs backend.
 *
 * Latency: wall-clock time of whole calls (`performance.now()` around the call, the output read
 * back to the host so asynchronous backends have finished), after `warmup` untimed calls (kernel
 * compilation, first allocations), over `runs` timed calls → p50 / p95 / mean. Measured:
 *   - batch 1 and batch 32: one forward pass with dropout off. VQA: the answer logits.
 *     Generation: the decoder teacher-forced over the full target length, i.e. the cost of ONE
 *     decoding step at the longest prefix (the model recomputes the encoder at every step);
 *   - generation also: one whole greedy decode of batch 1 (as many steps as the model takes to
 *     emit EOS, at most maxTargetLength).
 * Timings depend on the machine and on other load on it: compare models measured in the same run.
 */
import * as tf from '@tensorflow/tfjs';
import { joinUri, storageFor, toUri } from '../../contract/storage';
import type { Batch } from '../data/batch';
import { flopsPerExample, latencyStats, type CostTask, type LatencyStats } from '../eval';
import { greedyDecode } from '../eval/decode';
import type { EvalResult } from '../eval/result-schema';
import { batchTensors, disposeBatchTensors, type Task } from '../jobs/task';
import type { VLModel } from '../model';

/** Batch sizes of the latency measurement. */
export const LATENCY_BATCH_SIZES = [1, 32] as const;

const COST_TASK: Readonly<Record<Task, CostTask>> = { vqa: 'vqa', captioning: 'caption', translation: 'translate' };

export interface CostOptions {
  readonly task: Task;
  /** The model folder (holds model.bin). */
  readonly modelUri: string;
  /** Real examples to time on: one batch of 1 and one of 32. */
  readonly batch1: Batch;
  readonly batch32: Batch;
  readonly warmup: number;
  readonly runs: number;
}

export async function measureCost(model: VLModel, opts: CostOptions): Promise<EvalResult['cost']> {
  const weightsUri = joinUri(toUri(opts.modelUri), 'model.bin');
  const weightBytes = await storageFor(weightsUri).size(weightsUri);
  const generation = opts.task !== 'vqa';
  const batch1 = timeForward(model, opts.task, opts.batch1, opts.warmup, opts.runs);
  const batch32 = timeForward(model, opts.task, opts.batch32, opts.warmup, opts.runs);
  const decodeBatch1 = generation ? timeGreedyDecode(model, opts.batch1, opts.warmup, opts.runs) : undefined;
  const notes = [
    'latency: wall-clock ms per call on a possibly shared machine; compare models measured in the same run',
    `flops: 2 × multiply-adds of every matmul of one forward pass, from the config (task "${COST_TASK[opts.task]}")`,
  ];
  if (generation) {
    notes.push(
      'generation flops and batch1/batch32 latency: one teacher-forced pass over the full target length (the cost of one decoding step); ' +
        'decodeBatch1 is a whole greedy decode, whose steps each re-run the encoder (no encoder or key/value cache)',
    );
  }
  return {
    params: model.countParams(),
    flops: flopsPerExample(model.config, COST_TASK[opts.task]),
    weightBytes,
    latency: {
      backend: tf.getBackend(),
      warmup: opts.warmup,
      runs: opts.runs,
      batch1,
      batch32,
      ...(decodeBatch1 ? { decodeBatch1 } : {}),
    },
    notes,
  };
}

/** p50/p95/mean of `runs` timed calls after `warmup` untimed ones, ms. */
export function timeCalls(call: () => void, warmup: number, runs: number): LatencyStats {
  for (let i = 0; i < warmup; i++) call();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    call();
    samples.push(performance.now() - start);
  }
  return latencyStats(samples);
}

function timeForward(model: VLModel, task: Task, batch: Batch, warmup: number, runs: number): LatencyStats {
  const t = batchTensors(batch, model.config);
  try {
    if (task !== 'vqa' && !t.inputs.decoderInput) throw new Error(`latency of a ${task} model needs decoder targets in the data and config.decoderLayers > 0`);
    return timeCalls(
      () =>
        tf.tidy(() => {
          const out = model.apply(t.inputs, { training: false });
          (task === 'vqa' ? out.answerLogits! : out.lmLogits!).dataSync(); // wait for the backend; return nothing (see TFJS-NOTES)
        }),
      warmup,
      runs,
    );
  } finally {
    disposeBatchTensors(t);
  }
}

function timeGreedyDecode(model: VLModel, batch: Batch, warmup: number, runs: number): LatencyStats {
  const t = batchTensors(batch, model.config);
  try {
    return timeCalls(() => void greedyDecode(model, { images: t.inputs.images, text: t.inputs.text }), warmup, runs);
  } finally {
    disposeBatchTensors(t);
  }
}
