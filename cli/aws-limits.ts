/**
 * AWS limits enforced on a local run, so a run that succeeds locally fits on AWS (issue 12):
 * - per Lambda invocation: the deployed function's timeout, memory and /tmp (ephemeral storage),
 *   from infra/functions/handler-specs.ts;
 * - 256 KiB of state data at every state transition, and of the execution input;
 * - 25,000 events in the execution history.
 * A breach fails the run with the error AWS would give:
 * - a function over its timeout: `States.Timeout` when the Task's TimeoutSeconds is what runs out
 *   (the 15-minute functions), `Lambda.Unknown` when the function's own, shorter timeout is;
 * - a function over its memory: `Lambda.Unknown` (Step Functions reports out-of-memory and
 *   function timeouts so: https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html);
 * - /tmp full: the function's own `Error` (ENOSPC: no space left on device);
 * - state or input over 256 KiB: `States.DataLimitExceeded` (no Catch catches it);
 * - history over 25,000 events: `States.Runtime` (AWS fails the execution; the exact error
 *   name is our assumption, not verified on AWS).
 *
 * Measured locally, with the limits of an in-process stand-in: memory is the growth of this
 * process's resident set, or of what JS holds (heap + Buffers) when that is larger, during the
 * invocation (sampled every 20 ms; concurrent invocations
 * share the process, so it over-counts rather than under-counts), /tmp is the bytes in the
 * run's scratch folder (TMPDIR of the run) after the invocation.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { HANDLER_SPECS, type HandlerName } from '../infra/functions/handler-specs';
import { AWS_LIMITS, DEFAULT_MODEL_MEMORY_MB, type LambdaLimits } from '../contract/placement/limits';
import { LAMBDA_TIMEOUT_SECONDS, TaskState } from '../contract/state-machine';

/** Handler of each Lambda Task state. */
const HANDLER_OF_STATE: Readonly<Record<string, HandlerName>> = {
  [TaskState.validate]: 'validate',
  [TaskState.prepareData]: 'prepare-data',
  [TaskState.preparePlan]: 'prepare-plan',
  [TaskState.prepareVocabulary]: 'prepare-vocabulary',
  [TaskState.prepareChunk]: 'prepare-chunk',
  [TaskState.cacheTeacherShard]: 'cache-teacher',
  [TaskState.evaluateShard]: 'evaluate',
  [TaskState.mergeEval]: 'merge-eval',
  [TaskState.report]: 'report',
  [TaskState.recordFailure]: 'failure',
};

/** What a local run enforces; every field defaults to the deployed value. */
export interface LocalLimits {
  /** Per Lambda Task state name (TaskState.evaluateShard, ...): replaces parts of the deployed limits. */
  readonly lambdas?: Readonly<Record<string, Partial<LambdaLimits>>>;
  readonly stateDataBytes?: number;
  readonly historyEvents?: number;
  /**
   * Whether tightened Lambda limits also steer the Validate stage's planner (which then moves a
   * stage that no longer fits to Batch). false = the plan uses the deployed limits and only the
   * enforcement is tight (a plan whose estimate is wrong, caught by the run).
   * @default true
   */
  readonly plan?: boolean;
}

/** A limit breach, named as AWS names it. */
export class AwsLimitExceeded extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** The deployed limits of a Lambda Task state (memory of model handlers: the stack default). */
export function deployedLambdaLimits(state: string): LambdaLimits | undefined {
  const handler = HANDLER_OF_STATE[state];
  if (!handler) return undefined;
  const spec = HANDLER_SPECS[handler];
  return {
    timeoutSeconds: spec.timeout.toSeconds(),
    memoryMb: spec.memorySize ?? DEFAULT_MODEL_MEMORY_MB,
    ephemeralMb: spec.ephemeralStorage ? spec.ephemeralStorage.toMebibytes() : 512,
  };
}

export function lambdaLimitsFor(state: string, limits: LocalLimits | undefined): LambdaLimits | undefined {
  const deployed = deployedLambdaLimits(state);
  return deployed && { ...deployed, ...limits?.lambdas?.[state] };
}

/** Bytes of all files under `dir` (0 when it does not exist). */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    // (Dirent.parentPath is Node ≥ 20.12; .path before it.)
    const parent = (e as { parentPath?: string }).parentPath ?? (e as unknown as { path: string }).path;
    const st = await fs.stat(path.join(parent, e.name)).catch(() => null);
    total += st?.size ?? 0;
  }
  return total;
}

interface MemorySample {
  readonly rss: number;
  /** V8 heap in use plus memory outside it held by JS objects (Buffers, ArrayBuffers). */
  readonly allocated: number;
}

/**
 * A full garbage collection, so that an invocation's baseline holds no garbage of earlier ones:
 * a real Lambda invocation starts without it, and here it would otherwise be collected during
 * the invocation and hide that much of its growth. Node exposes `gc` only with --expose-gc; the
 * flag can be set at run time, and a new context then sees the function.
 */
