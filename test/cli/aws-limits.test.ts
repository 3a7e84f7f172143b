/**
 * AWS limits on the local executor (issue 12 item 4): a local run that breaches each enforced
 * limit fails with the error AWS would give; tightened Lambda limits move a stage to a Batch job
 * (a child process running the same handler) and the run still succeeds; many failed students
 * with large failure Causes still fit the 256 KB state limit (item 5). Real pipeline definition,
 * real handlers, fake ML cores and a fake trainer process, as in local-executor.test.ts.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runEvents } from '../../contract/placement';
import { TaskState } from '../../contract/state-machine';
import { defaultLambdaRegistry } from '../../cli/lambda-registry';
import { runLocal, type LambdaHandler, type LocalRunOptions } from '../../cli/local-executor';
import type { PipelineEvent } from '../../cli/pipeline-events';
import { fakeControl, fakePreparation } from './fixtures/fake-stages';
import { bundleFakeTrainer } from './fixtures/fake-trainer-bundle';
import { tinySpec } from './fixtures/tiny-spec';

jest.mock('../../trainer/stages', () => jest.requireActual('./fixtures/fake-stages').fakeStages);

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
let root: string;
let callsFile: string;
let trainer: Awaited<ReturnType<typeof bundleFakeTrainer>>;

beforeAll(async () => {
  trainer = await bundleFakeTrainer();
});
afterAll(() => trainer.cleanup());
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'amad-limits-'));
  callsFile = path.join(root, 'trainer-calls.txt');
  fakeControl.reset();
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function options(events: PipelineEvent[], extra: Partial<LocalRunOptions> = {}, lambdas: Record<string, LambdaHandler> = {}, env: Record<string, string> = {}): LocalRunOptions {
  return {
    lambdas: defaultLambdaRegistry({ ...fakePreparation, ...lambdas }),
    trainer: trainer.launcher({ FAKE_TRAINER_CALLS: callsFile, ...env }),
    onEvent: (e) => events.push(e),
    ...extra,
  };
}
const trainerCalls = async () => (await fs.readFile(callsFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).sort();
const entered = (events: PipelineEvent[], state: string) => events.some((e) => e.type === 'state-entered' && e.state === state);
/** Wraps the real handler of `state` so it first does `before`. */
const around = (state: string, before: () => unknown): Record<string, LambdaHandler> => {
  const real = defaultLambdaRegistry({})[state];
  return { [state]: async (input) => (await before(), real(input)) };
};
/** /tmp as a handler sees it (jest gives test modules their own process.env, which os.tmpdir() does not read). */
const tmpdir = () => process.env.TMPDIR ?? os.tmpdir();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a breach fails the run with the AWS error name', () => {
  test('a 15-minute function over its timeout: States.Timeout (the Task timeout), caught and recorded', async () => {
    const events: PipelineEvent[] = [];
    const r = await runLocal(
      { runId: 'slow-eval', artifactRoot: root, spec: tinySpec() },
      options(events, { limits: { plan: false, lambdas: { [TaskState.evaluateShard]: { timeoutSeconds: 0.3 } } } }, around(TaskState.evaluateShard, () => sleep(1500))),
    );
    expect(r.status).toBe('FAILED');
    expect(r.error?.Error).toBe('States.Timeout');
    expect(entered(events, 'RecordFailure')).toBe(true); // catchable, as on AWS
    const failure = JSON.parse(await fs.readFile(path.join(root, 'runs', 'slow-eval', 'failure.json'), 'utf8'));
    expect(failure).toMatchObject({ failedState: 'Evaluate', error: 'States.Timeout' });
  });

  test('a shorter-timeout function over its timeout: Lambda.Unknown', async () => {
    // Report's deployed timeout (5 min) is shorter than the Task's 900 s: the function times out first.
    const r = await runLocal(
      // Report: deployed with 5 minutes, under the Task's 15 (merge-eval now has 15: it times every architecture).
      { runId: 'slow-report', artifactRoot: root, spec: tinySpec() },
      options([], { limits: { lambdas: { [TaskState.report]: { timeoutSeconds: 0.3 } } } }, around(TaskState.report, () => sleep(1500))),
    );
    expect(r.status).toBe('FAILED');
    expect(r.error?.Error).toBe('Lambda.Unknown');
    expect(r.error?.Cause).toMatch(/timed out/);
  });

  test('over its memory: Lambda.Unknown (Runtime.OutOfMemory)', async () => {
    let held: Buffer | undefined;
    const r = await runLocal(
      { runId: 'big-merge', artifactRoot: root, spec: tinySpec() },
      options([], { limits: { lambdas: { [TaskState.mergeEval]: { memoryMb: 16 } } } }, around(TaskState.mergeEval, () => void (held = Buffer.alloc(128 * 1024 * 1024, 1)))),
    );
    expect(held?.length).toBe(128 * 1024 * 1024);
    held = undefined;
    expect(r.status).toBe('FAILED');
    expect(r.error?.Error).toBe('Lambda.Unknown');
    expect(r.error?.Cause).toMatch(/OutOfMemory/);
  });

  test('over its ephemeral storage: the function fails with ENOSPC', async () => {
    const r = await runLocal(
      { runId: 'full-tmp', artifactRoot: root, spec: tinySpec() },
      options([], { limits: { lambdas: { [TaskState.mergeEval]: { ephemeralMb: 1 } } } }, around(TaskState.mergeEval, () => fs.writeFile(path.join(tmpdir(), 'scratch.bin'), Buffer.alloc(3 * 1024 * 1024)))),
    );
    expect(r.status).toBe('FAILED');
    expect(r.error?.Cause).toMatch(/ENOSPC/);
  });

  test('a state over 256 KB: States.DataLimitExceeded, which no Catch catches', async () => {
    const events: PipelineEvent[] = [];
    const realReport = defaultLambdaRegistry({})[TaskState.report];
    const r = await runLocal(
      { runId: 'big-state', artifactRoot: root, spec: tinySpec() },
      options(events, {}, { [TaskState.report]: async (input) => ({ ...(await realReport(input) as object), padding: 'x'.repeat(300 * 1024) }) }),
    );
    expect(r.status).toBe('FAILED');
    expect(r.error?.Error).toBe('States.DataLimitExceeded');
    expect(entered(events, 'RecordFailure')).toBe(false);
  });

  test('an execution input over 256 KB: States.DataLimitExceeded before any state runs', async () => {
    const events: PipelineEvent[] = [];
    const r = await runLocal({ runId: 'big-input', artifactRoot: root, spec: { ...tinySpec(), padding: 'x'.repeat(300 * 1024) } }, options(events));
    expect(r.error?.Error).toBe('States.DataLimitExceeded');
    expect(entered(events, 'Validate')).toBe(false);
  });

  test('a spec passed by URI keeps the execution input small: the same big spec then runs', async () => {
    // Prepare: a spec carrying 300 KB of (ignored) editor metadata in $schema.
    const big = { ...tinySpec(), $schema: 'x'.repeat(300 * 1024) };
    const specUri = 'file://' + path.join(root, 'submitted-spec.json');
    await fs.writeFile(new URL(specUri), JSON.stringify(big));
    // Act
    const r = await runLocal({ runId: 'by-uri', artifactRoot: root, specUri }, options([]));
    // Assert
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('SUCCEEDED');
  });

  test('more history events than allowed: the execution fails (States.Runtime)', async () => {
    const r = await runLocal({ runId: 'long-history', artifactRoot: root, spec: tinySpec() }, options([], { limits: { historyEvents: 60 } }));
    expect(r.status).toBe('FAILED');
    expect(r.error?.Error).toBe('States.Runtime');
    expect(r.error?.Cause).toMatch(/history/);
  });

  test('within the deployed limits the same run succeeds, with as many history events as the planner counts', async () => {
    const r = await runLocal({ runId: 'fits', artifactRoot: root, spec: tinySpec() }, options([]));
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('SUCCEEDED');
    // The fakes: 2 preparation chunks, 2 train shards, 1 test shard; 3 student jobs + the teacher.
    const shape = { teacherTrained: true, prepare: { placement: 'lambda', chunks: 2 }, cache: { placement: 'lambda', shards: 2 }, studentJobs: 3, models: 4, evaluate: { placement: 'lambda', shards: 1 } } as const;
    expect(r.historyEvents).toBe(runEvents(shape));
  });
});

