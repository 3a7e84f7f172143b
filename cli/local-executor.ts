/**
 * Runs THE pipeline definition (contract/state-machine.ts) on one machine with the
 * aws-local-stepfunctions interpreter. No second orchestration path: Choice, Map, Retry and
 * Catch are the definition's own; only Task states are overridden, by state name:
 * - Lambda Tasks call in-process handlers from a registry supplied by the caller;
 * - Batch Tasks spawn the trainer entry point as a child process with the job's container
 *   command, at most `maxParallelJobs` at once, skipping jobs whose stage marker is valid;
 * - SNS Tasks become a notification event.
 */
import './polyfills';
import { spawn } from 'node:child_process';
import { createWriteStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ExecutionInputSchema, RunPlanSchema, type ExecutionInput } from '../contract/events';
import { isStageComplete, runUriFor } from '../contract/layout';
import { parseEvent } from '../contract/parse-event';
import { BATCH_TASKS, buildDefinition, LAMBDA_TASKS, localSubstitutions, NOTIFY_TASKS, substituteDefinition, TaskState } from '../contract/state-machine';
import { isLocal } from '../contract/storage';
import { isStageCommand, parseTrainerCommand, runUriOfSpec, trainerJobStage } from '../contract/trainer-job';
import { PLAN_LIMITS_ENV, type PlacedFunction } from '../contract/placement/limits';
import { AwsLimitExceeded, checkStateData, enforceLambdaLimits, HistoryCounter, lambdaLimitsFor, type LocalLimits } from './aws-limits';
import { parseTrainerProgress, type PipelineEvent, type PipelineEventListener } from './pipeline-events';
import { Semaphore } from './semaphore';

// The package is ESM-typed but ships a CommonJS build (its "require" export): load that build,
// and take only the types from the ESM declarations.
import type * as LocalStepFunctions from 'aws-local-stepfunctions' with { 'resolution-mode': 'import' };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { StateMachine } = require('aws-local-stepfunctions') as typeof LocalStepFunctions;
type StateMachineDefinition = LocalStepFunctions.StateMachineDefinition;

/** An in-process stand-in for a Lambda function: the state input in, the state result out. */
export type LambdaHandler = (input: unknown) => Promise<unknown>;
/** Handlers of the Lambda Task states, keyed by state name (TaskState.validate, ...). */
export type LambdaRegistry = Readonly<Record<string, LambdaHandler>>;

/** How to start the trainer; the job's container command is appended to `args`. */
export interface TrainerLauncher {
  /** Executable, e.g. `process.execPath`. */
  readonly command: string;
  /** Arguments before the job command, e.g. `['dist/trainer/main.js']` or `['--import', 'tsx', 'trainer/main.ts']`. */
  readonly args: readonly string[];
  readonly cwd?: string;
  /** Added to the parent's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface LocalRunOptions {
  readonly lambdas: LambdaRegistry;
  readonly trainer: TrainerLauncher;
  /** Cap on concurrent training processes. @default the spec's compute.maxParallelJobs */
  readonly maxParallelJobs?: number;
  /** In-process Lambda handlers running at once (they share this process's CPU). @default 2 */
  readonly lambdaConcurrency?: number;
  /** Wait before a retry, replacing the definition's backoff (seconds on AWS). @default 20 ms */
  readonly retryIntervalMs?: number;
  /** Folder for the training jobs' logs. @default `<run>/logs` for local runs, else a temp folder */
  readonly logDir?: string;
  readonly onEvent?: PipelineEventListener;
  /** Aborting stops the execution and sends SIGTERM to the training processes. */
  readonly signal?: AbortSignal;
  /** The definition to run. @default buildDefinition() (tests pass smaller ones) */
  readonly definition?: Record<string, unknown>;
  /**
   * AWS limits enforced on the run (cli/aws-limits.ts); tighter ones also steer the planner of the
   * Validate stage, which then places stages on Batch. `false` turns enforcement off.
   * @default the deployed limits
   */
  readonly limits?: LocalLimits | false;
}

export interface LocalRunResult {
  readonly runId: string;
  readonly runUri: string;
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  /** Final state data (SUCCEEDED). */
  readonly output?: unknown;
  /** The run's error (FAILED): the Fail state's Error and Cause. */
  readonly error?: { readonly Error: string; readonly Cause: string };
  /** Execution-history events AWS would have recorded (counted when limits are enforced). */
  readonly historyEvents?: number;
}

/** The failure of a local training process, named like the Step Functions Batch error. */
export class TrainingJobFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'States.TaskFailed';
  }
}

const BatchParametersSchema = z.looseObject({
  JobName: z.string().min(1),
  ContainerOverrides: z.looseObject({ Command: z.array(z.string()).min(1) }),
});

