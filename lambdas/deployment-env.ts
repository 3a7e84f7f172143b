/**
 * The deployment policy (contract/deployment-policy.ts) as the stack hands it to the handlers
 * that check URIs: environment variables set by infra/stack.ts. Their absence means "not
 * deployed" (the local executor): no policy, local paths allowed.
 */
import { z } from 'zod';
import type { DeploymentPolicy } from '../contract/deployment-policy';
import { parseEvent } from '../contract/parse-event';

export const DeploymentEnvSchema = z
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

/** The deployment policy of this process's environment, or undefined outside a deployment. */
export function deploymentPolicyFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): DeploymentPolicy | undefined {
  const e = parseEvent(DeploymentEnvSchema, env, 'deployment environment');
  if (e.ARTIFACT_BUCKET === undefined) return undefined;
  return {
    artifactBucket: e.ARTIFACT_BUCKET,
    readableBuckets: e.READABLE_BUCKETS.split(',').map((b) => b.trim()).filter((b) => b !== ''),
    maxJobMinutes: e.MAX_JOB_MINUTES!,
  };
}
