/** submit, status --aws and cancel against mocked EventBridge, Step Functions and Batch. */
import { DescribeJobsCommand, ListJobsCommand, TerminateJobCommand, BatchClient } from '@aws-sdk/client-batch';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cancelCommand } from '../../cli/commands/cancel';
import { runsCommand } from '../../cli/commands/runs';
import { UsageError } from '../../cli/commands/deps';
import { statusCommand } from '../../cli/commands/status';
import { submitCommand } from '../../cli/commands/submit';
import { testDeps } from './fixtures/deps';
import { tinySpec } from './fixtures/tiny-spec';
import { runningRow } from '../../trainer/report/runs-index';

const sfn = mockClient(SFNClient);
const batch = mockClient(BatchClient);
const events = mockClient(EventBridgeClient);
const SM = 'arn:aws:states:us-east-1:123456789012:stateMachine:amad';
const env = { AMAD_STATE_MACHINE_ARN: SM, AMAD_JOB_QUEUE: 'gpu-queue', AMAD_EVENT_BUS: 'amad-bus' };
let dir: string;

beforeEach(async () => {
  sfn.reset();
  batch.reset();
  events.reset();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'amad-cli-'));
});
afterEach(() => fs.rm(dir, { recursive: true, force: true }));

async function specFile(spec: unknown): Promise<string> {
  const file = path.join(dir, 'spec.json');
  await fs.writeFile(file, JSON.stringify(spec));
  return file;
}

describe('submit', () => {
  test('sends a DistillationRequested event with the spec and its run id, and prints the run id', async () => {
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const deps = testDeps({ env });
    const code = await submitCommand({ spec: await specFile(tinySpec()) }, deps);
    expect(code).toBe(0);
    const runId = deps.stdout[0];
    expect(runId).toMatch(/^run-20261127-080000-[a-z0-9]{4}$/);
    expect(events).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    const entry = events.commandCalls(PutEventsCommand)[0].args[0].input.Entries![0];
    expect(entry).toMatchObject({ EventBusName: 'amad-bus', Source: 'amad-distill', DetailType: 'DistillationRequested' });
    expect(JSON.parse(entry.Detail!)).toEqual({ ...tinySpec(), runId });
  });

  test('uses --bus and --run-id, and marks a resume', async () => {
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-2' }] });
    const deps = testDeps({ env: {} });
    expect(await submitCommand({ spec: await specFile(tinySpec()), bus: 'other', runId: 'mine', resume: true }, deps)).toBe(0);
    expect(deps.stdout).toEqual(['mine']);
    const entry = events.commandCalls(PutEventsCommand)[0].args[0].input.Entries![0];
    expect(entry.EventBusName).toBe('other');
    expect(JSON.parse(entry.Detail!)).toMatchObject({ runId: 'mine', resume: true });
  });

  test('an invalid spec is not sent; a refused event fails; a missing bus is a usage error', async () => {
    const deps = testDeps({ env });
    expect(await submitCommand({ spec: await specFile({ version: 1 }) }, deps)).toBe(1);
    expect(deps.stderr.join('\n')).toMatch(/teacher/);
    expect(events).toHaveReceivedCommandTimes(PutEventsCommand, 0);

    events.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'AccessDenied', ErrorMessage: 'no' }] });
    const refused = testDeps({ env });
    expect(await submitCommand({ spec: await specFile(tinySpec()) }, refused)).toBe(1);
    expect(refused.stderr.join('\n')).toMatch(/AccessDenied/);

    await expect(submitCommand({ spec: await specFile(tinySpec()) }, testDeps({ env: {} }))).rejects.toThrow(UsageError);
  });
});

function mockRun(status: 'RUNNING' | 'FAILED') {
  const arn = (name: string) => `${SM.replace(':stateMachine:', ':execution:')}:${name}`;
  sfn.on(ListExecutionsCommand).resolves({
    executions: [
      { executionArn: arn('r1'), name: 'r1', status: 'FAILED', startDate: new Date('2026-11-26T10:00:00Z'), stateMachineArn: SM },
      { executionArn: arn('r1-rabc'), name: 'r1-rabc', status, startDate: new Date('2026-11-27T07:00:00Z'), stateMachineArn: SM },
      { executionArn: arn('r10'), name: 'r10', status: 'RUNNING', startDate: new Date('2026-11-27T07:30:00Z'), stateMachineArn: SM },
    ],
  });
  batch.on(ListJobsCommand).resolves({
    jobSummaryList: [
      { jobId: 'j1', jobName: 'r1-teacher', status: 'SUCCEEDED' },
      { jobId: 'j2', jobName: 'r1-amad-seed0', status: 'RUNNING' },
      { jobId: 'j3', jobName: 'r1-amad-seed1', status: 'RUNNABLE' },
    ],
  });
  return arn;
}