test("a Map runs at most its deployed MaxConcurrency items at once, however many Lambdas the executor allows", async () => {
  // Prepare: a one-Map definition whose items sleep; the executor itself would allow 10 at once.
  let running = 0;
  let peak = 0;
  const item: LambdaHandler = async () => {
    peak = Math.max(peak, ++running);
    await sleep(100);
    running--;
    return {};
  };
  const definition = {
    StartAt: 'Fan',
    States: {
      Fan: {
        Type: 'Map',
        ItemsPath: '$.spec.items',
        MaxConcurrency: 2,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: TaskState.evaluateShard,
          States: { [TaskState.evaluateShard]: { Type: 'Task', Resource: '${EvaluateFunctionArn}', TimeoutSeconds: 900, End: true } },
        },
        End: true,
      },
    },
  };
  // Act
  const r = await runLocal({ runId: 'fan', artifactRoot: root, spec: { items: [1, 2, 3, 4, 5, 6] } }, options([], { definition, lambdaConcurrency: 10 }, { [TaskState.evaluateShard]: item }));
  // Assert
  expect(r.status).toBe('SUCCEEDED');
  expect(peak).toBe(2);
});

test('tight Lambda limits move the cache and evaluation stages to Batch jobs, and the run succeeds', async () => {
  // Prepare: 10-second functions: the planner's estimate (≥ 10 s of start-up) no longer fits half of that.
  const tight = { timeoutSeconds: 10 };
  const events: PipelineEvent[] = [];
  // Act
  const r = await runLocal(
    { runId: 'moved', artifactRoot: root, spec: tinySpec() },
    options(events, { limits: { lambdas: { [TaskState.cacheTeacherShard]: tight, [TaskState.evaluateShard]: tight } } }),
  );
  // Assert
  expect(r.error).toBeUndefined();
  expect(r.status).toBe('SUCCEEDED');
  expect((r.output as { run: { placement: unknown } }).run.placement).toEqual({ prepare: 'lambda', cacheTeacher: 'batch', evaluate: 'batch' });
  const calls = await trainerCalls();
  expect(calls.filter((c) => c === 'stage:CacheTeacherShard')).toHaveLength(2); // two train shards
  expect(calls.filter((c) => c === 'stage:EvaluateShard')).toHaveLength(4); // four models × one shard
  expect(fakeControl.calls.evaluateShard).toBe(0); // none ran in-process as a Lambda
  expect(entered(events, 'EvaluateShard')).toBe(false);
  expect(entered(events, 'EvaluateShardJob')).toBe(true);
  const shape = { teacherTrained: true, prepare: { placement: 'lambda', chunks: 2 }, cache: { placement: 'batch', shards: 2 }, studentJobs: 3, models: 4, evaluate: { placement: 'batch', shards: 1 } } as const;
  expect(r.historyEvents).toBe(runEvents(shape));
  const metrics = JSON.parse(await fs.readFile(path.join(root, 'runs', 'moved', 'report', 'metrics.json'), 'utf8'));
  expect(Object.keys(metrics.metrics).sort()).toEqual(['amad/seed-0', 'amad/seed-1', 'one2one/seed-0', 'teacher']);
});

