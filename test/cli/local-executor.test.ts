/**
 * The local executor runs the real pipeline definition with the real Lambda handlers (ML cores
 * replaced by file-writing fakes) and a fake trainer child process.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isStageComplete, runLayout, Stage } from '../../contract/layout';
import { TaskState } from '../../contract/state-machine';
import { defaultLambdaRegistry } from '../../cli/lambda-registry';
import { runLocal, type LocalRunOptions } from '../../cli/local-executor';
import type { PipelineEvent } from '../../cli/pipeline-events';
import { fakeControl, fakePreparation } from './fixtures/fake-stages';
import { bundleFakeTrainer } from './fixtures/fake-trainer-bundle';
import { tinySpec } from './fixtures/tiny-spec';

jest.mock('../../trainer/stages', () => jest.requireActual('./fixtures/fake-stages').fakeStages);

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT'; // handler logs would bury the test output
let root: string;
let callsFile: string;
let trainer: Awaited<ReturnType<typeof bundleFakeTrainer>>;

beforeAll(async () => {
  trainer = await bundleFakeTrainer();
});
afterAll(() => trainer.cleanup());

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'amad-exec-'));
  callsFile = path.join(root, 'trainer-calls.txt');
  fakeControl.reset();
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function options(events: PipelineEvent[], extra: Partial<LocalRunOptions> = {}, env: Record<string, string> = {}): LocalRunOptions {
  return {
    lambdas: defaultLambdaRegistry(fakePreparation),
    trainer: trainer.launcher({ FAKE_TRAINER_CALLS: callsFile, ...env }),
    onEvent: (e) => events.push(e),
    ...extra,
  };
}

const trainerCalls = async () => (await fs.readFile(callsFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).sort();
const readText = (p: string) => fs.readFile(p, 'utf8');
const runDir = (runId: string) => path.join(root, 'runs', runId);

/** Highest number of training processes alive at once, from the event stream. */
function maxConcurrentJobs(events: PipelineEvent[]): number {
  let alive = 0;
  let max = 0;
  for (const e of events) {
    if (e.type === 'job-started') max = Math.max(max, ++alive);
    if (e.type === 'job-finished') alive--;
  }
  return max;
}

test('runs the whole definition: teacher, cache, students, evaluation, report', async () => {
  // Prepare
  const events: PipelineEvent[] = [];
  // Act
  const r = await runLocal({ runId: 'e2e', artifactRoot: root, spec: tinySpec({ compute: { maxParallelJobs: 2 } }) }, options(events));
  // Assert
  expect(r.error).toBeUndefined();
  expect(r.status).toBe('SUCCEEDED');
  expect(await trainerCalls()).toEqual(['amad/seed-0', 'amad/seed-1', 'one2one/seed-0', 'teacher']);
  expect(fakeControl.calls.cacheTeacherShard).toBe(2); // two train shards
  expect(fakeControl.calls.evaluateShard).toBe(4); // four models × one test shard
  const metrics = JSON.parse(await readText(path.join(runDir('e2e'), 'report', 'metrics.json')));
  expect(Object.keys(metrics.metrics).sort()).toEqual(['amad/seed-0', 'amad/seed-1', 'one2one/seed-0', 'teacher']);
  expect(metrics.missing).toEqual([]);
  expect(maxConcurrentJobs(events)).toBeLessThanOrEqual(2);
  expect(events.some((e) => e.type === 'job-progress' && e.step === e.steps)).toBe(true);
  expect(events.some((e) => e.type === 'notification' && e.subject.includes('succeeded'))).toBe(true);
  // The notification names the run and the command that opens its report, never a URL (the fake
  // report stage writes no real metrics.json, so there are no headline numbers here; see
  // test/trainer/report/runs-index.test.ts for them).
  const note = events.find((e) => e.type === 'notification');
  expect(note).toMatchObject({ message: expect.stringMatching(/^amad-distill run e2e succeeded \(vqa[^)]*\)\.\n[\s\S]*Open the report: amad report e2e --url\n/) });
  expect(note).not.toMatchObject({ message: expect.stringMatching(/https?:|X-Amz-/) });
  expect(events.at(-1)).toMatchObject({ type: 'run-finished', status: 'SUCCEEDED' });
});

