/**
 * start-run's events, one of:
 * - EventBridge `DistillationRequested` from source `amad-distill` (`amad submit`): detail = spec + runId;
 * - EventBridge `Object Created` from `aws.s3` (a job file uploaded to `jobs/*.json`);
 * - an S3 bucket notification (`Records[]`, eventName `ObjectCreated:*`), for buckets wired directly.
 */
import { z } from 'zod';
import { DISTILLATION_REQUESTED, DistillationRequestedDetailSchema, EVENT_SOURCE } from '../../contract/events';

export const DistillationRequestedEventSchema = z.looseObject({
  id: z.string().min(1),
  source: z.literal(EVENT_SOURCE),
  'detail-type': z.literal(DISTILLATION_REQUESTED),
  detail: DistillationRequestedDetailSchema,
});

export const S3ObjectCreatedEventBridgeSchema = z.looseObject({
  id: z.string().min(1),
  source: z.literal('aws.s3'),
  'detail-type': z.literal('Object Created'),
  detail: z.looseObject({
    bucket: z.looseObject({ name: z.string().min(1) }),
    object: z.looseObject({ key: z.string().min(1), etag: z.string().optional() }),
  }),
});

export const S3NotificationSchema = z.looseObject({
  Records: z
    .array(
      z.looseObject({
        eventName: z.string().startsWith('ObjectCreated:', 'eventName must be an ObjectCreated event'),
        s3: z.looseObject({
          bucket: z.looseObject({ name: z.string().min(1) }),
          object: z.looseObject({ key: z.string().min(1), eTag: z.string().optional() }),
        }),
      }),
    )
    .min(1, 'Records must hold at least one record'),
});

/** Picks the schema by the event's own markers, so errors name the fields of the intended shape. */
export function eventKind(event: unknown): 'distillation-requested' | 's3-eventbridge' | 's3-notification' | 'unknown' {
  const e = event as Record<string, unknown> | null;
  if (!e || typeof e !== 'object') return 'unknown';
  if (Array.isArray(e.Records)) return 's3-notification';
  if (e.source === 'aws.s3') return 's3-eventbridge';
  if (e.source === EVENT_SOURCE || e['detail-type'] === DISTILLATION_REQUESTED) return 'distillation-requested';
  return 'unknown';
}

/** Lambda environment, validated at the first invocation. */
export const StartRunEnvSchema = z.object({
  STATE_MACHINE_ARN: z.string().startsWith('arn:', 'STATE_MACHINE_ARN must be the state machine ARN'),
  ARTIFACT_ROOT: z.string().min(1, 'ARTIFACT_ROOT must be the artifact bucket URI (s3://bucket)'),
  /** Job files must live under this key prefix. @default "jobs/" */
  JOBS_PREFIX: z.string().default('jobs/'),
});

export interface StartedRun {
  readonly runId: string;
  readonly executionArn: string | null;
  /** False when an execution of that name existed already (duplicate delivery). */
  readonly started: boolean;
}

export interface StartRunResult {
  readonly runs: readonly StartedRun[];
  /** Objects ignored (not jobs/*.json). */
  readonly ignored: readonly string[];
}
