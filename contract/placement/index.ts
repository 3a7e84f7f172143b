/**
 * The scale plan of a run: stage placement (planner.ts), the execution-history events
 * (history.ts) and the largest state (state-size.ts), each against its AWS limit. `problems`
 * empty = the run fits every limit; otherwise each problem names the stage or limit and the fix.
 */
import type { RunPlan } from '../events';
import type { JobSpec } from '../spec';
import { successfulRunEvents } from './history';
import { AWS_LIMITS } from './limits';
import { planPlacement, type PlacementOptions, type PlacementPlan } from './planner';
import { estimateLargestStateBytes } from './state-size';

export * from './limits';
export * from './planner';
export * from './gpu-instance-types';
export { EVENTS, mapEvents, runEvents, successfulRunEvents, type RunShape } from './history';
export { estimateLargestStateBytes } from './state-size';
export { parseThroughputTable, resolveThroughputs, type ThroughputTable, type Throughputs } from './throughputs';
export { PRICES } from './prices';

export interface ScalePlan {
  readonly placement: PlacementPlan;
  /** Events of a successful run (null: data counts unknown). */
  readonly events: { readonly estimate: number | null; readonly limit: number };
  /** Bytes of the largest state (null: data counts unknown). */
  readonly stateBytes: { readonly estimate: number | null; readonly limit: number };
  readonly costUsd: number | null;
  readonly problems: readonly string[];
}

/** The whole plan of `spec` for the run plan `run` (contract/plan.ts planRun). */
export function planScale(spec: JobSpec, run: Omit<RunPlan, 'placement'>, opts: PlacementOptions = {}): ScalePlan {
  const placement = planPlacement(spec, opts);
  const problems = [...placement.problems];
  const counts = placement.counts;
  const candidates = run.candidateModels?.length && counts ? { models: run.candidateModels.length, valShards: Math.ceil(counts.examples.val / spec.data.shardSize) } : null;
  const events = successfulRunEvents(placement, { teacherTrained: run.teacher.trainRequired, studentJobs: run.studentJobs.length, candidates });
  if (events !== null && events > AWS_LIMITS.executionHistoryEvents) {
    problems.push(
      `execution history: a run writes ~${events} events, over the ${AWS_LIMITS.executionHistoryEvents} Step Functions allows: raise data.shardSize (more examples per Map item) or evaluate fewer models per run`,
    );
  }
  let stateBytes: number | null = null;
  if (counts) {
    const shardsOf = (n: number) => Math.ceil(n / spec.data.shardSize);
    stateBytes = estimateLargestStateBytes({ ...run, placement: { prepare: 'lambda', cacheTeacher: 'lambda', evaluate: 'lambda' } } as RunPlan, {
      train: shardsOf(counts.examples.train),
      val: shardsOf(counts.examples.val),
      test: shardsOf(counts.examples.test),
    });
    if (stateBytes > AWS_LIMITS.stateDataBytes) {
      problems.push(`state data: the largest state is ~${stateBytes} bytes, over the ${AWS_LIMITS.stateDataBytes} Step Functions allows: raise data.shardSize (fewer shard URIs) or run fewer student jobs`);
    }
  }
  const costs = placement.stages.map((s) => s.costUsd);
  return {
    placement,
    events: { estimate: events, limit: AWS_LIMITS.executionHistoryEvents },
    stateBytes: { estimate: stateBytes, limit: AWS_LIMITS.stateDataBytes },
    costUsd: costs.some((c) => c === null) ? null : costs.reduce<number>((a, c) => a + (c ?? 0), 0),
    problems,
  };
}
