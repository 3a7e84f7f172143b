/**
 * The largest state data a run carries, built as the state machine builds it (the run plan, the
 * shard URI lists of PrepareData, the evaluation shards, every student's result — failed ones with
 * their trimmed error — the merge and report outputs) and measured as Step Functions measures it:
 * UTF-8 bytes of the JSON. The limit is 256 KiB (AWS_LIMITS.stateDataBytes).
 */
import type { RunPlan, StudentResult } from '../events';
import { joinUri } from '../storage';

/** Longest legal S3 bucket name: the estimate holds for any bucket. */
const WORST_BUCKET = 's3://' + 'b'.repeat(63);

/** A failed student's result as TrainStudents keeps it (trimmed: contract/state-machine.ts). */
function failedStudent(j: RunPlan['studentJobs'][number]): StudentResult {
  return {
    student: j.student,
    seed: j.seed,
    modelId: j.modelId,
    status: 'FAILED',
    // Batch status reasons are at most a few hundred characters; 255 is the API's documented cap.
    error: { Error: 'States.TaskFailed', Cause: { jobId: 'f'.repeat(36), statusReason: 'r'.repeat(255) } },
  };
}

export function estimateLargestStateBytes(plan: RunPlan, shardCounts: { train: number; val: number; test: number }): number {
  const shardUris = (split: string, n: number) => Array.from({ length: n }, (_, i) => joinUri(plan.runUri, 'data', split, `shard-${String(i).padStart(5, '0')}.bin`));
  const shards = { train: shardUris('train', shardCounts.train), val: shardUris('val', shardCounts.val), test: shardUris('test', shardCounts.test) };
  const evalShards = plan.evalSplit === 'val' ? shards.val : shards.test;
  const state = {
    run: plan,
    data: { manifestUri: joinUri(plan.runUri, 'data', 'manifest.json'), shards, summary: { splits: {}, skipped: {} } },
    teacherJob: { jobId: 'f'.repeat(36), status: 'SUCCEEDED' },
    students: plan.studentJobs.map(failedStudent),
    evalShards,
    evaluation: {
      evalFiles: Object.fromEntries(plan.models.map((m) => [m.modelId, joinUri(plan.runUri, 'eval', `${m.modelId}.json`)])),
      missing: plan.models.map((m) => ({ modelId: m.modelId, reason: 'r'.repeat(120) })),
    },
    report: { reportUri: joinUri(plan.runUri, 'report/index.html'), metricsUri: joinUri(plan.runUri, 'report/metrics.json'), summaryUri: joinUri(plan.runUri, 'report/summary.md') },
  };
  return Buffer.byteLength(JSON.stringify(state), 'utf8');
}

export { WORST_BUCKET };
