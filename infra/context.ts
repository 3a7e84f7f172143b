/**
 * The app's configuration: CDK context values (`cdk deploy -c key=value` or cdk.json
 * "context"), validated once with zod into a typed, readonly `PipelineContext`.
 *
 * Values given with `-c` arrive as strings, so numbers, booleans and lists are also accepted
 * in their string forms ("4", "false", "g5.xlarge,g4dn.xlarge").
 */
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import { z } from 'zod';
import { DEFAULT_MODEL_MEMORY_MB } from '../contract/placement/limits';
import { gpuInstanceTypeProblem } from './batch/gpu-families';
import { DIGEST_PINNED_IMAGE } from './batch/trainer-image';
import { ValidationError, shown } from './errors';

/** CloudWatch Logs accepts only these retention periods (days); "never expire" is not offered. */
export const ALLOWED_RETENTION_DAYS: readonly number[] = Object.values(logs.RetentionDays)
  .filter((v): v is number => typeof v === 'number' && v !== logs.RetentionDays.INFINITE)
  .sort((a, b) => a - b);

/** Defaults of every context key; docs/DEPLOY.md shows the same table. */
export const CONTEXT_DEFAULTS = {
  /** g5.xlarge (A10G 24 GB) first, g4dn.xlarge (T4 16 GB) as the cheaper, more available fallback. */
  instanceTypes: ['g5.xlarge', 'g4dn.xlarge'],
  /** Spot first (~60–70 % cheaper); an on-demand environment sits behind it in the queue. */
  spot: true,
  /** Per compute environment: 8 = two xlarge GPU instances (4 vCPUs each) at once, i.e. two
   *  student variants in parallel; also the cost ceiling. */
  maxVCpus: 8,
  /** Availability zones of the GPU VPC: more widens the spot pool, each adds a set of endpoint-hours. */
  maxAzs: 2,
  /** Log groups (Lambda, state machine, VPC flow logs). */
  retentionDays: 30,
  /** Days after which `runs/<id>/…/checkpoints/` and `…/cache/` objects expire. */
  scratchExpirationDays: 14,
  /** Value of the `cost-center` cost allocation tag. */
  costCenter: 'amad-distill',
  /** Upper bound of a spec's `compute.jobTimeoutMinutes` (per attempt), enforced by Validate;
   *  also the job definition's own timeout. 48 h fits the paper-scale teacher. */
  maxJobMinutes: 2880,
  /** Attempts per trainer job (spot reclaims and exit-75 resumes), counting the first. */
  maxJobAttempts: 5,
  /** Minutes a job may stay RUNNABLE without capacity (or unplaceable) before it is cancelled. */
  runnableTimeoutMinutes: 240,
  /** Memory (MB) of the Lambdas that run a model; 3008 fits new accounts' default limit. */
  modelMemoryMB: DEFAULT_MODEL_MEMORY_MB,
  /** Buckets besides the artifact bucket that specs may read (datasets, teachers), read-only. */
  readableBuckets: [] as string[],
} as const;

const splitCsv = (v: unknown) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v);

const csvOrArray = z.preprocess(
  splitCsv,
  z
    .array(
      z
        .string()
        .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'must look like "g5.xlarge"')
        .superRefine((t, ctx) => {
          const problem = gpuInstanceTypeProblem(t);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
        }),
    )
    .min(1, 'must name at least one instance type'),
);

/** S3 bucket names (3–63 lower-case letters, digits, "." and "-"), comma-separated or a list. */
const bucketList = z.preprocess(
  splitCsv,
  z.array(
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3–63 lower-case letters, digits, "." or "-"; no s3:// and no key)'),
  ),
);

const pinnedImage = z
  .string()
  .regex(DIGEST_PINNED_IMAGE, 'must be an image pinned by digest: <repository>[:<tag>]@sha256:<64 hex digits> (docs/DEPLOY.md, "Image pinning")');

const booleanish = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  return s === 'true' ? true : s === 'false' ? false : v;
}, z.boolean({ error: 'must be true or false' }));

