import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  commitStage,
  fingerprint,
  outputsFingerprint,
  isStageComplete,
  listCommittedStages,
  readStageMarker,
  runLayout,
  runStageOnce,
  runUriFor,
  Stage,
} from '../../contract/layout';
import { storageFor } from '../../contract/storage';

let root: string;
let runUri: string;
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'amad-layout-'));
  runUri = runUriFor(root, 'r1');
});
afterEach(() => fs.rm(root, { recursive: true, force: true }));

const put = (rel: string, body: string) => storageFor(runUri).put(`${runUri}/${rel}`, body);

test('the layout puts every artifact under runs/<runId>/', () => {
  const l = runLayout(runUri);
  expect(runUri).toMatch(/^file:\/\/.*\/runs\/r1$/);
  expect(l.spec).toBe(`${runUri}/spec.json`);
  expect(l.studentModel('small', 2)).toBe(`${runUri}/models/small/seed-2`);
  expect(l.evalFile('small/seed-2')).toBe(`${runUri}/eval/small/seed-2.json`);
  expect([l.reportIndex, l.reportMetrics, l.reportSummary]).toEqual(['index.html', 'metrics.json', 'summary.md'].map((f) => `${runUri}/report/${f}`));
  expect(l.marker(Stage.trainStudent('small', 2))).toBe(`${runUri}/_stages/train-student/small/seed-2/_SUCCESS`);
  expect(runUriFor('s3://bucket', 'r1')).toBe('s3://bucket/runs/r1');
});

test('commitStage records the sha256 of every output file, folders expanded', async () => {
  await put('models/teacher/a.bin', 'aaa');
  await put('models/teacher/sub/b.bin', 'bb');
  await put('spec.json', '{}');
  const marker = await commitStage(runUri, Stage.trainTeacher, ['models/teacher/', 'spec.json'], { ok: 1 });
  expect(marker.outputs.map((o) => [o.path, o.size])).toEqual([
    ['models/teacher/a.bin', 3],
    ['models/teacher/sub/b.bin', 2],
    ['spec.json', 2],
  ]);
  // sha256("aaa"), computed independently
  expect(marker.outputs[0].sha256).toBe('9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0');
  expect(await readStageMarker(runUri, Stage.trainTeacher)).toEqual(marker);
  expect(await isStageComplete(runUri, Stage.trainTeacher)).toBe(true);
});

test('a missing, modified or same-size-modified output makes the stage incomplete', async () => {
  await put('eval/x.json', '{"a":1}');
  await commitStage(runUri, Stage.mergeEval, ['eval/x.json']);
  await put('eval/x.json', '{"a":2}'); // same size, different bytes
  expect(await isStageComplete(runUri, Stage.mergeEval, { verify: 'size' })).toBe(true); // the documented blind spot
  expect(await isStageComplete(runUri, Stage.mergeEval)).toBe(false);
  await put('eval/x.json', '{"a":1}');
  expect(await isStageComplete(runUri, Stage.mergeEval)).toBe(true);
  await fs.rm(path.join(root, 'runs', 'r1', 'eval', 'x.json'));
  expect(await isStageComplete(runUri, Stage.mergeEval)).toBe(false);
  expect(await isStageComplete(runUri, Stage.mergeEval, { verify: 'size' })).toBe(false);
});

test('no marker, or a corrupt marker, means incomplete', async () => {
  expect(await isStageComplete(runUri, Stage.report)).toBe(false);
  await put('_stages/report/_SUCCESS', 'not json');
  expect(await isStageComplete(runUri, Stage.report)).toBe(false);
  expect(await readStageMarker(runUri, Stage.report)).toBeNull();
});

test('commitStage refuses outputs that do not exist', async () => {
  await expect(commitStage(runUri, Stage.report, ['report/index.html'])).rejects.toThrow(/output .*report\/index\.html does not exist/);
  await expect(commitStage(runUri, Stage.report, ['report/'])).rejects.toThrow(/output folder .*report is empty or missing/);
});

test('stage ids cannot escape the markers folder', async () => {
  await expect(commitStage(runUri, '../x', [])).rejects.toThrow(/invalid stage id/);
  await expect(isStageComplete(runUri, 'a/../../b')).rejects.toThrow(/invalid stage id/);
});

test('runStageOnce runs the work once and then returns the recorded result', async () => {
  let runs = 0;
  const work = async () => {
    runs++;
    await put('data/manifest.json', '{"n":3}');
    return { outputs: ['data/'], result: { shards: runs } };
  };
  expect(await runStageOnce(runUri, Stage.prepareData, work)).toEqual({ result: { shards: 1 }, skipped: false });
  expect(await runStageOnce(runUri, Stage.prepareData, work)).toEqual({ result: { shards: 1 }, skipped: true });
  expect(runs).toBe(1);
  await put('data/manifest.json', '{"n":4}');
  expect(await runStageOnce(runUri, Stage.prepareData, work)).toEqual({ result: { shards: 2 }, skipped: false });
});

test('a stage whose work throws leaves no marker', async () => {
  await expect(runStageOnce(runUri, Stage.report, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  expect(await readStageMarker(runUri, Stage.report)).toBeNull();
});

test('listCommittedStages lists nested stage ids', async () => {
  await put('a.txt', 'a');
  await commitStage(runUri, Stage.validate, ['a.txt']);
  await commitStage(runUri, Stage.evaluate('s/seed-0', 3), ['a.txt']);
  expect(await listCommittedStages(runUri)).toEqual(['evaluate/s/seed-0/shard-3', 'validate']);
});

test('an input fingerprint other than the committed one makes the stage incomplete', async () => {
  await put('a.txt', 'a');
  const work = async () => ({ outputs: ['a.txt'], result: 1 });
  await runStageOnce(runUri, Stage.mergeEval, work, { inputHash: fingerprint({ students: ['x'] }) });
  expect(await isStageComplete(runUri, Stage.mergeEval, { inputHash: fingerprint({ students: ['x'] }) })).toBe(true);
  expect(await isStageComplete(runUri, Stage.mergeEval, { inputHash: fingerprint({ students: ['x', 'y'] }) })).toBe(false);
  expect(await isStageComplete(runUri, Stage.mergeEval)).toBe(true); // no fingerprint asked: outputs only
  // Key order does not matter; content does.
  expect(fingerprint({ a: 1, b: { c: 2, d: 3 } })).toBe(fingerprint({ b: { d: 3, c: 2 }, a: 1 }));
  expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
  expect(await outputsFingerprint(runUri, Stage.mergeEval)).toMatch(/^[0-9a-f]{64}$/);
  expect(await outputsFingerprint(runUri, Stage.report)).toBeNull();
});