describe('status --aws', () => {
  test("shows the newest execution, its current state and the run's jobs with log streams", async () => {
    const arn = mockRun('RUNNING');
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', startDate: new Date('2026-11-27T07:00:00Z'), executionArn: arn('r1-rabc') });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        // newest first (reverseOrder)
        { id: 5, type: 'MapStateEntered', timestamp: new Date(), stateEnteredEventDetails: { name: 'TrainStudents' } },
        { id: 4, type: 'TaskStateExited', timestamp: new Date(), stateExitedEventDetails: { name: 'TrainTeacher' } },
        { id: 3, type: 'TaskStateEntered', timestamp: new Date(), stateEnteredEventDetails: { name: 'TrainTeacher' } },
      ],
    });
    batch.on(DescribeJobsCommand).resolves({
      jobs: [
        { jobId: 'j1', jobName: 'r1-teacher', status: 'SUCCEEDED', jobQueue: 'q', jobDefinition: 'd', startedAt: 1, container: { logStreamName: 'trainer/default/aaa' } },
        { jobId: 'j2', jobName: 'r1-amad-seed0', status: 'RUNNING', jobQueue: 'q', jobDefinition: 'd', startedAt: 1, container: { logStreamName: 'trainer/default/bbb' } },
        { jobId: 'j3', jobName: 'r1-amad-seed1', status: 'RUNNABLE', statusReason: 'waiting for capacity', jobQueue: 'q', jobDefinition: 'd', startedAt: 1 },
      ],
    });
    const deps = testDeps({ env });
    expect(await statusCommand({ runId: 'r1', aws: true }, deps)).toBe(0);
    const text = deps.stdout.join('\n');
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: arn('r1-rabc') });
    expect(batch).toHaveReceivedCommandWith(ListJobsCommand, { jobQueue: 'gpu-queue', filters: [{ name: 'JOB_NAME', values: ['r1-*'] }] });
    expect(text).toMatch(/run r1: RUNNING \(execution r1-rabc/);
    expect(text).toMatch(/1 earlier execution/); // r10 is another run
    expect(text).toMatch(/in: TrainStudents$/m);
    expect(text).toMatch(/r1-teacher {2}SUCCEEDED {2}log stream: trainer\/default\/aaa/);
    expect(text).toMatch(/r1-amad-seed1 {2}RUNNABLE \(waiting for capacity\) {2}log stream: -/);
  });

  test('a run without executions exits 1', async () => {
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    const deps = testDeps({ env });
    expect(await statusCommand({ runId: 'nope', aws: true }, deps)).toBe(1);
    expect(deps.stderr[0]).toMatch(/no execution of run nope/);
  });
});

describe('cancel', () => {
  test('stops the running execution and terminates only active jobs', async () => {
    const arn = mockRun('RUNNING');
    sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    batch.on(TerminateJobCommand).resolves({});
    const deps = testDeps({ env });
    expect(await cancelCommand({ runId: 'r1', reason: 'wrong data' }, deps)).toBe(0);
    expect(sfn).toHaveReceivedCommandTimes(StopExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StopExecutionCommand, { executionArn: arn('r1-rabc'), error: 'Cancelled', cause: 'wrong data' });
    expect(batch.commandCalls(TerminateJobCommand).map((c) => c.args[0].input)).toEqual([
      { jobId: 'j2', reason: 'wrong data' },
      { jobId: 'j3', reason: 'wrong data' },
    ]);
    expect(deps.stdout.at(-1)).toMatch(/1 execution\(s\) stopped, 2 job\(s\) terminated/);
  });

  test('an ended run still gets its leftover jobs terminated', async () => {
    mockRun('FAILED');
    batch.on(TerminateJobCommand).resolves({});
    const deps = testDeps({ env });
    expect(await cancelCommand({ runId: 'r1' }, deps)).toBe(0);
    expect(sfn).toHaveReceivedCommandTimes(StopExecutionCommand, 0);
    expect(batch).toHaveReceivedCommandTimes(TerminateJobCommand, 2);
  });
});

describe('runs --aws', () => {
  test('a run the index still lists as running shows its execution status when Step Functions says it stopped', async () => {
    const rows = ['stopped', 'alive'].map((runId) => runningRow({ runId, task: 'vqa', startedAt: '2026-11-27T07:00:00Z', now: new Date('2026-11-27T07:00:00Z') }));
    await fs.mkdir(path.join(dir, 'runs'), { recursive: true });
    await fs.writeFile(path.join(dir, 'runs', 'index.json'), JSON.stringify({ version: 1, generatedAt: '2026-11-27T07:00:00Z', runs: rows }));
    const arnOf = (name: string) => `arn:aws:states:us-east-1:123456789012:execution:amad:${name}`;
    sfn.on(ListExecutionsCommand).resolves({
      executions: ['stopped', 'alive'].map((name) => ({ name, executionArn: arnOf(name), stateMachineArn: SM, status: 'RUNNING', startDate: new Date('2026-11-27T07:00:00Z') })),
    });
    sfn.on(DescribeExecutionCommand, { executionArn: arnOf('stopped') }).resolves({ status: 'ABORTED', executionArn: arnOf('stopped') });
    sfn.on(DescribeExecutionCommand, { executionArn: arnOf('alive') }).resolves({ status: 'RUNNING', executionArn: arnOf('alive') });
    const deps = testDeps({ env: { ...env, AMAD_ARTIFACT_ROOT: dir } });
    expect(await runsCommand({ aws: true }, deps)).toBe(0);
    const line = (id: string) => deps.stdout.find((l) => l.startsWith(id))!;
    expect(line('stopped')).toMatch(/\bfailed \(execution ABORTED\)/);
    expect(line('alive')).toMatch(/\brunning\b.*amad status alive$/);
    // Without --aws the index is printed as stored; --aws needs the state machine.
    const plain = testDeps({ env: { AMAD_ARTIFACT_ROOT: dir } });
    expect(await runsCommand({}, plain)).toBe(0);
    expect(plain.stdout.find((l) => l.startsWith('stopped'))).toMatch(/\brunning\b/);
    await expect(runsCommand({ aws: true }, testDeps({ env: { AMAD_ARTIFACT_ROOT: dir } }))).rejects.toThrow(UsageError);
  });
});
