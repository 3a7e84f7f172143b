/**
 * The thin Lambda handlers: malformed events are rejected naming the field; well-formed ones do
 * their job through the (faked) ML cores and commit their stage markers.
 */
import type { Context } from 'aws-lambda';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidEventError } from '../../contract/parse-event';
import { commitStage, isStageComplete, runLayout, runUriFor, Stage } from '../../contract/layout';
import { storageFor } from '../../contract/storage';
import { ConfigError } from '../../trainer/model/config';
import { handler as cacheTeacher } from '../../lambdas/cache-teacher/handler';
import { handler as evaluate } from '../../lambdas/evaluate/handler';
import { handler as failure } from '../../lambdas/failure/handler';
import { handler as mergeEval } from '../../lambdas/merge-eval/handler';
import { handler as report } from '../../lambdas/report/handler';
import { handler as validate, SpecConflictError } from '../../lambdas/validate/handler';
import { fakeControl } from '../cli/fixtures/fake-stages';
import { tinySpec } from '../cli/fixtures/tiny-spec';

jest.mock('../../trainer/stages', () => jest.requireActual('../cli/fixtures/fake-stages').fakeStages);
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'test',
  functionVersion: '1',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:test',
  memoryLimitInMB: '128',
  awsRequestId: 'req-1',
  logGroupName: 'g',
  logStreamName: 's',
  getRemainingTimeInMillis: () => 1000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} satisfies Context;

let root: string;
let runUri: string;
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'amad-lambda-'));
  runUri = runUriFor(root, 'r1');
  fakeControl.reset();
});
afterEach(() => fs.rm(root, { recursive: true, force: true }));

/** The InvalidEventError of a call, with the paths it names. */
async function invalid(call: Promise<unknown>): Promise<string[]> {
  const e = await call.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InvalidEventError);
  expect((e as Error).name).toBe('InvalidEvent');
  return (e as InvalidEventError).issues.map((i) => i.path);
}

const ref = () => ({ runId: 'r1', runUri, specUri: runLayout(runUri).spec });
const put = (uri: string, body: string) => storageFor(uri).put(uri, body);

describe('validate', () => {
  test('writes the normalised spec and returns the plan', async () => {
    const plan = await validate({ runId: 'r1', artifactRoot: root, spec: tinySpec() }, context);
    expect(plan).toMatchObject({ runId: 'r1', runUri, specUri: `${runUri}/spec.json`, cacheEnabled: true, evalSplit: 'test', maxParallelJobs: 2 });
    expect(plan.teacher).toEqual({
      modelUri: `${runUri}/models/teacher`,
      trainRequired: true,
      job: { jobName: 'r1-teacher', command: ['--job', `${runUri}/spec.json`, '--role', 'teacher'] },
    });
    expect(plan.studentJobs.map((j) => j.command.slice(2))).toEqual([
      ['--role', 'student', '--student', 'amad', '--seed', '0'],
      ['--role', 'student', '--student', 'amad', '--seed', '1'],
      ['--role', 'student', '--student', 'one2one', '--seed', '0'],
    ]);
    expect(plan.models.map((m) => [m.modelId, m.stage])).toEqual([
      ['teacher', 'train-teacher'],
      ['amad/seed-0', 'train-student/amad/seed-0'],
      ['amad/seed-1', 'train-student/amad/seed-1'],
      ['one2one/seed-0', 'train-student/one2one/seed-0'],
    ]);
    const written = JSON.parse((await storageFor(plan.specUri).get(plan.specUri)).toString());
    expect(written.runId).toBe('r1');
    expect(written.students[0].distill.temperature).toBe(1); // defaults applied
    expect(await isStageComplete(runUri, Stage.validate)).toBe(true);
  });

  test('a teacher checkpoint skips teacher training and is evaluated without a stage', async () => {
    const plan = await validate({ runId: 'r1', artifactRoot: root, spec: tinySpec({ teacher: { checkpoint: 's3://models/t1' } }) });
    expect(plan.teacher).toEqual({ modelUri: 's3://models/t1', trainRequired: false, job: null });
    expect(plan.models[0]).toEqual({ modelId: 'teacher', modelUri: 's3://models/t1', stage: null });
  });

  test('the same spec again resumes; a different spec under the same run id is refused', async () => {
    const first = await validate({ runId: 'r1', artifactRoot: root, spec: tinySpec() });
    expect(await validate({ runId: 'r1', artifactRoot: root, spec: tinySpec() })).toEqual(first);
    await expect(validate({ runId: 'r1', artifactRoot: root, spec: tinySpec({ cache: { enabled: false } }) })).rejects.toThrow(SpecConflictError);
  });

  test('rejects a malformed event and an invalid spec with every problem', async () => {
    expect(await invalid(validate({ runId: 'bad id', spec: {} }))).toEqual(['runId', 'artifactRoot']);
    const e = await validate({ runId: 'r1', artifactRoot: root, spec: { version: 1 } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).issues.map((i) => i.path)).toEqual(['data', 'teacher', 'students']);
    await expect(validate({ runId: 'r1', artifactRoot: root, spec: tinySpec({ runId: 'r2' }) })).rejects.toThrow(/spec\.runId "r2" differs from the run id "r1"/);
  });
});