let gc: (() => void) | undefined;
function collectGarbage(): void {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
}

function memorySample(): MemorySample {
  const m = process.memoryUsage();
  return { rss: m.rss, allocated: m.heapUsed + m.external };
}

/**
 * Growth of this process's memory since `from`: the larger of the resident-set growth and the
 * growth of what JS holds. RSS alone under-counts in a process that freed memory earlier (the
 * allocator reuses pages that are still resident, so a new 128 MB buffer need not grow RSS).
 */
function memoryGrowth(from: MemorySample, now: MemorySample): number {
  return Math.max(now.rss - from.rss, now.allocated - from.allocated);
}

/**
 * Wraps an in-process Lambda handler so one invocation fails as on AWS when it runs longer, uses
 * more memory or leaves more in /tmp (`scratchDir`) than the function may.
 */
export function enforceLambdaLimits(state: string, limits: LambdaLimits, scratchDir: string, fn: (input: unknown) => Promise<unknown>): (input: unknown) => Promise<unknown> {
  return async (input) => {
    collectGarbage();
    const memory0 = memorySample();
    let peakGrowth = 0;
    const sample = () => (peakGrowth = Math.max(peakGrowth, memoryGrowth(memory0, memorySample())));
    const sampler = setInterval(sample, 20);
    sampler.unref();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // The Task's TimeoutSeconds (900 s) and the function's timeout: the shorter one fires. Which
        // one that is follows the deployed function (a tightened local limit stands in for it).
        const byState = (deployedLambdaLimits(state)?.timeoutSeconds ?? limits.timeoutSeconds) >= LAMBDA_TIMEOUT_SECONDS;
        reject(
          byState
            ? new AwsLimitExceeded('States.Timeout', `${state}: Task timed out after ${limits.timeoutSeconds} s`)
            : new AwsLimitExceeded('Lambda.Unknown', `${state}: Task timed out after ${limits.timeoutSeconds.toFixed(2)} seconds (the function's timeout)`),
        );
      }, limits.timeoutSeconds * 1000);
      timer.unref();
    });
    try {
      const result = await Promise.race([fn(input), timeout]);
      sample();
      const usedMb = peakGrowth / (1024 * 1024);
      if (usedMb > limits.memoryMb) {
        throw new AwsLimitExceeded('Lambda.Unknown', `${state}: Runtime.OutOfMemory: the invocation grew memory by ${Math.round(usedMb)} MB, over the function's ${limits.memoryMb} MB`);
      }
      const tmpMb = (await folderBytes(scratchDir)) / (1024 * 1024);
      if (tmpMb > limits.ephemeralMb) {
        throw new AwsLimitExceeded('Error', `${state}: ENOSPC: no space left on device (/tmp holds ${Math.round(tmpMb)} MB, the function has ${limits.ephemeralMb} MB of ephemeral storage)`);
      }
      return result;
    } finally {
      clearInterval(sampler);
      clearTimeout(timer);
    }
  };
}

/** UTF-8 bytes of a value's JSON (how Step Functions measures state data). */
export const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');

/** @throws AwsLimitExceeded (States.DataLimitExceeded) when `value` is over the limit */
export function checkStateData(where: string, value: unknown, limit: number = AWS_LIMITS.stateDataBytes): void {
  const bytes = jsonBytes(value);
  if (bytes > limit) throw new AwsLimitExceeded('States.DataLimitExceeded', `${where}: ${bytes} bytes of state data, over the ${limit}-byte limit`);
}

/**
 * Counts the execution-history events AWS would record for the local interpreter's events
 * (contract/placement/history.ts gives the per-state counts).
 */
export class HistoryCounter {
  count = 2; // ExecutionStarted + the final Execution* event
  constructor(private readonly lambdaStates: ReadonlySet<string>, private readonly batchStates: ReadonlySet<string>) {}

  /** Adds the events of one interpreter event; returns the total. */
  add(e: { type: string; state?: { name: string; type?: string } }): number {
    switch (e.type) {
      case 'StateEntered':
        this.count += e.state?.type === 'Map' ? 2 : 1; // <Type>StateEntered (+ MapStateStarted)
        break;
      case 'StateExited':
      case 'StateFailed': {
        const name = e.state?.name ?? '';
        if (this.lambdaStates.has(name)) this.count += 3; // Scheduled, Started, Succeeded/Failed
        else if (this.batchStates.has(name)) this.count += 4; // Scheduled, Started, Submitted, Succeeded/Failed
        else if (e.state?.type === 'Task') this.count += 3;
        this.count += e.state?.type === 'Map' ? 2 : 1; // <Type>StateExited (+ MapStateSucceeded)
        break;
      }
      case 'StateRetried':
        this.count += 3;
        break;
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
        this.count += 1;
        break;
    }
    return this.count;
  }
}
