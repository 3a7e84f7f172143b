/**
 * start-run: turns a run request (EventBridge DistillationRequested, or a job file created under
 * `jobs/` in the bucket) into a Step Functions execution named after the run id.
 *
 * Deterministic names make duplicate deliveries harmless: EventBridge and S3 deliver at least
 * once, and a second StartExecution with the same name finds the first execution
 * (ExecutionAlreadyExists), which is reported, not failed. A `resume: true` request re-uses a
 * run id whose execution ended: it gets a suffixed execution name, since Step Functions keeps an
 * ended execution's name reserved.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import type { ExecutionInput } from '../../contract/events';
import { InvalidEventError, parseEvent } from '../../contract/parse-event';
import { parseJson } from '../../contract/parse-json';
import { runIdOfJobFile } from '../../contract/job-file';
import { storageFor } from '../../contract/storage';
import {
  DistillationRequestedEventSchema,
  eventKind,
  S3NotificationSchema,
  S3ObjectCreatedEventBridgeSchema,
  StartRunEnvSchema,
  type StartedRun,
  type StartRunResult,
} from './schema';

const logger = new Logger({ serviceName: 'amad-start-run' });
const sfn = new SFNClient({});

interface RunRequest {
  readonly runId: string;
  readonly spec: unknown;
  readonly resume: boolean;
}

export { runIdForJobFile } from '../../contract/job-file';

async function requestFromJobFile(bucket: string, key: string, etag: string | undefined): Promise<RunRequest> {
  const uri = `s3://${bucket}/${key}`;
  const body = await storageFor(uri).get(uri);
  let spec: unknown;
  try {
    spec = parseJson(body, `job file ${uri}`);
  } catch (e) {
    // The message shows the position and the first bytes in hex, never the text.
    throw new InvalidEventError((e as Error).message, [{ path: uri, message: 'not JSON' }]);
  }
  return { runId: runIdOfJobFile(key, etag, body, spec), spec, resume: false };
}

/** Execution name: the run id, or `<runId>-r<time>` for a resume (the plain name stays reserved). */
function executionName(req: RunRequest, now = Date.now()): string {
  return req.resume ? `${req.runId}-r${now.toString(36)}` : req.runId;
}

async function start(req: RunRequest, env: { STATE_MACHINE_ARN: string; ARTIFACT_ROOT: string }): Promise<StartedRun> {
  const input: ExecutionInput = { runId: req.runId, artifactRoot: env.ARTIFACT_ROOT, spec: req.spec };
  try {
    const r = await sfn.send(new StartExecutionCommand({ stateMachineArn: env.STATE_MACHINE_ARN, name: executionName(req), input: JSON.stringify(input) }));
    logger.info('Run started', { runId: req.runId, executionArn: r.executionArn });
    return { runId: req.runId, executionArn: r.executionArn ?? null, started: true };
  } catch (e) {
    if (e instanceof ExecutionAlreadyExists || (e as Error).name === 'ExecutionAlreadyExists') {
      logger.warn('Run already started', { runId: req.runId });
      return { runId: req.runId, executionArn: null, started: false };
    }
    throw e;
  }
}

export async function handler(event: unknown, context?: Context): Promise<StartRunResult> {
  if (context) logger.addContext(context);
  const env = parseEvent(StartRunEnvSchema, process.env, 'start-run environment');
  const requests: RunRequest[] = [];
  const ignored: string[] = [];
  const isJobKey = (key: string) => key.startsWith(env.JOBS_PREFIX) && key.toLowerCase().endsWith('.json');
  const kind = eventKind(event);
  if (kind === 'distillation-requested') {
    const e = parseEvent(DistillationRequestedEventSchema, event, 'DistillationRequested event');
    const { resume, ...spec } = e.detail;
    requests.push({ runId: e.detail.runId, spec, resume: resume === true });
  } else if (kind === 's3-eventbridge') {
    const e = parseEvent(S3ObjectCreatedEventBridgeSchema, event, 'S3 Object Created event');
    // S3 event keys are URL-encoded in notifications but not in EventBridge events.
    const key = e.detail.object.key;
    if (isJobKey(key)) requests.push(await requestFromJobFile(e.detail.bucket.name, key, e.detail.object.etag));
    else ignored.push(`s3://${e.detail.bucket.name}/${key}`);
  } else if (kind === 's3-notification') {
    const e = parseEvent(S3NotificationSchema, event, 'S3 notification');
    for (const rec of e.Records) {
      const key = decodeURIComponent(rec.s3.object.key.replace(/\+/g, ' '));
      if (isJobKey(key)) requests.push(await requestFromJobFile(rec.s3.bucket.name, key, rec.s3.object.eTag));
      else ignored.push(`s3://${rec.s3.bucket.name}/${key}`);
    }
  } else {
    throw new InvalidEventError(
      'unrecognised start-run event: expected an EventBridge DistillationRequested event (source "amad-distill"), an S3 "Object Created" EventBridge event or an S3 notification with Records',
      [{ path: 'source', message: 'unrecognised event' }],
    );
  }
  for (const key of ignored) logger.info('Object ignored (not a job file)', { key, jobsPrefix: env.JOBS_PREFIX });
  const runs: StartedRun[] = [];
  for (const req of requests) runs.push(await start(req, env));
  return { runs, ignored };
}
