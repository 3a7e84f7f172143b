/** The fanned-out preparation's Lambdas: direct and pipeline events, payload sizes, field-naming errors. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isStageComplete, runLayout, runUriFor, Stage } from '../../../contract/layout';
import { InvalidEventError } from '../../../contract/parse-event';
import { storageFor } from '../../../contract/storage';
import { handler as chunkHandler } from '../../../lambdas/prepare-chunk/handler';
import { handler as mergeHandler } from '../../../lambdas/prepare-data/handler';
import { handler as planHandler } from '../../../lambdas/prepare-plan/handler';
import { handler as vocabularyHandler } from '../../../lambdas/prepare-vocabulary/handler';
import { openDataset } from '../../../trainer/data/dataset';

jest.mock('../../../contract/plan', () => ({
  readRunSpec: async (specUri: string) => {
    const { storageFor: storage } = jest.requireActual('../../../contract/storage');
    return { data: JSON.parse((await storage(specUri).get(specUri)).toString()).data };
  },
}));
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'amad-prepare-fanout-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const source = { format: 'synthetic', task: 'captioning', seed: 4, train: 40, val: 6, test: 6, imageSize: 8, shardSize: 16, chunkShards: 1 };

test('pipeline events: plan → vocabulary → one event per chunk → merge commits the stage; a resumed plan skips the fan-out', async () => {
  const runId = 'run-fanout';
  const runUri = runUriFor(root, runId);
  const layout = runLayout(runUri);
  await storageFor(layout.spec).put(layout.spec, JSON.stringify({ version: 1, runId, data: source }));
  const ref = { runId, runUri, specUri: layout.spec };

  const plan = await planHandler(ref);
  // 40 images × 5 captions = 200 train records, 16 per chunk (whole images: 3 per chunk) → 14 chunks, + val + test.
  expect(plan.complete).toBe(false);
  expect(plan.chunks).toEqual(Array.from({ length: plan.chunks.length }, (_, i) => i));
  expect(plan.chunks.length).toBe(16);
  expect(JSON.stringify(plan).length).toBeLessThan(400);
  await vocabularyHandler(ref);
  for (const chunk of plan.chunks) expect(JSON.stringify(await chunkHandler({ ...ref, chunk })).length).toBeLessThan(400);
  const result = await mergeHandler(ref);
  expect(await isStageComplete(runUri, Stage.prepareData)).toBe(true);
  const ds = await openDataset(result.manifestUri);
  expect(ds.manifest.splits.train).toMatchObject({ images: 40, examples: 200 });
  expect(ds.manifest.splits.train.imageShards).toHaveLength(14);

  expect(await planHandler(ref)).toEqual({ complete: true, chunks: [] });
  expect(await mergeHandler(ref)).toEqual(result);
});

test('direct events read and write the given folder', async () => {
  const outUri = path.join(root, 'out');
  const plan = await planHandler({ runId: 'r1', source, outUri });
  await vocabularyHandler({ runId: 'r1', outUri });
  const done = [];
  for (const chunk of plan.chunks) done.push(await chunkHandler({ runId: 'r1', outUri, chunk }));
  expect(done.map((d) => d.skipped)).toEqual(plan.chunks.map(() => false));
  for (const d of done) expect(existsSync(fileURLToPath(d.resultUri))).toBe(true);
  // Nothing is "prepared" until a merge writes the manifest.
  await expect(openDataset(outUri)).rejects.toThrow(/manifest\.json not found/);
});

test('bad events name each bad field', async () => {
  const bad = await planHandler({ runId: 'bad/id', source: { ...source, chunkShards: 0 }, outUri: '' }).catch((e: unknown) => e as InvalidEventError);
  expect(bad).toBeInstanceOf(InvalidEventError);
  expect((bad as InvalidEventError).issues.map((i) => i.path).sort()).toEqual(['outUri', 'runId', 'source.chunkShards']);
  const badChunk = await chunkHandler({ runId: 'r1', outUri: root, chunk: -1 }).catch((e: unknown) => e as InvalidEventError);
  expect((badChunk as InvalidEventError).issues.map((i) => i.path)).toEqual(['chunk']);
  await expect(vocabularyHandler({ runId: 'r1', runUri: root })).rejects.toThrow(/specUri/);
  await expect(chunkHandler({ runId: 'r1', outUri: root, chunk: 0 })).rejects.toThrow(/plan\.json not found: run planPreparation/);
});
