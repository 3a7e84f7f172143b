/**
 * A run request start-run cannot start is never lost: when start-run throws (client-mocked: a
 * throttled StartExecution, a job file that is not JSON), Lambda's invocation record reaches the
 * on-failure destination queue, and request-failed turns it into runs/<runId>/failure.json and a
 * RunRequestFailed notification. (The wiring start-run → queue → request-failed is asserted on
 * the template in test/infra/app.test.ts.)
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';
import { FailureRecordSchema } from '../../contract/events';
import { handler as requestFailed, START_RUN_STATE } from '../../lambdas/request-failed/handler';
import { RUN_REQUEST_FAILED } from '../../lambdas/request-failed/schema';
import { handler as startRun } from '../../lambdas/start-run/handler';
import { tinySpec } from '../cli/fixtures/tiny-spec';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
const eb = mockClient(EventBridgeClient);
const saved = { ...process.env };
const SM = 'arn:aws:states:eu-west-1:123456789012:stateMachine:amad';
const FN = 'arn:aws:lambda:eu-west-1:123456789012:function:start-run';

let objects: Map<string, Buffer>;
beforeEach(() => {
  sfn.reset();
  s3.reset();
  eb.reset();
  objects = new Map();
  s3.on(GetObjectCommand).callsFake(({ Key }: { Key: string }) => ({ Body: Readable.from([objects.get(Key)!]) }));
  s3.on(PutObjectCommand).callsFake(({ Key, Body }: { Key: string; Body: Buffer | string }) => {
    objects.set(Key, Buffer.from(Body));
    return {};
  });
  eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
  Object.assign(process.env, { AWS_REGION: 'eu-west-1', STATE_MACHINE_ARN: SM, ARTIFACT_ROOT: 's3://artifacts', EVENT_BUS_NAME: 'amad-bus' });
});
afterAll(() => {
  process.env = saved;
});

const requested = (detail: Record<string, unknown>) => ({
  version: '0',
  id: 'evt-7',
  source: 'amad-distill',
  'detail-type': 'DistillationRequested',
  account: '123456789012',
  time: '2026-12-06T08:00:00Z',
  region: 'eu-west-1',
  resources: [],
  detail,
});
const uploaded = (key: string, etag: string) => ({
  version: '0',
  id: 'evt-8',
  source: 'aws.s3',
  'detail-type': 'Object Created',
  detail: { bucket: { name: 'artifacts' }, object: { key, etag, size: 10 } },
});

/**
 * Runs start-run on `event` as Lambda's async invoker does (1 + 2 retries); when every attempt
 * throws, returns the invocation record Lambda sends to the on-failure destination (its
 * documented shape), as the SQS message body.
 */
async function invokeAsync(event: unknown): Promise<string | null> {
  let error: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await startRun(event);
      return null;
    } catch (e) {
      error = e as Error;
    }
  }
  return JSON.stringify({
    version: '1.0',
    timestamp: '2026-12-06T08:03:12.000Z',
    requestContext: { requestId: 'req-1', functionArn: `${FN}:$LATEST`, condition: 'RetriesExhausted', approximateInvokeCount: 3 },
    requestPayload: event,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: error!.name, errorMessage: error!.message, trace: [] },
  });
}

const sqs = (...bodies: string[]) => ({ Records: bodies.map((body, i) => ({ messageId: `m${i}`, body, receiptHandle: 'h', eventSource: 'aws:sqs' })) });
const notifications = () => eb.commandCalls(PutEventsCommand).flatMap((c) => c.args[0].input.Entries!);
const failureRecord = (runId: string) => FailureRecordSchema.parse(JSON.parse(objects.get(`runs/${runId}/failure.json`)!.toString()));

test('a throttled StartExecution: the failure reaches the destination, is recorded under the run and notified', async () => {
  // GIVEN Step Functions throttles every StartExecution
  sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: {} }));
  // WHEN start-run is invoked asynchronously and keeps throwing
  const record = await invokeAsync(requested({ ...tinySpec(), runId: 'r1' }));
  expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(3);
  expect(record).not.toBeNull();
  // THEN the destination consumer records it and notifies
  expect(await requestFailed(sqs(record!))).toEqual({ batchItemFailures: [] });
  expect(failureRecord('r1')).toMatchObject({ runId: 'r1', failedState: START_RUN_STATE, error: 'ThrottlingException', cause: 'Rate exceeded', keptStages: [] });
  expect(notifications()).toEqual([
    {
      EventBusName: 'amad-bus',
      Source: 'amad-distill',
      DetailType: RUN_REQUEST_FAILED,
      Detail: JSON.stringify({ runId: 'r1', failureUri: 's3://artifacts/runs/r1/failure.json', error: 'ThrottlingException', cause: 'Rate exceeded', request: 'DistillationRequested event evt-7' }),
    },
  ]);
});

test('a job file that is not JSON: recorded under <file name>-<etag>, without quoting the file', async () => {
  objects.set('jobs/my-spec.json', Buffer.from('SECRET=hunter2 not json'));
  const record = await invokeAsync(uploaded('jobs/my-spec.json', '"0123456789abcdef"'));
  await requestFailed(sqs(record!));
  const failure = failureRecord('my-spec-0123456789ab');
  expect(failure).toMatchObject({ failedState: START_RUN_STATE, error: 'InvalidEvent' });
  expect(failure.cause).toMatch(/^job file s3:\/\/artifacts\/jobs\/my-spec\.json is not valid JSON.*bytes \(hex\): 53 45 43/);
  expect(JSON.stringify(notifications())).not.toContain('hunter2');
  expect(JSON.parse(notifications()[0].Detail!)).toMatchObject({ runId: 'my-spec-0123456789ab', request: 'job file s3://artifacts/jobs/my-spec.json' });
});

test('a request without a usable run id is notified without a record; an expired event names its condition', async () => {
  const body = JSON.stringify({
    version: '1.0',
    timestamp: '2026-12-06T08:03:12.000Z',
    requestContext: { requestId: 'req-2', functionArn: FN, condition: 'EventAgeExceeded', approximateInvokeCount: 0 },
    requestPayload: requested({ runId: '../etc' }),
    responseContext: { statusCode: 200 },
    responsePayload: null,
  });
  await requestFailed(sqs(body));
  expect(objects.size).toBe(0);
  expect(JSON.parse(notifications()[0].Detail!)).toEqual({
    runId: null,
    failureUri: null,
    error: 'EventAgeExceeded',
    cause: 'start-run did not process the request (EventAgeExceeded after 0 attempt(s))',
    request: 'DistillationRequested event evt-7',
  });
});

test('a message it cannot handle goes back to the queue (redrive → dead-letter queue); the others are handled', async () => {
  eb.on(PutEventsCommand).resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] }).resolves({ FailedEntryCount: 0 });
  sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: {} }));
  const good = (await invokeAsync(requested({ ...tinySpec(), runId: 'r2' })))!;
  expect(await requestFailed(sqs(good, 'not json', good))).toEqual({ batchItemFailures: [{ itemIdentifier: 'm0' }, { itemIdentifier: 'm1' }] });
});
