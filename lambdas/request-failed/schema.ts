/**
 * request-failed's events: SQS batches from start-run's on-failure destination queue. Each
 * message body is a Lambda asynchronous-invocation record: the request start-run got
 * (`requestPayload`), why it failed (`responsePayload`, absent when the event expired unprocessed)
 * and the condition (`RetriesExhausted`, `EventAgeExceeded`).
 */
import { z } from 'zod';
import { EVENT_SOURCE, RUN_REQUEST_FAILED } from '../../contract/events';

export const SqsEventSchema = z.looseObject({
  Records: z.array(z.looseObject({ messageId: z.string().min(1), body: z.string() })).min(1, 'Records must hold at least one message'),
});

export const InvocationRecordSchema = z.looseObject({
  timestamp: z.string().optional(),
  requestContext: z.looseObject({
    requestId: z.string().optional(),
    functionArn: z.string().optional(),
    condition: z.string().optional(),
    approximateInvokeCount: z.number().optional(),
  }),
  requestPayload: z.unknown(),
  responsePayload: z.looseObject({ errorType: z.string().optional(), errorMessage: z.string().optional() }).nullish(),
});
export type InvocationRecord = z.infer<typeof InvocationRecordSchema>;

/** Lambda environment, validated at the first invocation. */
export const RequestFailedEnvSchema = z.object({
  ARTIFACT_ROOT: z.string().min(1, 'ARTIFACT_ROOT must be the artifact bucket URI (s3://bucket)'),
  EVENT_BUS_NAME: z.string().min(1, 'EVENT_BUS_NAME must name the bus whose rule forwards RunRequestFailed to the topic'),
  JOBS_PREFIX: z.string().default('jobs/'),
});

/** EventBridge detail-type of the notification (a rule forwards it to the SNS topic). */
export { EVENT_SOURCE, RUN_REQUEST_FAILED };

/** `detail` of a RunRequestFailed event. */
export interface RunRequestFailedDetail {
  /** The run the request was for; null when the request named no usable run id. */
  readonly runId: string | null;
  /** Where the failure record was written, or null. */
  readonly failureUri: string | null;
  readonly error: string;
  readonly cause: string;
  /** What was requested: the event kind and, for uploads, the job file. */
  readonly request: string;
}

export interface RequestFailedResult {
  /** SQS partial-batch response: messages to deliver again. */
  readonly batchItemFailures: { itemIdentifier: string }[];
}