/** The trainer started from the compiled build, or from source through tsx. */
export function defaultTrainerLauncher(projectRoot: string): TrainerLauncher {
  const compiled = path.join(projectRoot, 'dist', 'trainer', 'main.js');
  const fromSource = path.join(projectRoot, 'trainer', 'main.ts');
  // __filename ends in .ts under tsx/ts-jest, .js when compiled: run the trainer the same way.
  return __filename.endsWith('.ts')
    ? { command: process.execPath, args: ['--import', 'tsx', fromSource], cwd: projectRoot }
    : { command: process.execPath, args: [compiled], cwd: projectRoot };
}

/** Reads a `$.a.b` path (the subset ItemsPath uses here) for the display's totals. */
function readPath(value: unknown, jsonPath: string): unknown {
  if (!jsonPath.startsWith('$')) return undefined;
  let cur = value;
  for (const part of jsonPath.slice(1).split('.').filter(Boolean)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** ItemsPath of every Map state by name (nested ones included). */
function mapItemsPaths(definition: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type !== 'Map') continue;
      out.set(name, typeof state.ItemsPath === 'string' ? state.ItemsPath : '$');
      const proc = (state.ItemProcessor ?? state.Iterator) as { States?: Record<string, Record<string, unknown>> } | undefined;
      if (proc?.States) visit(proc.States);
    }
  };
  visit(definition.States as Record<string, Record<string, unknown>>);
  return out;
}

