/**
 * `amad cancel <runId>`: stops the run's running execution and terminates its active Batch jobs.
 * Step Functions also terminates a `.sync` job when its execution stops, but not jobs whose
 * Task already moved on (or queued ones after a failure); terminating explicitly frees the GPUs.
 * Committed stages are kept: the run can be resumed.
 */
import { TerminateJobCommand } from '@aws-sdk/client-batch';
import { StopExecutionCommand } from '@aws-sdk/client-sfn';
import { ACTIVE_JOB_STATES, findRunExecutions, listRunJobs } from './aws-run';
import { required, type CommandDeps } from './deps';

export interface CancelArgs {
  readonly runId: string;
  /** @default AMAD_STATE_MACHINE_ARN */
  readonly stateMachine?: string;
  /** @default AMAD_JOB_QUEUE */
  readonly jobQueue?: string;
  /** @default "cancelled by amad cancel" */
  readonly reason?: string;
}

export async function cancelCommand(args: CancelArgs, deps: CommandDeps): Promise<number> {
  const stateMachineArn = required(args.stateMachine, deps.env, 'AMAD_STATE_MACHINE_ARN', '--state-machine');
  const jobQueue = required(args.jobQueue, deps.env, 'AMAD_JOB_QUEUE', '--job-queue');
  const reason = args.reason ?? 'cancelled by amad cancel';
  const executions = await findRunExecutions(deps.sfn(), stateMachineArn, args.runId);
  if (executions.length === 0) {
    deps.err(`no execution of run ${args.runId} on ${stateMachineArn}`);
    return 1;
  }
  const running = executions.filter((e) => e.status === 'RUNNING');
  for (const e of running) {
    await deps.sfn().send(new StopExecutionCommand({ executionArn: e.executionArn, error: 'Cancelled', cause: reason }));
    deps.out(`stopped execution ${e.name}`);
  }
  if (running.length === 0) deps.out(`run ${args.runId} has no running execution (latest: ${executions[0].status})`);
  const active = (await listRunJobs(deps.batch(), jobQueue, args.runId)).filter((j) => ACTIVE_JOB_STATES.has(j.status ?? ''));
  for (const j of active) {
    await deps.batch().send(new TerminateJobCommand({ jobId: j.jobId, reason }));
    deps.out(`terminated job ${j.jobName} (${j.status})`);
  }
  deps.out(`cancelled run ${args.runId}: ${running.length} execution(s) stopped, ${active.length} job(s) terminated; committed stages are kept for --resume`);
  return 0;
}
