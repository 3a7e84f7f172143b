/**
 * `amad run <spec> [--run-id <id>] [--resume]`: runs the pipeline on this machine (the same
 * state-machine definition as on AWS; see cli/local-executor.ts).
 */
import { fileURLToPath } from 'node:url';
import { submittedSpecUri } from '../../contract/events';
import { listCommittedStages, runLayout, runUriFor } from '../../contract/layout';
import { isLocal, storageFor } from '../../contract/storage';
import { runLocal } from '../local-executor';
import { createProgressReporter } from '../progress';
import { artifactRoot, type CommandDeps } from './deps';
import { readSpecFile, resolveRunId } from './spec-file';

export interface RunArgs {
  readonly spec: string;
  readonly runId?: string;
  /** Continue an existing run: stages with valid markers are skipped. */
  readonly resume?: boolean;
  /** Folder (or s3:// prefix) holding `runs/`. @default AMAD_ARTIFACT_ROOT or "." */
  readonly root?: string;
  /** Cap on concurrent training processes. @default the spec's compute.maxParallelJobs */
  readonly maxParallelJobs?: number;
  /** Aborts the run (SIGINT in the CLI). */
  readonly signal?: AbortSignal;
}

async function storeSubmittedSpec(runUri: string, spec: unknown): Promise<string> {
  const uri = submittedSpecUri(runUri);
  await storageFor(uri).put(uri, JSON.stringify(spec, null, 2) + '\n');
  return uri;
}

const where = (uri: string) => (isLocal(uri) ? fileURLToPath(uri) : uri);

export async function runCommand(args: RunArgs, deps: CommandDeps): Promise<number> {
  const parsed = await readSpecFile(args.spec, deps);
  if (!parsed.ok) return 1;
  const runId = resolveRunId(args.runId, parsed.spec, args.spec, deps);
  if (runId === null) return 2;
  const root = artifactRoot(args.root, deps.env);
  const runUri = runUriFor(root, runId);
  const specUri = runLayout(runUri).spec;
  if (!args.resume && (await storageFor(specUri).exists(specUri))) {
    deps.err(`run ${runId} already exists at ${where(runUri)}: pass --resume to continue it, or a new --run-id`);
    return 2;
  }
  if (args.resume) {
    const kept = await listCommittedStages(runUri).catch(() => []);
    deps.err(`resuming ${runId}: ${kept.length} stage(s) committed earlier are checked and skipped when valid`);
  }
  // Handler logs would tear the progress bars; keep warnings and errors.
  if (deps.isTTY) deps.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

  const progress = createProgressReporter({ tty: deps.isTTY, stream: deps.progressStream });
  let result;
  try {
    result = await runLocal(
      // The spec travels by URI: the execution input stays small whatever the spec's size.
      { runId, artifactRoot: root, specUri: await storeSubmittedSpec(runUri, { ...parsed.raw, runId }) },
      {
        lambdas: deps.lambdas(),
        trainer: deps.trainer(),
        maxParallelJobs: args.maxParallelJobs,
        onEvent: progress.onEvent,
        signal: args.signal,
      },
    );
  } finally {
    progress.stop();
  }
  const layout = runLayout(result.runUri);
  if (result.status === 'SUCCEEDED') {
    deps.out(`run ${runId} succeeded`);
    deps.out(`report: ${where(layout.reportIndex)}`);
    return 0;
  }
  if (result.status === 'ABORTED') {
    // Every training job has checkpointed and exited (runLocal waits for them).
    const resume = parsed.spec.runId === runId ? `npx amad run ${args.spec} --resume` : `npx amad run ${args.spec} --run-id ${runId} --resume`;
    deps.err(`run ${runId} stopped; every job was stopped and its progress kept. Continue it with: ${resume}`);
    return 130;
  }
  deps.err(`run ${runId} failed: ${result.error?.Error}: ${result.error?.Cause}`);
  deps.err(`details: ${where(layout.failure)}`);
  deps.err(`after fixing the cause, continue with: amad run ${args.spec} --run-id ${runId} --resume`);
  return 1;
}