const positiveInt = (max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(max, `must be at most ${max}`);

export const PipelineContextSchema = z
  .object({
    instanceTypes: csvOrArray.default([...CONTEXT_DEFAULTS.instanceTypes]),
    spot: booleanish.default(CONTEXT_DEFAULTS.spot),
    maxVCpus: positiveInt(10_000).default(CONTEXT_DEFAULTS.maxVCpus),
    maxAzs: positiveInt(6).default(CONTEXT_DEFAULTS.maxAzs),
    retentionDays: positiveInt(10_000)
      .refine((d) => ALLOWED_RETENTION_DAYS.includes(d), {
        message: `must be one of the CloudWatch Logs retention periods ${ALLOWED_RETENTION_DAYS.join(', ')}`,
      })
      .default(CONTEXT_DEFAULTS.retentionDays),
    scratchExpirationDays: positiveInt(3650).default(CONTEXT_DEFAULTS.scratchExpirationDays),
    notificationEmail: z.email('must be an e-mail address').optional(),
    costCenter: z
      .string()
      // Tag values: up to 256 Unicode letters, digits, spaces and + - = . _ : / @.
      .regex(/^[\p{L}\p{N} +\-=._:/@]{1,256}$/u, 'must be 1–256 letters, digits, spaces or + - = . _ : / @')
      .default(CONTEXT_DEFAULTS.costCenter),
    // 7 days: the state machine's backstop on a Batch task.
    maxJobMinutes: positiveInt(7 * 24 * 60).default(CONTEXT_DEFAULTS.maxJobMinutes),
    maxJobAttempts: positiveInt(10).default(CONTEXT_DEFAULTS.maxJobAttempts),
    runnableTimeoutMinutes: positiveInt(24 * 60)
      .min(10, 'must be at least 10 (Batch limit)')
      .default(CONTEXT_DEFAULTS.runnableTimeoutMinutes),
    modelMemoryMB: positiveInt(10240)
      .min(3008, 'must be at least 3008 (the model does not fit in less)')
      .default(CONTEXT_DEFAULTS.modelMemoryMB),
    readableBuckets: bucketList.default([]),
    // The trainer image's base images, pinned by digest (infra/batch/trainer-image.ts).
    cudaBaseImage: pinnedImage.optional(),
    nodeBaseImage: pinnedImage.optional(),
  })
  .strict();

export type PipelineContext = Readonly<z.output<typeof PipelineContextSchema>>;

/** The context keys this app reads (everything else in the context belongs to CDK itself). */
export const CONTEXT_KEYS = Object.keys(PipelineContextSchema.shape) as (keyof PipelineContext)[];

/**
 * Parses raw values keyed by context key. Errors name every bad key with its rule and value:
 * `context key "maxVCpus": must be a number (got "lots")`.
 */
export function parsePipelineContext(raw: Readonly<Record<string, unknown>>): PipelineContext {
  const result = PipelineContextSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '(root)');
    if (issue.code === 'unrecognized_keys') {
      return `unknown context key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}: known keys are ${CONTEXT_KEYS.join(', ')}`;
    }
    const where = issue.path.length > 1 ? `${key}[${issue.path.slice(1).join('.')}]` : key;
    // A comma-separated string is shown whole (its elements only exist after preprocessing).
    const got = issue.path.reduce<unknown>(
      (v, p) => (typeof v === 'string' ? v : (v as Record<PropertyKey, unknown> | undefined)?.[p]),
      raw,
    );
    return `context key "${where}": ${issue.message} (got ${shown(got)})`;
  });
  throw new ValidationError(`invalid CDK context: ${problems.join('; ')}`);
}

/** Reads this app's keys from a construct node's context (cdk.json and `-c`) and parses them. */
export function readPipelineContext(node: Node): PipelineContext {
  const raw: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) {
    const value: unknown = node.tryGetContext(key);
    if (value !== undefined) raw[key] = value;
  }
  return parsePipelineContext(raw);
}
