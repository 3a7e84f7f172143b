/**
 * The AWS limits a run must fit, as plain numbers every stage can import (no aws-cdk-lib here:
 * this module is bundled into the Lambdas). The per-function values mirror the deployed handler
 * specs (infra/functions/handler-specs.ts); test/contract/placement.test.ts fails when they drift.
 *
 * Sources: AWS Lambda quotas (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html),
 * Step Functions quotas (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
 */

/** Service-wide limits (not configurable per function or state machine). */
export const AWS_LIMITS = {
  /** Longest a Lambda invocation may run. */
  lambdaMaxTimeoutSeconds: 900,
  /** At 1,769 MB a function has the equivalent of one vCPU; below, a proportional share. */
  lambdaMbPerVcpu: 1769,
  /** Step Functions: state input/output, execution input and task results (UTF-8 bytes of the JSON). */
  stateDataBytes: 256 * 1024,
  /** Step Functions Standard: events in one execution's history. */
  executionHistoryEvents: 25_000,
} as const;

/** What one Lambda function may use per invocation. */
export interface LambdaLimits {
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** /tmp size in MB (the Lambda default is 512). */
  readonly ephemeralMb: number;
}

/** Functions whose work grows with the data (the ones the planner may move to Batch). */
export type PlacedFunction = 'prepare-data' | 'cache-teacher' | 'evaluate';

/** Memory of the model-running handlers when the stack's `modelMemorySize` prop is not set. */
export const DEFAULT_MODEL_MEMORY_MB = 5120;

/** The deployed limits of the functions the planner places (see infra/functions/handler-specs.ts). */
export const DEPLOYED_LAMBDA_LIMITS: Readonly<Record<PlacedFunction, LambdaLimits>> = {
  'prepare-data': { timeoutSeconds: 900, memoryMb: 3008, ephemeralMb: 4096 },
  'cache-teacher': { timeoutSeconds: 900, memoryMb: DEFAULT_MODEL_MEMORY_MB, ephemeralMb: 2048 },
  evaluate: { timeoutSeconds: 900, memoryMb: DEFAULT_MODEL_MEMORY_MB, ephemeralMb: 2048 },
};

/** Concurrency of the Lambda Maps as deployed (contract/state-machine.ts LAMBDA_MAP_CONCURRENCY). */
export const DEPLOYED_MAP_CONCURRENCY = 16;

/**
 * Environment variable holding limits that replace the deployed ones for planning (JSON,
 * `Partial<Record<PlacedFunction, Partial<LambdaLimits>>>`). The local executor sets it for the
 * in-process Validate stage when a run is given tighter limits, so the plan and the enforcement
 * agree; on AWS it is unset.
 */
export const PLAN_LIMITS_ENV = 'AMAD_PLAN_LAMBDA_LIMITS';

/** The deployed limits, overridden by PLAN_LIMITS_ENV when set. @throws Error naming the variable */
export function planningLambdaLimits(env: Readonly<Record<string, string | undefined>> = process.env): Record<PlacedFunction, LambdaLimits> {
  const text = env[PLAN_LIMITS_ENV];
  if (!text) return { ...DEPLOYED_LAMBDA_LIMITS };
  let overrides: Partial<Record<PlacedFunction, Partial<LambdaLimits>>>;
  try {
    overrides = JSON.parse(text) as typeof overrides;
  } catch (e) {
    throw new Error(`${PLAN_LIMITS_ENV} is not JSON (${(e as Error).message}): unset it or give {"evaluate":{"timeoutSeconds":60}}-style limits`);
  }
  const out = { ...DEPLOYED_LAMBDA_LIMITS } as Record<PlacedFunction, LambdaLimits>;
  for (const [fn, o] of Object.entries(overrides ?? {})) {
    if (!(fn in out)) throw new Error(`${PLAN_LIMITS_ENV}: unknown function "${fn}" (expected ${Object.keys(out).join(', ')})`);
    out[fn as PlacedFunction] = { ...out[fn as PlacedFunction], ...o };
  }
  return out;
}
