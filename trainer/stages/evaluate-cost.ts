/**
 * Model cost for the evaluation result: parameters, FLOPs per example (from the config), weight
 * file size, and the latency of the model's architecture measured by the serial,
 * per-architecture pass of trainer/stages/measure-latency.ts (both runtimes; the primary
 * figures from ONNX Runtime when it ran). Timings depend on the machine: compare models
 * measured in the same pass.
 */
import { joinUri, storageFor, toUri } from '../../contract/storage';
import { flopsPerExample, type CostTask } from '../eval';
import type { EvalResult } from '../eval/result-schema';
import type { Task } from '../jobs/task';
import type { VLModel } from '../model';
import type { LatencyResult } from './measure-latency';

export { LATENCY_BATCH_SIZES } from './measure-latency';

const COST_TASK: Readonly<Record<Task, CostTask>> = { vqa: 'vqa', captioning: 'caption', translation: 'translate' };

export interface CostOptions {
  readonly task: Task;
  /** The model folder (holds model.bin). */
  readonly modelUri: string;
  /** The model's architecture's measurement (measureLatency). */
  readonly latency: LatencyResult;
}

export async function measureCost(model: VLModel, opts: CostOptions): Promise<EvalResult['cost']> {
  const weightsUri = joinUri(toUri(opts.modelUri), 'model.bin');
  const weightBytes = await storageFor(weightsUri).size(weightsUri);
  const generation = opts.task !== 'vqa';
  const others = (opts.latency.runtimes ?? []).slice(1).map((r) => r.runtime);
  const notes = [
    `latency: wall-clock ms per call (host arrays in, logits out), median over ${opts.latency.runs} interleaved rounds after ${opts.latency.warmup} warm-up calls, ` +
      `measured once per architecture after all evaluation (models of one architecture share it); primary runtime ${opts.latency.runtime ?? opts.latency.backend}` +
      (others.length ? `, also timed on ${others.join(', ')}` : ''),
    `flops: 2 × multiply-adds of every matmul of one forward pass, from the config (task "${COST_TASK[opts.task]}")`,
  ];
  if (generation) {
    notes.push(
      'generation flops and batch1/batch32 latency: one teacher-forced pass over the full target length (the cost of one decoding step); ' +
        'decodeBatch1 is a batch-1 decode of maxTargetLength greedy steps (EOS ignored), the encoder once, no key/value cache',
    );
  }
  return {
    params: model.countParams(),
    flops: flopsPerExample(model.config, COST_TASK[opts.task]),
    weightBytes,
    latency: opts.latency,
    notes,
  };
}