describe('cache-teacher', () => {
  const event = () => ({ ...ref(), teacherUri: `${runUri}/models/teacher`, shardUri: `${runUri}/data/train/shard-0.bin`, shardIndex: 0 });

  test('caches a shard once', async () => {
    await validate({ runId: 'r1', artifactRoot: root, spec: tinySpec() });
    expect(await cacheTeacher(event(), context)).toEqual({ shardIndex: 0, files: 1, skipped: false });
    expect(await cacheTeacher(event(), context)).toEqual({ shardIndex: 0, files: 1, skipped: true });
    expect(fakeControl.calls.cacheTeacherShard).toBe(1);
  });

  test('names the bad fields', async () => {
    expect(await invalid(cacheTeacher({ ...event(), shardIndex: -1, teacherUri: undefined }))).toEqual(['teacherUri', 'shardIndex']);
  });
});

describe('evaluate', () => {
  const event = (modelId: string, stage: string | null) => ({
    ...ref(),
    model: { modelId, modelUri: `${runUri}/models/${modelId}`, stage },
    shardUri: `${runUri}/data/test/shard-0.bin`,
    shardIndex: 0,
  });

  test('evaluates a trained model and skips one whose training did not complete', async () => {
    await validate({ runId: 'r1', artifactRoot: root, spec: tinySpec() });
    await put(`${runUri}/models/teacher/weights.json`, '{"w":1}');
    await commitStage(runUri, Stage.trainTeacher, ['models/teacher/']);
    const ok = await evaluate(event('teacher', Stage.trainTeacher), context);
    expect(ok).toEqual({ modelId: 'teacher', shardIndex: 0, partUri: runLayout(runUri).evalPart('teacher', 0), skipped: false });
    const skipped = await evaluate(event('amad/seed-0', Stage.trainStudent('amad', 0)), context);
    expect(skipped).toMatchObject({ modelId: 'amad/seed-0', partUri: null, skipped: true, skippedReason: expect.stringMatching(/not trained/) });
    expect(fakeControl.calls.evaluateShard).toBe(1);
  });

  test('names the bad fields', async () => {
    expect(await invalid(evaluate({ ...event('teacher', null), model: { modelId: 'teacher' } }))).toEqual(['model.modelUri', 'model.stage']);
  });
});

