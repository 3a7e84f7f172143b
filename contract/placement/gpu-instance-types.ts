/**
 * Which GPU instance type the planner estimates Batch GPU stages with. On AWS the deployer, not
 * the spec, chooses the GPU instance types (CDK context `instanceTypes`; a spec's
 * `compute.instanceTypes` is refused there), so the stack hands the compute environment's types
 * to the planning Lambda in PLAN_GPU_TYPES_ENV, as it hands it the Lambda limits
 * (limits.ts PLAN_LIMITS_ENV). Locally, with no deployment, the spec's `compute.instanceTypes`
 * (or its schema default) stands for the deployment; `amad plan --instance-types` plans for a
 * given one.
 *
 * Batch may place a job on any type of the compute environment, so the plan is made with the
 * SLOWEST one that has a throughput entry; a type without one is a problem (its times are
 * unknown), not skipped. No aws-cdk-lib here: this module is bundled into the Lambdas.
 */
import type { Rate, Throughputs } from './throughputs';

/**
 * Environment variable holding the deployment's GPU instance types, comma-separated
 * ("g5.xlarge,g4dn.xlarge"). infra/stack.ts sets it on the Validate function from the CDK
 * context `instanceTypes`; unset outside a deployment.
 */
export const PLAN_GPU_TYPES_ENV = 'AMAD_PLAN_GPU_INSTANCE_TYPES';

/** The GPU instance types Batch may use, and where the planner got them (shown in the plan). */
export interface GpuInstanceTypes {
  readonly types: readonly string[];
  /** Where the list comes from, e.g. `the deployment (AMAD_PLAN_GPU_INSTANCE_TYPES)`. */
  readonly source: string;
  /** How to change the list, completing "add an entry to throughputs.json or …". */
  readonly fix: string;
}

/** The GPU the plan's Batch GPU stages are estimated with. */
export interface PlannedGpu {
  /** The slowest listed type that has a throughput entry; null when none has one. */
  readonly instanceType: string | null;
  readonly rate: Rate | undefined;
  /** Every type Batch may use, as listed. */
  readonly instanceTypes: readonly string[];
  /** Listed types without a throughput entry (each makes every GPU stage a problem). */
  readonly withoutThroughput: readonly string[];
  readonly source: string;
  readonly fix: string;
}

/** The same form the CDK context accepts (infra/context.ts). */
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;

/**
 * Parses a comma-separated list of instance types ("g5.xlarge, g4dn.xlarge").
 * @throws Error naming `what` and the fix
 */
export function parseInstanceTypeList(text: string, what: string): string[] {
  const types = text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (types.length === 0) throw new Error(`${what} names no instance type (got ${JSON.stringify(text)}): give comma-separated types, e.g. g5.xlarge,g4dn.xlarge`);
  for (const t of types) {
    if (!INSTANCE_TYPE.test(t)) throw new Error(`${what}: ${JSON.stringify(t)} is not an instance type: give comma-separated types like g5.xlarge,g4dn.xlarge`);
  }
  return types;
}

/** The deployment's GPU instance types from PLAN_GPU_TYPES_ENV, or undefined when unset. @throws Error naming the variable */
export function deploymentGpuInstanceTypes(env: Readonly<Record<string, string | undefined>> = process.env): GpuInstanceTypes | undefined {
  const text = env[PLAN_GPU_TYPES_ENV];
  if (text === undefined || text.trim() === '') return undefined;
  return {
    types: parseInstanceTypeList(text, PLAN_GPU_TYPES_ENV),
    source: `the deployment's compute environment (${PLAN_GPU_TYPES_ENV})`,
    fix: 'have the deployer change the instanceTypes CDK context (docs/DEPLOY.md)',
  };
}

/** The types a spec names for local planning (compute.instanceTypes, or its schema default). */
export function specGpuInstanceTypes(types: readonly string[]): GpuInstanceTypes {
  return { types, source: 'compute.instanceTypes of the spec (no deployment given)', fix: 'change compute.instanceTypes' };
}

/** The slowest of `list.types` that has a throughput entry (the first listed on a tie). */
export function chooseGpu(list: GpuInstanceTypes, throughputs: Throughputs): PlannedGpu {
  let instanceType: string | null = null;
  let rate: Rate | undefined;
  const withoutThroughput: string[] = [];
  for (const t of list.types) {
    const r = throughputs.gpuFlops(t);
    if (!r) withoutThroughput.push(t);
    else if (!rate || r.value < rate.value) {
      instanceType = t;
      rate = r;
    }
  }
  return { instanceType, rate, instanceTypes: list.types, withoutThroughput, source: list.source, fix: list.fix };
}

/** The problem of a GPU stage when a listed type has no throughput entry, or undefined. */
export function gpuThroughputProblem(stage: string, gpu: PlannedGpu): string | undefined {
  const missing = gpu.withoutThroughput;
  if (missing.length === 0) return undefined;
  const what = missing.length === 1 ? `GPU instance type ${missing[0]}` : `GPU instance types ${missing.join(', ')}`;
  return `${stage}: no throughput for ${what} (from ${gpu.source}; Batch may place the job on it): add an entry to contract/placement/throughputs.json or ${gpu.fix}`;
}
