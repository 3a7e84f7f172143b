/** Validate's event: the execution input (run id, artifact root, the submitted spec). */
import { z } from 'zod';
import type { DeploymentPolicy } from '../../contract/deployment-policy';
import { ExecutionInputSchema, RunPlanSchema } from '../../contract/events';

export const ValidateEventSchema = ExecutionInputSchema;
export const ValidateResultSchema = RunPlanSchema;
export type { ExecutionInput as ValidateEvent, RunPlan as ValidateResult } from '../../contract/events';

/**
 * Validate's environment. The stack sets all three on AWS; the local executor sets none, and
 * then no deployment policy applies (local paths stay allowed).
 */
export const ValidateEnvSchema = z
  .object({
    /** The artifact bucket's name: its presence means "deployed". */
    ARTIFACT_BUCKET: z.string().min(1).optional(),
    /** Comma-separated names of further buckets specs may read. */
    READABLE_BUCKETS: z.string().default(''),
    /** The deployer's cap of compute.jobTimeoutMinutes. */
    MAX_JOB_MINUTES: z.coerce.number().int().positive().optional(),
  })
  .refine((e) => e.ARTIFACT_BUCKET === undefined || e.MAX_JOB_MINUTES !== undefined, {
    message: 'MAX_JOB_MINUTES must be set with ARTIFACT_BUCKET (the stack sets both)',
    path: ['MAX_JOB_MINUTES'],
  });

/** The deployment policy the environment describes, or undefined outside a deployment. */
export function deploymentPolicyFrom(env: z.output<typeof ValidateEnvSchema>): DeploymentPolicy | undefined {
  if (env.ARTIFACT_BUCKET === undefined) return undefined;
  return {
    artifactBucket: env.ARTIFACT_BUCKET,
    readableBuckets: env.READABLE_BUCKETS.split(',').map((b) => b.trim()).filter((b) => b !== ''),
    maxJobMinutes: env.MAX_JOB_MINUTES!,
  };
}
