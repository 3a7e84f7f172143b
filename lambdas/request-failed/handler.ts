/**
 * request-failed: makes a run request that start-run could not turn into an execution visible to
 * the submitter. start-run is invoked asynchronously (EventBridge); when it still throws after
 * Lambda's retries (a job file that is not JSON, a throttled StartExecution, an event over the
 * execution input limit), Lambda sends the invocation record to the on-failure destination queue,
 * and this function, reading that queue:
 *   - writes `runs/<runId>/failure.json` (failedState "StartRun"; `amad status` shows it) and
 *     lists the run as failed in the runs index, when the request names a usable run id;
 *   - publishes a `RunRequestFailed` event, which a rule forwards to the notification topic.
 * A message it cannot handle is returned as a batch item failure: SQS redelivers it, and after
 * the redrive limit parks it in the dead-letter queue (alarmed).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Context } from 'aws-lambda';
import { DISTILLATION_REQUESTED, EVENT_SOURCE, type FailureRecord } from '../../contract/events';
import { runIdForJobFile, runIdOfJobFile } from '../../contract/job-file';
import { runLayout, runUriFor } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { parseJson } from '../../contract/parse-json';
import { RUN_ID_PATTERN } from '../../contract/spec';
import { storageFor } from '../../contract/storage';
import { recordRunInIndex } from '../../trainer/stages/runs-index';
// request-failed reads start-run's events back out of the invocation records.
import { eventKind, S3NotificationSchema, S3ObjectCreatedEventBridgeSchema } from '../start-run/schema';
import {
  InvocationRecordSchema,
  RequestFailedEnvSchema,
  RUN_REQUEST_FAILED,
  SqsEventSchema,
  type InvocationRecord,
  type RequestFailedResult,
  type RunRequestFailedDetail,
} from './schema';

const logger = new Logger({ serviceName: 'amad-request-failed' });
const events = new EventBridgeClient({});

/** The failed state recorded for a request that never became an execution. */
export const START_RUN_STATE = 'StartRun';

interface FailedRequest {
  readonly runId: string | null;
  readonly request: string;
}

/** The runs a failed start-run event was for (one per job file of an S3 notification). */
async function failedRequests(payload: unknown, jobsPrefix: string): Promise<FailedRequest[]> {
  const objects: { bucket: string; key: string; etag?: string }[] = [];
  switch (eventKind(payload)) {
    case 'distillation-requested': {
      // The detail may be what failed start-run: take the run id only when it is usable.
      const e = payload as { id?: unknown; detail?: { runId?: unknown } };
      const runId = typeof e.detail?.runId === 'string' && RUN_ID_PATTERN.test(e.detail.runId) ? e.detail.runId : null;
      return [{ runId, request: `${DISTILLATION_REQUESTED} event ${String(e.id ?? '?')}` }];
    }
    case 's3-eventbridge': {
      const r = S3ObjectCreatedEventBridgeSchema.safeParse(payload);
      if (r.success) objects.push({ bucket: r.data.detail.bucket.name, key: r.data.detail.object.key, etag: r.data.detail.object.etag });
      break;
    }
    case 's3-notification': {
      const r = S3NotificationSchema.safeParse(payload);
      for (const rec of r.success ? r.data.Records : []) {
        objects.push({ bucket: rec.s3.bucket.name, key: decodeURIComponent(rec.s3.object.key.replace(/\+/g, ' ')), etag: rec.s3.object.eTag });
      }
      break;
    }
    case 'unknown':
      break;
  }
  if (objects.length === 0) return [{ runId: null, request: 'an event start-run did not recognise' }];
  const out: FailedRequest[] = [];
  for (const o of objects) {
    if (!o.key.startsWith(jobsPrefix)) continue; // start-run ignores these; they cannot have failed it
    out.push({ runId: await jobFileRunId(o), request: `job file s3://${o.bucket}/${o.key}` });
  }
  return out;
}