test('a failed run notifies its failed state and error; when RecordFailure itself fails, a fallback text is sent', async () => {
  fakeControl.failMerge = true;
  const events: PipelineEvent[] = [];
  expect((await runLocal({ runId: 'notify-fail', artifactRoot: root, spec: tinySpec() }, options(events))).status).toBe('FAILED');
  expect(events.find((e) => e.type === 'notification')).toMatchObject({
    subject: 'amad-distill run failed',
    message: expect.stringMatching(/^amad-distill run notify-fail failed in MergeEval \([^)]*\): Error\nOpen the failure record: amad report notify-fail --url/),
  });
  const index = JSON.parse(await readText(path.join(root, 'runs', 'index.json')));
  expect(index.runs).toEqual([expect.objectContaining({ runId: 'notify-fail', status: 'failed', link: 'notify-fail/failure.json' })]);

  const lost: PipelineEvent[] = [];
  const lambdas = defaultLambdaRegistry({
    ...fakePreparation,
    [TaskState.recordFailure]: async () => {
      throw new Error('disk full');
    },
  });
  expect((await runLocal({ runId: 'notify-lost', artifactRoot: root, spec: tinySpec() }, options(lost, { lambdas }))).status).toBe('FAILED');
  expect(lost.find((e) => e.type === 'notification')).toMatchObject({
    message: 'amad-distill: a run failed (Error) and its failure record could not be written (Error): see the execution in the Step Functions console.',
  });
});

test('a failing student is recorded and the others are evaluated and reported', async () => {
  const events: PipelineEvent[] = [];
  const r = await runLocal({ runId: 'one-fails', artifactRoot: root, spec: tinySpec() }, options(events, {}, { FAKE_TRAINER_FAIL: 'amad/seed-1' }));
  expect(r.status).toBe('SUCCEEDED');
  const students = (r.output as { students: { modelId: string; status: string; error?: { Error: string } }[] }).students;
  expect(students.map((s) => [s.modelId, s.status])).toEqual([
    ['amad/seed-0', 'SUCCEEDED'],
    ['amad/seed-1', 'FAILED'],
    ['one2one/seed-0', 'SUCCEEDED'],
  ]);
  expect(students[1].error?.Error).toBe('States.TaskFailed');
  const metrics = JSON.parse(await readText(path.join(runDir('one-fails'), 'report', 'metrics.json')));
  expect(Object.keys(metrics.metrics).sort()).toEqual(['amad/seed-0', 'one2one/seed-0', 'teacher']);
  expect(metrics.missing).toEqual([{ modelId: 'amad/seed-1', reason: 'training failed: States.TaskFailed' }]);
});

test('resume after a failed stage skips completed stages and gives the uninterrupted result', async () => {
  // Prepare: a reference run without interruption.
  const reference = await runLocal({ runId: 'ref', artifactRoot: root, spec: tinySpec() }, options([]));
  expect(reference.status).toBe('SUCCEEDED');
  await fs.rm(callsFile);
  fakeControl.reset();

  // Act 1: MergeEval crashes.
  fakeControl.failMerge = true;
  const failed = await runLocal({ runId: 'resumed', artifactRoot: root, spec: tinySpec() }, options([]));
  expect(failed.status).toBe('FAILED');
  const failure = JSON.parse(await readText(path.join(runDir('resumed'), 'failure.json')));
  expect(failure.failedState).toBe('MergeEval');
  expect(failure.error).toBe('Error');
  expect(failure.keptStages).toEqual(expect.arrayContaining(['validate', 'prepare-data', 'train-teacher', 'train-student/amad/seed-1', 'evaluate/teacher/shard-0']));
  expect(failure.keptStages).not.toContain('merge-eval');
  const firstCalls = { ...fakeControl.calls };

  // Act 2: same run id, the crash fixed.
  fakeControl.failMerge = false;
  const events: PipelineEvent[] = [];
  const resumed = await runLocal({ runId: 'resumed', artifactRoot: root, spec: tinySpec() }, options(events));

  // Assert: nothing before MergeEval ran again, and the outputs equal the reference run's.
  expect(resumed.status).toBe('SUCCEEDED');
  expect(await trainerCalls()).toEqual(['amad/seed-0', 'amad/seed-1', 'one2one/seed-0', 'teacher']); // each once, over both attempts
  expect(events.filter((e) => e.type === 'job-started')).toEqual([]);
  expect(events.filter((e) => e.type === 'stage-skipped').length).toBe(4);
  expect(fakeControl.calls.prepareData).toBe(firstCalls.prepareData);
  expect(fakeControl.calls.cacheTeacherShard).toBe(firstCalls.cacheTeacherShard);
  expect(fakeControl.calls.evaluateShard).toBe(firstCalls.evaluateShard);
  for (const rel of ['report/metrics.json', 'eval/teacher.json', 'eval/amad/seed-1.json']) {
    expect(await readText(path.join(runDir('resumed'), rel))).toBe(await readText(path.join(runDir('ref'), rel)));
  }
});

