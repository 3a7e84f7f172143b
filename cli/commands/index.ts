/**
 * The pipeline subcommands (run, submit, status, report, runs, cancel, validate, plan, export) on a commander
 * program; cli/amad.ts calls `registerPipelineCommands(program)`. Each command is a function
 * `(args, deps) => exit code`, tested without a process or AWS.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { cancelCommand } from './cancel';
import { defaultDeps, UsageError, type CommandDeps } from './deps';
import { exportCommand } from './export';
import { planCommand } from './plan';
import { reportCommand } from './report';
import { runCommand } from './run';
import { runsCommand } from './runs';
import { statusCommand } from './status';
import { submitCommand } from './submit';
import { validateCommand } from './validate';

export { cancelCommand, exportCommand, planCommand, reportCommand, runCommand, runsCommand, statusCommand, submitCommand, validateCommand };
export type { CommandDeps };

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected an integer ≥ 1, got "${value}"`);
  return n;
}

/** Runs a command, turning usage errors into exit code 2 and any other error into 1. */
async function execute(run: (deps: CommandDeps) => Promise<number>, makeDeps: () => CommandDeps): Promise<void> {
  const deps = makeDeps();
  try {
    process.exitCode = await run(deps);
  } catch (e) {
    deps.err(e instanceof UsageError ? `usage: ${e.message}` : `error: ${(e as Error).message}`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}

/** Adds the pipeline subcommands to `program`. `makeDeps` is for tests. */
export function registerPipelineCommands(program: Command, makeDeps: () => CommandDeps = defaultDeps): Command {
  program
    .command('run')
    .description('run the pipeline on this machine (same state machine as on AWS)')
    .argument('<spec>', 'job spec JSON file')
    .option('--run-id <id>', 'run id (default: the spec runId, else generated)')
    .option('--resume', 'continue an existing run: stages with valid markers are skipped')
    .option('--root <dir>', 'folder or s3:// prefix holding runs/ (default: AMAD_ARTIFACT_ROOT or .)')
    .option('--max-parallel-jobs <n>', 'training processes at once (default: the spec compute.maxParallelJobs)', positiveInt)
    .action(async (spec: string, o: { runId?: string; resume?: boolean; root?: string; maxParallelJobs?: number }) => {
      // SIGINT (Ctrl-C) or SIGTERM (a supervisor): stop the run, forward the signal to every
      // training job (they checkpoint and exit 75), wait for them, then print how to resume.
      const abort = new AbortController();
      let received: NodeJS.Signals | undefined;
      const onSignal = (signal: NodeJS.Signals) => {
        received ??= signal;
        abort.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await execute((deps) => runCommand({ spec, ...o, signal: abort.signal }, deps), makeDeps);
        // 128 + signal number, as a shell reports a process stopped by that signal.
        if (received) process.exitCode = received === 'SIGTERM' ? 143 : 130;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
  program
    .command('submit')
    .description('start a run on AWS: send the spec to the event bus; prints the run id')
    .argument('<spec>', 'job spec JSON file')
    .option('--run-id <id>', 'run id (default: the spec runId, else generated)')
    .option('--bus <name>', 'event bus name or ARN (default: AMAD_EVENT_BUS)')
    .option('--resume', 're-run an existing run id; completed stages are skipped')
    .action((spec: string, o: { runId?: string; bus?: string; resume?: boolean }) => execute((deps) => submitCommand({ spec, ...o }, deps), makeDeps));
  program
    .command('status')
    .description("show a run's stages (local) or its execution and Batch jobs (--aws)")
    .argument('<runId>')
    .option('--root <dir>', 'folder or s3:// prefix holding runs/ (default: AMAD_ARTIFACT_ROOT or .)')
    .option('--aws', 'ask Step Functions and Batch')
    .option('--state-machine <arn>', 'state machine ARN (default: AMAD_STATE_MACHINE_ARN)')
    .option('--job-queue <name>', 'Batch job queue (default: AMAD_JOB_QUEUE)')
    .action((runId: string, o: { root?: string; aws?: boolean; stateMachine?: string; jobQueue?: string }) =>
      execute((deps) => statusCommand({ runId, ...o }, deps), makeDeps),
    );
  program
    .command('report')
    .description("a run's report (or failure record): where it is, a URL a browser opens, a local copy")
    .argument('<runId>')
    .option('--root <dir>', 'folder or s3:// prefix holding runs/ (default: AMAD_ARTIFACT_ROOT or .)')
    .option('--url', 'print a URL that opens in a browser (presigned HTTPS for S3)')
    .option('--expires <duration>', 'validity of the presigned URL, e.g. 15m, 1h, 2d (default 1h; capped by your credentials)')
    .option('--download <dir>', 'copy the report folder (index.html, metrics.json, summary.md) into <dir>')
    .option('--open', 'open the report in the default browser')
    .action((runId: string, o: { root?: string; url?: boolean; expires?: string; download?: string; open?: boolean }) =>
      execute((deps) => reportCommand({ runId, ...o }, deps), makeDeps),
    );
  program
    .command('runs')
    .description('every run with its status and headline numbers (the table of runs/index.html)')
    .option('--root <dir>', 'folder or s3:// prefix holding runs/ (default: AMAD_ARTIFACT_ROOT or .)')
    .option('--aws', 'also ask Step Functions about runs still marked running')
    .option('--state-machine <arn>', 'state machine ARN (default: AMAD_STATE_MACHINE_ARN)')
    .action((o: { root?: string; aws?: boolean; stateMachine?: string }) => execute((deps) => runsCommand(o, deps), makeDeps));
  program
    .command('cancel')
    .description("stop a run's execution on AWS and terminate its Batch jobs")
    .argument('<runId>')
    .option('--state-machine <arn>', 'state machine ARN (default: AMAD_STATE_MACHINE_ARN)')
    .option('--job-queue <name>', 'Batch job queue (default: AMAD_JOB_QUEUE)')
    .option('--reason <text>', 'reason recorded on the execution and the jobs')
    .action((runId: string, o: { stateMachine?: string; jobQueue?: string; reason?: string }) => execute((deps) => cancelCommand({ runId, ...o }, deps), makeDeps));
  program
    .command('validate')
    .description('check a job spec; prints every problem with its path')
    .argument('<spec>', 'job spec JSON file')
    .action((spec: string) => execute((deps) => validateCommand({ spec }, deps), makeDeps));
  program
    .command('export')
    .description('write the ONNX export of a trained model (model.onnx + sidecar; encoder/decoder for generation), see docs/SERVING.md')
    .argument('<modelDir>', 'model folder holding model.json + model.bin (local or s3://)')
    .option('--out <file>', 'output .onnx file (default: <modelDir>/model.onnx)')
    .option('--opset <n>', 'ONNX opset (default 17)', positiveInt)
    .action((modelDir: string, o: { out?: string; opset?: number }) => execute((deps) => exportCommand({ modelDir, ...o }, deps), makeDeps));
  program
    .command('plan')
    .description('show where each stage runs, its invocations, time per invocation against its limit, and the cost')
    .argument('<spec>', 'job spec JSON file')
    .option(
      '--instance-types <types>',
      "plan for a deployment's GPU instance types, comma-separated (its CDK context instanceTypes, e.g. g5.xlarge,g4dn.xlarge): GPU stages are estimated with the slowest (default: AMAD_PLAN_GPU_INSTANCE_TYPES, else the spec's compute.instanceTypes)",
    )
    .option('--throughputs <file>', 'throughput table (default: contract/placement/throughputs.json)')
    .option('--counts <file>', 'data counts {examples:{train,val,test}, images:{train,val,test}} when the spec cannot give them')
    .option('--json', 'print the plan as JSON')
    .action((spec: string, o: { instanceTypes?: string; throughputs?: string; counts?: string; json?: boolean }) => execute((deps) => planCommand({ spec, ...o }, deps), makeDeps));
  return program;
}