/** The run id start-run gave (or would have given) the job file: re-read it for its own runId. */
async function jobFileRunId(o: { bucket: string; key: string; etag?: string }): Promise<string | null> {
  const uri = `s3://${o.bucket}/${o.key}`;
  let body: Buffer;
  try {
    body = await storageFor(uri).get(uri);
  } catch (e) {
    logger.warn('Job file unreadable; run id from its name and etag', { uri, error: (e as Error).name });
    return o.etag ? runIdForJobFile(o.key, o.etag, Buffer.alloc(0)) : null;
  }
  let spec: unknown;
  try {
    spec = parseJson(body, uri);
  } catch {
    spec = undefined;
  }
  return runIdOfJobFile(o.key, o.etag, body, spec);
}

async function recordFailure(artifactRoot: string, runId: string, rec: InvocationRecord, error: string, cause: string): Promise<string> {
  const record: FailureRecord = {
    runId,
    failedState: START_RUN_STATE,
    error,
    cause,
    keptStages: [],
    failedAt: rec.timestamp ?? new Date().toISOString(),
    resumeHint: `the request never started an execution: fix the cause, then submit it again (runId "${runId}")`,
  };
  const runUri = runUriFor(artifactRoot, runId);
  const uri = runLayout(runUri).failure;
  await storageFor(uri).put(uri, JSON.stringify(record, null, 2) + '\n');
  // The runs index lists it as failed, like a run that failed inside the state machine. A
  // convenience: the record and the notification must not be lost to it.
  await recordRunInIndex(runUri, 'failed').catch((err: unknown) => logger.warn('Could not update the runs index', { runId, error: (err as Error).message }));
  return uri;
}

async function handleMessage(body: string, env: { ARTIFACT_ROOT: string; EVENT_BUS_NAME: string; JOBS_PREFIX: string }): Promise<void> {
  const rec = parseEvent(InvocationRecordSchema, parseJson(body, 'destination message'), 'asynchronous invocation record');
  const error = rec.responsePayload?.errorType ?? rec.requestContext.condition ?? 'StartRunFailed';
  const cause =
    rec.responsePayload?.errorMessage ??
    `start-run did not process the request (${rec.requestContext.condition ?? 'unknown condition'} after ${rec.requestContext.approximateInvokeCount ?? '?'} attempt(s))`;
  const entries = [];
  for (const req of await failedRequests(rec.requestPayload, env.JOBS_PREFIX)) {
    const failureUri = req.runId ? await recordFailure(env.ARTIFACT_ROOT, req.runId, rec, error, cause) : null;
    const detail: RunRequestFailedDetail = { runId: req.runId, failureUri, error, cause, request: req.request };
    logger.error('Run request failed', { ...detail });
    entries.push({ EventBusName: env.EVENT_BUS_NAME, Source: EVENT_SOURCE, DetailType: RUN_REQUEST_FAILED, Detail: JSON.stringify(detail) });
  }
  if (entries.length === 0) return;
  const r = await events.send(new PutEventsCommand({ Entries: entries }));
  if ((r.FailedEntryCount ?? 0) > 0) throw new Error(`PutEvents refused ${r.FailedEntryCount} notification(s): ${JSON.stringify(r.Entries?.map((x) => x.ErrorCode))}`);
}

export async function handler(event: unknown, context?: Context): Promise<RequestFailedResult> {
  if (context) logger.addContext(context);
  const env = parseEvent(RequestFailedEnvSchema, process.env, 'request-failed environment');
  const { Records } = parseEvent(SqsEventSchema, event, 'SQS event');
  const batchItemFailures: { itemIdentifier: string }[] = [];
  for (const m of Records) {
    try {
      await handleMessage(m.body, env);
    } catch (e) {
      logger.error('Could not handle a failed request; SQS delivers it again', { messageId: m.messageId, error: (e as Error).message });
      batchItemFailures.push({ itemIdentifier: m.messageId });
    }
  }
  return { batchItemFailures };
}