describe('merge-eval and report', () => {
  test('merge lists failed students as missing; report commits the three report files', async () => {
    await validate({ runId: 'r1', artifactRoot: root, spec: tinySpec() });
    await put(`${runUri}/models/teacher/weights.json`, '{"w":1}');
    await commitStage(runUri, Stage.trainTeacher, ['models/teacher/']);
    const models = [
      { modelId: 'teacher', modelUri: `${runUri}/models/teacher`, stage: Stage.trainTeacher },
      { modelId: 'amad/seed-0', modelUri: `${runUri}/models/amad/seed-0`, stage: Stage.trainStudent('amad', 0) },
    ];
    for (const m of models) await evaluate({ ...ref(), model: m, shardUri: 'file:///x', shardIndex: 0 });
    const students = [{ student: 'amad', seed: 0, modelId: 'amad/seed-0', status: 'FAILED' as const, error: { Error: 'States.TaskFailed', Cause: '{}' } }];
    const merged = await mergeEval({ ...ref(), models, evalShards: ['file:///x'], students }, context);
    expect(merged).toEqual({ evalFiles: { teacher: runLayout(runUri).evalFile('teacher') }, missing: [{ modelId: 'amad/seed-0', reason: 'training failed: States.TaskFailed' }] });

    const out = await report({ ...ref(), evaluation: merged, students }, context);
    expect(out).toEqual({
      reportUri: runLayout(runUri).reportIndex,
      metricsUri: runLayout(runUri).reportMetrics,
      summaryUri: runLayout(runUri).reportSummary,
      notification: expect.stringContaining('amad report r1 --url'),
    });
    expect(await isStageComplete(runUri, Stage.report)).toBe(true);
  });

  test('merge fails when no model has results', async () => {
    await validate({ runId: 'r1', artifactRoot: root, spec: tinySpec() });
    const models = [{ modelId: 'teacher', modelUri: `${runUri}/models/teacher`, stage: Stage.trainTeacher }];
    await expect(mergeEval({ ...ref(), models, evalShards: ['file:///x'], students: [] })).rejects.toThrow(/no model of run r1 has evaluation results/);
  });

  test('name the bad fields', async () => {
    expect(await invalid(mergeEval({ ...ref(), models: [], evalShards: 'x', students: [{ status: 'MAYBE' }] }))).toEqual(
      expect.arrayContaining(['evalShards', 'students.0.status', 'students.0.student']),
    );
    expect(await invalid(report({ ...ref(), evaluation: { evalFiles: {} }, students: [] }))).toEqual(['evaluation.missing']);
  });
});

describe('failure', () => {
  test('writes failure.json with the failed state, the parsed cause and the kept stages', async () => {
    await validate({ runId: 'r1', artifactRoot: root, spec: tinySpec() });
    const r = await failure(
      {
        state: {
          run: { runId: 'r1', runUri },
          failedState: 'TrainTeacher',
          error: { Error: 'States.TaskFailed', Cause: '{"StatusReason":"Essential container in task exited"}' },
        },
      },
      context,
    );
    expect(r).toEqual({ failureUri: runLayout(runUri).failure, failedState: 'TrainTeacher', keptStages: ['validate'], notification: expect.stringMatching(/^amad-distill run r1 failed in TrainTeacher.*: States\.TaskFailed\n/) });
    const record = JSON.parse((await storageFor(r.failureUri!).get(r.failureUri!)).toString());
    expect(record).toMatchObject({ runId: 'r1', failedState: 'TrainTeacher', error: 'States.TaskFailed', cause: { StatusReason: 'Essential container in task exited' }, keptStages: ['validate'] });
    expect(record.resumeHint).toMatch(/runId "r1"/);
  });

  test('a failure before Validate uses the execution input; an unusable run id writes nothing', async () => {
    const early = await failure({ state: { runId: 'r1', artifactRoot: root, spec: {}, failedState: 'Validate', error: { Error: 'ConfigError', Cause: 'bad' } } });
    expect(early.failureUri).toBe(runLayout(runUri).failure);
    const none = await failure({ state: { runId: 'bad id', artifactRoot: root, error: { Error: 'InvalidEvent', Cause: 'x' } } });
    expect(none).toEqual({ failureUri: null, failedState: null, keptStages: [], notification: expect.stringContaining('bad id') });
  });

  test('names the bad fields', async () => {
    expect(await invalid(failure({ state: { run: { runId: 'r1' } } }))).toEqual(['state.run.runUri', 'state.error']);
    expect(await invalid(failure({}))).toEqual(['state']);
  });
});
