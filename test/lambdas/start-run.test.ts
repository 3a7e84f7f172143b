import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { Readable } from 'node:stream';
import { InvalidEventError } from '../../contract/parse-event';
import { handler, runIdForJobFile } from '../../lambdas/start-run/handler';
import { tinySpec } from '../cli/fixtures/tiny-spec';

/** A GetObject body: S3Storage.get only iterates the stream. */
const body = (text: string) => Readable.from([Buffer.from(text)]) as never;

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
const SM = 'arn:aws:states:us-east-1:123456789012:stateMachine:amad';
const saved = { ...process.env };

beforeEach(() => {
  sfn.reset();
  s3.reset();
  process.env.STATE_MACHINE_ARN = SM;
  process.env.ARTIFACT_ROOT = 's3://artifacts';
  process.env.AWS_REGION = 'us-east-1';
  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({ executionArn: `${SM}:${input.name}`, startDate: new Date() }));
});
afterAll(() => {
  process.env = saved;
});

const requested = (detail: Record<string, unknown>) => ({
  version: '0',
  id: 'evt-1',
  source: 'amad-distill',
  'detail-type': 'DistillationRequested',
  account: '123456789012',
  time: '2026-11-27T08:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail,
});

const started = () => sfn.commandCalls(StartExecutionCommand).map((c) => ({ ...c.args[0].input, input: JSON.parse(c.args[0].input.input!) }));

test('a DistillationRequested event starts an execution named after the run id', async () => {
  const r = await handler(requested({ ...tinySpec(), runId: 'r1' }));
  expect(r).toEqual({ runs: [{ runId: 'r1', executionArn: `${SM}:r1`, started: true }], ignored: [] });
  expect(started()).toEqual([{ stateMachineArn: SM, name: 'r1', input: { runId: 'r1', artifactRoot: 's3://artifacts', spec: { ...tinySpec(), runId: 'r1' } } }]);
});

test('a resume gets a fresh execution name and the resume flag is not part of the spec', async () => {
  await handler(requested({ ...tinySpec(), runId: 'r1', resume: true }));
  const [call] = started();
  expect(call.name).toMatch(/^r1-r[0-9a-z]+$/);
  expect(call.input.spec).toEqual({ ...tinySpec(), runId: 'r1' });
});

test('a duplicate delivery is reported, not failed', async () => {
  sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
  expect(await handler(requested({ ...tinySpec(), runId: 'r1' }))).toEqual({ runs: [{ runId: 'r1', executionArn: null, started: false }], ignored: [] });
});

test('a job file created under jobs/ starts a run; other keys are ignored', async () => {
  const spec = JSON.stringify(tinySpec());
  s3.on(GetObjectCommand, { Bucket: 'artifacts', Key: 'jobs/my exp.json' }).resolves({ Body: body(spec) });
  const r = await handler({
    Records: [
      { eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'artifacts' }, object: { key: 'jobs/my+exp.json', eTag: '0123456789abcdef' } } },
      { eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'artifacts' }, object: { key: 'runs/x/spec.json' } } },
    ],
  });
  expect(r.ignored).toEqual(['s3://artifacts/runs/x/spec.json']);
  expect(r.runs).toEqual([{ runId: 'my-exp-0123456789ab', executionArn: `${SM}:my-exp-0123456789ab`, started: true }]);
  expect(started()[0].input.spec).toEqual(tinySpec());
});

test('an S3 Object Created event from EventBridge works the same; a runId in the file wins', async () => {
  s3.on(GetObjectCommand).resolves({ Body: body(JSON.stringify({ ...tinySpec(), runId: 'named' })) });
  const r = await handler({
    id: 'e', source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: 'artifacts' }, object: { key: 'jobs/a.json', etag: 'abc' } },
  });
  expect(r.runs.map((x) => x.runId)).toEqual(['named']);
});

test('run ids of job files are stable and valid', () => {
  expect(runIdForJobFile('jobs/sub/Exp_1.JSON', '"9f8e7d6c5b4a3210"', Buffer.from(''))).toBe('Exp_1-9f8e7d6c5b4a');
  expect(runIdForJobFile('jobs/---.json', undefined, Buffer.from('x'))).toMatch(/^job-[0-9a-f]{12}$/);
});

test('malformed events are rejected naming the field', async () => {
  const e1 = await handler(requested({ runId: 'has space' })).catch((e: unknown) => e);
  expect(e1).toBeInstanceOf(InvalidEventError);
  expect((e1 as InvalidEventError).issues.map((i) => i.path)).toEqual(['detail.runId']);
  const e2 = await handler({ Records: [{ eventName: 'ObjectRemoved:Delete', s3: { bucket: { name: 'b' }, object: { key: 'jobs/a.json' } } }] }).catch((e: unknown) => e);
  expect((e2 as InvalidEventError).issues.map((i) => i.path)).toEqual(['Records.0.eventName']);
  await expect(handler({ hello: 'world' })).rejects.toThrow(/unrecognised start-run event/);
  delete process.env.STATE_MACHINE_ARN;
  await expect(handler(requested({ runId: 'r1' }))).rejects.toThrow(/STATE_MACHINE_ARN/);
  expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
});
