/**
 * `amad runs [--aws]`: every run under the artifact root, one line each (the table of
 * `runs/index.html`, from `runs/index.json`). With `--aws`, runs the index still shows as running
 * are checked against Step Functions: an execution that was stopped, timed out or failed without
 * reaching RecordFailure (e.g. `amad cancel`) shows its execution status instead.
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { fileURLToPath } from 'node:url';
import { joinUri, isLocal, toUri } from '../../contract/storage';
import { formatRunsTable, type RunRow } from '../../trainer/report/runs-index';
import { readRunsIndex, runsIndexLayout } from '../../trainer/stages/runs-index';
import { findRunExecutions } from './aws-run';
import { artifactRoot, required, type CommandDeps } from './deps';

export interface RunsArgs {
  readonly root?: string;
  /** Check runs still marked running against Step Functions. */
  readonly aws?: boolean;
  /** @default AMAD_STATE_MACHINE_ARN */
  readonly stateMachine?: string;
}

export async function runsCommand(args: RunsArgs, deps: CommandDeps): Promise<number> {
  const runsUri = joinUri(toUri(artifactRoot(args.root, deps.env)), 'runs');
  const stateMachineArn = args.aws ? required(args.stateMachine, deps.env, 'AMAD_STATE_MACHINE_ARN', '--state-machine') : undefined;
  const index = await readRunsIndex(runsUri);
  if (index.runs.length === 0) {
    deps.err(`no runs recorded under ${isLocal(runsUri) ? fileURLToPath(runsUri) : runsUri}`);
    return 0;
  }
  let rows: RunRow[] = index.runs;
  if (stateMachineArn) {
    rows = await Promise.all(
      rows.map(async (r) => {
        if (r.status !== 'running') return r;
        const [latest] = await findRunExecutions(deps.sfn(), stateMachineArn, r.runId);
        if (!latest) return r;
        const d = await deps.sfn().send(new DescribeExecutionCommand({ executionArn: latest.executionArn }));
        return d.status && d.status !== 'RUNNING' ? { ...r, status: 'failed' as const, failure: { state: `execution ${d.status}`, error: d.error ?? d.status } } : r;
      }),
    );
  }
  formatRunsTable(rows).forEach((line) => deps.out(line));
  const page = runsIndexLayout(runsUri).html;
  deps.err(`${rows.length} run(s); the same table as a page: ${isLocal(page) ? fileURLToPath(page) : page}`);
  return 0;
}