/** Runs one pipeline execution locally. Never throws for a failed run: see `status`. */
export async function runLocal(rawInput: ExecutionInput, opts: LocalRunOptions): Promise<LocalRunResult> {
  const input = parseEvent(ExecutionInputSchema, rawInput, 'execution input');
  const runUri = runUriFor(input.artifactRoot, input.runId);
  const emit = (e: PipelineEvent) => opts.onEvent?.(e);
  const missing = LAMBDA_TASKS.filter((name) => typeof opts.lambdas[name] !== 'function');
  const definition = opts.definition ?? buildDefinition();
  const usedTasks = taskStateNames(definition);
  const missingUsed = missing.filter((m) => usedTasks.has(m));
  if (missingUsed.length) throw new Error(`no local handler for Lambda state(s) ${missingUsed.join(', ')}: add them to the lambdas registry`);

  const limits = opts.limits === false ? undefined : (opts.limits ?? {});
  // Breaches no Catch can catch on AWS (state size, history) end the execution at once.
  let fatal: AwsLimitExceeded | undefined;
  if (limits) {
    try {
      checkStateData('execution input', rawInput, limits.stateDataBytes);
    } catch (e) {
      if (!(e instanceof AwsLimitExceeded)) throw e;
      emit({ type: 'run-finished', runId: input.runId, status: 'FAILED', error: e.name });
      return { runId: input.runId, runUri, status: 'FAILED', error: { Error: e.name, Cause: e.message } };
    }
  }

  const jobs = new Semaphore(opts.maxParallelJobs ?? 1);
  const lambdaSlots = new Semaphore(opts.lambdaConcurrency ?? 2);
  const children = new Set<ReturnType<typeof spawn>>();
  const childExits = new Set<Promise<void>>();
  const lambdasInFlight = new Set<Promise<void>>();
  const logDir = opts.logDir ?? (isLocal(runUri) ? path.join(fileURLToPath(runUri), 'logs') : path.join(os.tmpdir(), 'amad-logs', input.runId));

  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  // The run's /tmp: what the in-process Lambdas leave there counts against their ephemeral storage.
  const scratchDir = await fs.mkdtemp(path.join(os.tmpdir(), `amad-scratch-${input.runId}-`));
  const outerTmp = process.env.TMPDIR;
  const outerPlanLimits = process.env[PLAN_LIMITS_ENV];
  for (const name of LAMBDA_TASKS) {
    const fn = opts.lambdas[name];
    if (!fn) continue;
    const lim = limits && lambdaLimitsFor(name, limits);
    const run = lim ? enforceLambdaLimits(name, lim, scratchDir, fn) : fn;
    handlers[name] = (stateInput) => {
      const call = lambdaSlots.use(() => run(stateInput));
      // Tracked so the run returns only when no in-process Lambda is still writing (an aborted
      // execution does not wait for its Tasks; a caller may delete the run folder next).
      const settled = call.then(() => undefined, () => undefined);
      lambdasInFlight.add(settled);
      void settled.then(() => lambdasInFlight.delete(settled));
      return call;
    };
  }
  // The plan says how many training jobs may run at once, unless the caller capped it.
  const validate = handlers[TaskState.validate];
  if (validate) {
    handlers[TaskState.validate] = async (stateInput) => {
      const plan = await validate(stateInput);
      const parsed = RunPlanSchema.safeParse(plan);
      if (parsed.success && opts.maxParallelJobs === undefined) jobs.setLimit(parsed.data.maxParallelJobs);
      return plan;
    };
  }
  for (const name of BATCH_TASKS) {
    handlers[name] = (params) => runTrainingJob(name, params);
  }
  for (const name of NOTIFY_TASKS) {
    handlers[name] = async (params) => {
      const p = params as { Subject?: string; Message?: string };
      emit({ type: 'notification', subject: p.Subject ?? '', message: p.Message ?? '' });
      return { MessageId: `local-${Date.now()}` };
    };
  }

  async function runTrainingJob(state: string, params: unknown): Promise<unknown> {
    const p = parseEvent(BatchParametersSchema, params, `${state} Batch parameters`);
    const command = p.ContainerOverrides.Command;
    // A Lambda stage placed on Batch: its handler checks its own stage marker.
    if (isStageCommand(command)) return jobs.use(() => spawnTrainer(p.JobName, command));
    const job = parseTrainerCommand(command);
    const { stage } = trainerJobStage(job);
    const jobRunUri = runUriOfSpec(job.specUri);
    // Resume: the same check the trainer makes on AWS, done here to avoid starting a process.
    if (await isStageComplete(jobRunUri, stage)) {
      emit({ type: 'stage-skipped', state, stage });
      return { JobId: `local-skipped-${p.JobName}`, JobName: p.JobName, Status: 'SUCCEEDED' };
    }
    return jobs.use(() => spawnTrainer(p.JobName, command));
  }

  async function spawnTrainer(jobName: string, command: readonly string[]): Promise<unknown> {
    if (opts.signal?.aborted) throw new TrainingJobFailed(JSON.stringify({ JobName: jobName, Status: 'FAILED', StatusReason: 'run stopped before the job started' }));
    await fs.mkdir(logDir, { recursive: true });
    const logFile = path.join(logDir, `${jobName}.log`);
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(opts.trainer.command, [...opts.trainer.args, ...command], {
      cwd: opts.trainer.cwd,
      // The job's own /tmp (a Batch container's disk), not the in-process Lambdas' scratch folder.
      env: { ...process.env, TMPDIR: outerTmp ?? os.tmpdir(), ...opts.trainer.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    childExits.add(exited);
    void exited.then(() => childExits.delete(exited));
    emit({ type: 'job-started', jobName, pid: child.pid ?? -1, logFile });
    const tail: string[] = [];
    const onLine = (line: string) => {
      log.write(line + '\n');
      tail.push(line);
      if (tail.length > 20) tail.shift();
      const progress = parseTrainerProgress(line);
      if (progress) emit({ type: 'job-progress', jobName, ...progress });
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, s) => resolve({ code: c, signal: s }));
    }).finally(() => {
      children.delete(child);
      log.end();
    });
    emit({ type: 'job-finished', jobName, exitCode: code, signal });
    if (code !== 0) {
      throw new TrainingJobFailed(
        // Shaped like the Batch job description AWS puts in the Cause (JobId, StatusReason, ...).
        JSON.stringify({ JobId: `local-${child.pid}`, JobName: jobName, Status: 'FAILED', StatusReason: signal ? `killed by ${signal}` : `exit code ${code}`, LogFile: logFile, LogTail: tail.slice(-5) }),
      );
    }
    return { JobId: `local-${child.pid}`, JobName: jobName, Status: 'SUCCEEDED' };
  }

  const resolved = substituteDefinition(definition, localSubstitutions()) as unknown as StateMachineDefinition;
  const machine = new StateMachine(resolved, { validationOptions: { checkArn: true, checkPaths: true } });
  const retryIntervalOverrides: Record<string, number> = {};
  for (const name of usedTasks) retryIntervalOverrides[name] = opts.retryIntervalMs ?? 20;
  const execution = machine.run(input as unknown as Parameters<LocalStepFunctions.StateMachine['run']>[0], {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
  });
  const onAbort = () => {
    // Training jobs checkpoint and exit 75 on SIGTERM; the run waits for them (below).
    for (const c of children) c.kill('SIGTERM');
    execution.abort();
  };
  const failFatally = (e: AwsLimitExceeded) => {
    fatal ??= e;
    for (const c of children) c.kill('SIGTERM');
    execution.abort();
  };
  if (limits) {
    process.env.TMPDIR = scratchDir;
    // The Validate stage plans with the same (possibly tightened) limits the run enforces.
    const planLimits: Partial<Record<PlacedFunction, unknown>> = {};
    const fnOf: Record<string, PlacedFunction> = { [TaskState.prepareData]: 'prepare-data', [TaskState.cacheTeacherShard]: 'cache-teacher', [TaskState.evaluateShard]: 'evaluate' };
    for (const [state, fn] of Object.entries(fnOf)) planLimits[fn] = lambdaLimitsFor(state, limits);
    if (limits.plan !== false) process.env[PLAN_LIMITS_ENV] = JSON.stringify(planLimits);
  }
  const history = new HistoryCounter(new Set(LAMBDA_TASKS), new Set(BATCH_TASKS));
  const historyLimit = limits?.historyEvents ?? 25_000;
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  emit({ type: 'run-started', runId: input.runId, runUri });
  const itemsPaths = mapItemsPaths(resolved as unknown as Record<string, unknown>);
  const forward = (async () => {
    for await (const ev of execution.eventLogs) {
      const e = ev as unknown as {
        type: string;
        index?: number;
        state?: { name: string; type?: string; input?: unknown; output?: unknown };
        parentState?: { name: string };
        Error?: string;
        Cause?: unknown;
        retry?: { attempt: number };
      };
      if (limits && !fatal) {
        try {
          if (e.type === 'StateEntered' && e.state) checkStateData(`${e.state.name} input`, e.state.input, limits.stateDataBytes);
          if (e.type === 'StateExited' && e.state) checkStateData(`${e.state.name} output`, e.state.output, limits.stateDataBytes);
          if (history.add(e) > historyLimit) throw new AwsLimitExceeded('States.Runtime', `the execution history reached ${history.count} events, over the ${historyLimit} Step Functions allows`);
        } catch (breach) {
          if (!(breach instanceof AwsLimitExceeded)) throw breach;
          failFatally(breach);
        }
      }
      if ((e.type === 'MapIterationSucceeded' || e.type === 'MapIterationFailed') && e.parentState) {
        emit({ type: 'map-item-finished', state: e.parentState.name, index: e.index ?? -1, ok: e.type === 'MapIterationSucceeded' });
        continue;
      }
      if (!e.state) continue;
      const base = { state: e.state.name, ...(e.index !== undefined ? { index: e.index } : {}) };
      switch (e.type) {
        case 'StateEntered': {
          const items = itemsPaths.has(e.state.name) ? readPath(e.state.input, itemsPaths.get(e.state.name)!) : undefined;
          emit({ type: 'state-entered', ...base, ...(Array.isArray(items) ? { total: items.length } : {}) });
          break;
        }
        case 'StateExited':
          emit({ type: 'state-succeeded', ...base });
          break;
        case 'StateFailed':
          emit({ type: 'state-failed', ...base, error: e.Error ?? 'Error', cause: typeof e.Cause === 'string' ? e.Cause : JSON.stringify(e.Cause) });
          break;
        case 'StateRetried':
          emit({ type: 'state-retried', ...base, attempt: e.retry?.attempt ?? 0 });
          break;
        case 'StateCaught':
          emit({ type: 'state-caught', ...base });
          break;
      }
    }
  })();

  let result: LocalRunResult;
  try {
    const output = await execution.result;
    result = { runId: input.runId, runUri, status: 'SUCCEEDED', output };
  } catch (e) {
    const err = e as Error & { cause?: Error };
    if (fatal) result = { runId: input.runId, runUri, status: 'FAILED', error: { Error: fatal.name, Cause: fatal.message } };
    else if (err.name === 'ExecutionAbortedError') result = { runId: input.runId, runUri, status: 'ABORTED' };
    else {
      const cause = err.cause ?? err;
      result = { runId: input.runId, runUri, status: 'FAILED', error: { Error: cause.name, Cause: cause.message } };
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  await forward.catch(() => undefined);
  // No job outlives the run: wait for every child to checkpoint and exit, and every in-process Lambda to return.
  await Promise.all([...childExits, ...lambdasInFlight]);
  if (limits) {
    restoreEnv('TMPDIR', outerTmp);
    restoreEnv(PLAN_LIMITS_ENV, outerPlanLimits);
  }
  await fs.rm(scratchDir, { recursive: true, force: true });
  if (limits) result = { ...result, historyEvents: history.count };
  emit({ type: 'run-finished', runId: input.runId, status: result.status, ...(result.error ? { error: result.error.Error } : {}) });
  return result;
}

/** Names of every Task state in a definition (nested Maps included). */
function taskStateNames(definition: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') out.add(name);
      const proc = (state.ItemProcessor ?? state.Iterator) as { States?: Record<string, Record<string, unknown>> } | undefined;
      if (proc?.States) visit(proc.States);
      for (const b of (state.Branches as { States: Record<string, Record<string, unknown>> }[] | undefined) ?? []) visit(b.States);
    }
  };
  visit(definition.States as Record<string, Record<string, unknown>>);
  return out;
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