test('a tampered output makes its stage run again on resume', async () => {
  const first = await runLocal({ runId: 'tamper', artifactRoot: root, spec: tinySpec() }, options([]));
  expect(first.status).toBe('SUCCEEDED');
  const runUri = first.runUri;
  await fs.writeFile(path.join(runDir('tamper'), 'models', 'one2one', 'seed-0', 'weights.json'), '{"tampered":true}');
  expect(await isStageComplete(runUri, Stage.trainStudent('one2one', 0))).toBe(false);
  await fs.rm(callsFile);

  const again = await runLocal({ runId: 'tamper', artifactRoot: root, spec: tinySpec() }, options([]));
  expect(again.status).toBe('SUCCEEDED');
  expect(await trainerCalls()).toEqual(['one2one/seed-0']);
  expect(await isStageComplete(runUri, Stage.trainStudent('one2one', 0))).toBe(true);
  expect(runLayout(runUri).root).toBe(runUri);
});

test('a transient Lambda error is retried; an ordinary error fails the run with the stage named', async () => {
  const registry = defaultLambdaRegistry(fakePreparation);
  let attempts = 0;
  const flaky = async (input: unknown) => {
    attempts++;
    if (attempts === 1) throw Object.assign(new Error('Rate exceeded'), { name: 'Lambda.TooManyRequestsException' });
    return registry[TaskState.cacheTeacherShard](input);
  };
  const events: PipelineEvent[] = [];
  const spec = tinySpec({ students: [tinySpec().students[1]] });
  const ok = await runLocal(
    { runId: 'retry', artifactRoot: root, spec },
    options(events, { lambdas: { ...registry, [TaskState.cacheTeacherShard]: flaky } }),
  );
  expect(ok.status).toBe('SUCCEEDED');
  expect(events.some((e) => e.type === 'state-retried' && e.state === 'CacheTeacherShard')).toBe(true);

  const broken = async () => {
    throw new Error('corrupt shard');
  };
  const bad = await runLocal(
    { runId: 'no-retry', artifactRoot: root, spec },
    options([], { lambdas: { ...registry, [TaskState.cacheTeacherShard]: broken } }),
  );
  expect(bad.status).toBe('FAILED');
  expect(bad.error?.Error).toBe('Error');
  const failure = JSON.parse(await readText(path.join(runDir('no-retry'), 'failure.json')));
  expect(failure.failedState).toBe('CacheTeacher');
  expect(failure.cause).toContain('corrupt shard');
});

test('a student that failed trains on resume and the merge and report are redone to include it', async () => {
  const first = await runLocal({ runId: 'late', artifactRoot: root, spec: tinySpec() }, options([], {}, { FAKE_TRAINER_FAIL: 'amad/seed-1' }));
  expect(first.status).toBe('SUCCEEDED');
  const before = JSON.parse(await readText(path.join(runDir('late'), 'report', 'metrics.json')));
  expect(before.missing.map((m: { modelId: string }) => m.modelId)).toEqual(['amad/seed-1']);
  await fs.rm(callsFile);
  fakeControl.reset();

  const again = await runLocal({ runId: 'late', artifactRoot: root, spec: tinySpec() }, options([]));
  expect(again.status).toBe('SUCCEEDED');
  expect(await trainerCalls()).toEqual(['amad/seed-1']);
  expect(fakeControl.calls.evaluateShard).toBe(1); // only the new model
  expect(fakeControl.calls.mergeEvaluations).toBe(4); // the merge ran again, over all four models
  const after = JSON.parse(await readText(path.join(runDir('late'), 'report', 'metrics.json')));
  expect(after.missing).toEqual([]);
  expect(Object.keys(after.metrics).sort()).toEqual(['amad/seed-0', 'amad/seed-1', 'one2one/seed-0', 'teacher']);
});
