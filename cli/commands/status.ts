/**
 * `amad status <runId>`: where a run is.
 * - local (default): every stage of the run plan with done/pending, from the stage markers;
 * - `--aws`: the Step Functions execution (status, current states, failure) and the run's Batch
 *   jobs with their states and CloudWatch log stream names.
 */
import { DescribeJobsCommand } from '@aws-sdk/client-batch';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { fileURLToPath } from 'node:url';
import { FailureRecordSchema } from '../../contract/events';
import { isStageComplete, listCommittedStages, runLayout, runUriFor, Stage } from '../../contract/layout';
import { planRunWithoutPlacement, readRunSpec } from '../../contract/plan';
import { isLocal, storageFor, StorageNotFoundError } from '../../contract/storage';
import { findRunExecutions, listRunJobs } from './aws-run';
import { artifactRoot, required, type CommandDeps } from './deps';

export interface StatusArgs {
  readonly runId: string;
  readonly root?: string;
  /** Ask AWS (Step Functions and Batch) instead of reading the local run folder. */
  readonly aws?: boolean;
  /** @default AMAD_STATE_MACHINE_ARN */
  readonly stateMachine?: string;
  /** @default AMAD_JOB_QUEUE */
  readonly jobQueue?: string;
}

export async function statusCommand(args: StatusArgs, deps: CommandDeps): Promise<number> {
  return args.aws ? awsStatus(args, deps) : localStatus(args, deps);
}

/** The stage ids a run must complete, in pipeline order (from its spec). */
async function expectedStages(runUri: string): Promise<string[] | null> {
  try {
    const spec = await readRunSpec(runLayout(runUri).spec);
    // The stage list only: a placement that no longer fits (other limits or GPU) must not break status.
    const plan = planRunWithoutPlacement(spec, spec.runId ?? 'run', runUri);
    return [
      Stage.validate,
      Stage.prepareData,
      ...(plan.teacher.trainRequired ? [Stage.trainTeacher] : []),
      ...plan.studentJobs.map((j) => Stage.trainStudent(j.student, j.seed)),
      ...(plan.hasCandidates ? [Stage.selectCandidates] : []),
      Stage.mergeEval,
      Stage.report,
    ];
  } catch (e) {
    if (e instanceof StorageNotFoundError) return null;
    throw e;
  }
}

async function localStatus(args: StatusArgs, deps: CommandDeps): Promise<number> {
  const runUri = runUriFor(artifactRoot(args.root, deps.env), args.runId);
  const expected = await expectedStages(runUri);
  if (!expected) {
    deps.err(`no run ${args.runId} at ${runUri} (no spec.json): check the id and --root`);
    return 1;
  }
  const committed = await listCommittedStages(runUri);
  deps.out(`run ${args.runId} (${isLocal(runUri) ? fileURLToPath(runUri) : runUri})`);
  for (const stage of expected) {
    const done = await isStageComplete(runUri, stage, { verify: 'size' });
    deps.out(`  ${done ? 'done   ' : 'pending'}  ${stage}`);
  }
  const perShard = (prefix: string) => committed.filter((s) => s.startsWith(prefix)).length;
  deps.out(`  ${perShard('cache-teacher/')} teacher cache shard(s), ${perShard('evaluate/')} evaluation shard(s) done`);
  const failureUri = runLayout(runUri).failure;
  if (await storageFor(failureUri).exists(failureUri)) {
    const record = FailureRecordSchema.safeParse(JSON.parse((await storageFor(failureUri).get(failureUri)).toString()));
    if (record.success) deps.out(`  last failure: ${record.data.failedState ?? '?'}: ${record.data.error} (${record.data.failedAt})`);
  }
  return 0;
}

/** The latest `StateEntered` names not yet exited (what the execution is doing). */
function currentStates(history: readonly HistoryEvent[]): string[] {
  const open = new Map<string, number>();
  // Oldest first.
  for (const e of [...history].reverse()) {
    if (e.stateEnteredEventDetails?.name) open.set(e.stateEnteredEventDetails.name, (open.get(e.stateEnteredEventDetails.name) ?? 0) + 1);
    if (e.stateExitedEventDetails?.name) open.set(e.stateExitedEventDetails.name, (open.get(e.stateExitedEventDetails.name) ?? 0) - 1);
  }
  return [...open].filter(([, n]) => n > 0).map(([name]) => name);
}

async function awsStatus(args: StatusArgs, deps: CommandDeps): Promise<number> {
  const stateMachineArn = required(args.stateMachine, deps.env, 'AMAD_STATE_MACHINE_ARN', '--state-machine');
  const jobQueue = required(args.jobQueue, deps.env, 'AMAD_JOB_QUEUE', '--job-queue');
  const executions = await findRunExecutions(deps.sfn(), stateMachineArn, args.runId);
  if (executions.length === 0) {
    deps.err(`no execution of run ${args.runId} on ${stateMachineArn}`);
    return 1;
  }
  const latest = executions[0];
  const d = await deps.sfn().send(new DescribeExecutionCommand({ executionArn: latest.executionArn }));
  deps.out(`run ${args.runId}: ${d.status} (execution ${latest.name}, started ${d.startDate?.toISOString() ?? '?'}${d.stopDate ? `, stopped ${d.stopDate.toISOString()}` : ''})`);
  if (executions.length > 1) deps.out(`  ${executions.length - 1} earlier execution(s) of this run`);
  // Newest 200 events are enough to see the current states; the full history can be 25k events.
  const history = await deps.sfn().send(new GetExecutionHistoryCommand({ executionArn: latest.executionArn, reverseOrder: true, maxResults: 200 }));
  const events = history.events ?? [];
  if (d.status === 'RUNNING') deps.out(`  in: ${currentStates(events).join(', ') || '(starting)'}`);
  if (d.error || d.cause) deps.out(`  error: ${d.error ?? ''}: ${d.cause ?? ''}`);

  const jobs = await listRunJobs(deps.batch(), jobQueue, args.runId);
  if (jobs.length === 0) {
    deps.out('  no Batch jobs yet');
    return 0;
  }
  // DescribeJobs takes at most 100 ids per call.
  const details = new Map<string, { logStream?: string; reason?: string }>();
  for (let i = 0; i < jobs.length; i += 100) {
    const r = await deps.batch().send(new DescribeJobsCommand({ jobs: jobs.slice(i, i + 100).map((j) => j.jobId!) }));
    for (const j of r.jobs ?? []) {
      const attempts = j.attempts ?? [];
      const logStream = j.container?.logStreamName ?? attempts.at(-1)?.container?.logStreamName;
      details.set(j.jobId!, { logStream, reason: j.statusReason });
    }
  }
  deps.out('  jobs:');
  for (const j of jobs) {
    const more = details.get(j.jobId!);
    deps.out(`    ${j.jobName}  ${j.status}${more?.reason ? ` (${more.reason})` : ''}  log stream: ${more?.logStream ?? '-'}`);
  }
  return 0;
}