describe('failed students (item 5)', () => {
  // Four student jobs; two fail, each with ~160 KB of log tail in its Cause (an AWS Batch Cause is
  // the whole job description): untrimmed, the TrainStudents result would pass 256 KB.
  const spec = () => tinySpec({ students: [...tinySpec().students.map((s) => ({ ...s, seeds: [0, 1] }))] });
  const env = { FAKE_TRAINER_FAIL: 'amad/seed-1,one2one/seed-0', FAKE_TRAINER_NOISE: String(20 * 1024) };

  test('half the students fail: every state stays under 256 KB and the report keeps error, job id and status reason', async () => {
    const events: PipelineEvent[] = [];
    const r = await runLocal({ runId: 'half-fail', artifactRoot: root, spec: spec() }, options(events, {}, {}, env));
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('SUCCEEDED'); // with the 256 KB enforcement on (the default)
    const students = (r.output as { students: { modelId: string; status: string; error?: { Error: string; Cause: { jobId: string; statusReason: string } } }[] }).students;
    const failed = students.filter((s) => s.status === 'FAILED');
    expect(failed.map((s) => s.modelId)).toEqual(['amad/seed-1', 'one2one/seed-0']);
    for (const s of failed) {
      expect(s.error).toEqual({ Error: 'States.TaskFailed', Cause: { jobId: expect.stringMatching(/^local-\d+$/), statusReason: 'exit code 3' } });
    }
    expect(Buffer.byteLength(JSON.stringify(r.output))).toBeLessThan(16 * 1024);
    expect(events.some((e) => e.type === 'notification' && e.subject.includes('succeeded'))).toBe(true);
  });

  test('half the students fail and a later stage fails: the run still ends in RecordFailure and a notification', async () => {
    fakeControl.failMerge = true;
    const events: PipelineEvent[] = [];
    const r = await runLocal({ runId: 'half-fail-merge', artifactRoot: root, spec: spec() }, options(events, {}, {}, env));
    expect(r.status).toBe('FAILED');
    expect(r.error?.Error).not.toBe('States.DataLimitExceeded');
    const failure = JSON.parse(await fs.readFile(path.join(root, 'runs', 'half-fail-merge', 'failure.json'), 'utf8'));
    expect(failure).toMatchObject({ failedState: 'MergeEval', runId: 'half-fail-merge' });
    expect(events.some((e) => e.type === 'notification' && e.subject.includes('failed'))).toBe(true);
  });
});
