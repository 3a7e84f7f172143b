/**
 * What the pipeline commands need from the outside world, injected so tests replace it: output
 * lines, environment, clock, AWS clients and the local executor's handlers and trainer.
 */
import { BatchClient } from '@aws-sdk/client-batch';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import * as path from 'node:path';
import { defaultLambdaRegistry } from '../lambda-registry';
import { defaultTrainerLauncher, type LambdaRegistry, type TrainerLauncher } from '../local-executor';

export interface CommandDeps {
  /** Writes one line of the command's result (stdout). */
  readonly out: (line: string) => void;
  /** Writes one line of diagnostics (stderr). */
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** Live progress bars (stdout is a terminal). */
  readonly isTTY: boolean;
  readonly now: () => Date;
  readonly sfn: () => SFNClient;
  readonly batch: () => BatchClient;
  readonly eventBridge: () => EventBridgeClient;
  /** In-process Lambda handlers of a local run. */
  readonly lambdas: () => LambdaRegistry;
  /** How a local run starts the trainer. */
  readonly trainer: () => TrainerLauncher;
  /** Output stream of the progress display. */
  readonly progressStream: NodeJS.WritableStream;
  /** Opens a file path or URL in the default browser (`amad report --open`). @default the `open` package */
  readonly openTarget?: (target: string) => Promise<void>;
}

/** Clients and handlers for real use: created on first use (a `validate` never loads the SDK clients). */
export function defaultDeps(): CommandDeps {
  const once = <T>(make: () => T) => {
    let v: T | undefined;
    return () => (v ??= make());
  };
  const projectRoot = path.resolve(__dirname, __filename.endsWith('.ts') ? '../..' : '../../..');
  return {
    out: (line) => process.stdout.write(line + '\n'),
    err: (line) => process.stderr.write(line + '\n'),
    env: process.env,
    isTTY: Boolean(process.stdout.isTTY),
    now: () => new Date(),
    sfn: once(() => new SFNClient({})),
    batch: once(() => new BatchClient({})),
    eventBridge: once(() => new EventBridgeClient({})),
    lambdas: once(() => defaultLambdaRegistry()),
    trainer: once(() => defaultTrainerLauncher(projectRoot)),
    progressStream: process.stdout,
  };
}

/** A run id for a spec without one: `run-<UTC date>-<time>-<random>` (sortable, unique enough). */
export function generateRunId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15); // 20261127-074512
  return `run-${stamp}-${Math.random().toString(36).slice(2, 6)}`;
}

/** The artifact root: --root, else AMAD_ARTIFACT_ROOT, else the current folder. */
export function artifactRoot(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? env.AMAD_ARTIFACT_ROOT ?? '.';
}

/** A required setting from a flag or an environment variable. @throws UsageError naming both */
export function required(flag: string | undefined, env: NodeJS.ProcessEnv, envName: string, flagName: string): string {
  const v = flag ?? env[envName];
  if (!v) throw new UsageError(`missing ${flagName}: pass ${flagName} or set ${envName}`);
  return v;
}

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
