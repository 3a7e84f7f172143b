/** The PrepareData handler: both event forms, field-naming errors, resume through the stage marker. */
import type { Context } from 'aws-lambda';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isStageComplete, runLayout, runUriFor, Stage } from '../../../contract/layout';
import { InvalidEventError } from '../../../contract/parse-event';
import { storageFor } from '../../../contract/storage';
import { handler } from '../../../lambdas/prepare-data/handler';
import { openDataset } from '../../../trainer/data/dataset';

// The handler reads only `data` from the run spec; the rest of the job spec is another stage's concern.
jest.mock('../../../contract/plan', () => ({
  readRunSpec: async (specUri: string) => {
    const { storageFor: storage } = jest.requireActual('../../../contract/storage');
    return { data: JSON.parse((await storage(specUri).get(specUri)).toString()).data };
  },
}));
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'prepare-data',
  functionVersion: '1',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:prepare-data',
  memoryLimitInMB: '3008',
  awsRequestId: 'req-1',
  logGroupName: 'g',
  logStreamName: 's',
  getRemainingTimeInMillis: () => 900_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} satisfies Context;

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'amad-prepare-handler-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const source = { format: 'synthetic', task: 'translation', seed: 2, train: 30, val: 6, test: 6, imageSize: 8, shardSize: 16 };

describe('direct event {runId, source, outUri}', () => {
  it('prepares the data and returns the manifest, shard URIs and summary', async () => {
    // Prepare
    const outUri = path.join(root, 'out');
    // Act
    const result = await handler({ runId: 'r1', source, outUri }, context);
    // Assert
    expect(result.manifestUri).toMatch(/out\/manifest\.json$/);
    expect(result.shards.train).toHaveLength(2);
    expect(result.summary.splits.test.examples).toBe(6);
    const ds = await openDataset(result.manifestUri);
    expect(ds.manifest.task).toBe('translation');
  });

  it('rejects a bad event naming each bad field', async () => {
    const bad = handler({ runId: 'bad/id', source: { ...source, train: -1, task: 'poems' }, outUri: '' }, context);
    await expect(bad).rejects.toThrow(InvalidEventError);
    const err = (await bad.catch((e: unknown) => e)) as InvalidEventError;
    expect(err.issues.map((i) => i.path).sort()).toEqual(['outUri', 'runId', 'source.task', 'source.train']);
  });

  it('rejects an unknown source format naming the discriminator', async () => {
    await expect(handler({ runId: 'r1', source: { format: 'imagenet' }, outUri: root }, context)).rejects.toThrow(/source\.format/);
  });
});

describe('pipeline event {runId, runUri, specUri}', () => {
  it('reads the spec, writes runs/<id>/data and skips the stage on resume', async () => {
    const runId = 'run-1';
    const runUri = runUriFor(root, runId);
    const layout = runLayout(runUri);
    await storageFor(layout.spec).put(layout.spec, JSON.stringify({ version: 1, runId, data: source }));
    const event = { runId, runUri, specUri: layout.spec };

    const first = await handler(event, context);
    expect(first.manifestUri).toBe(`${layout.data}/manifest.json`);
    expect(await isStageComplete(runUri, Stage.prepareData)).toBe(true);

    const second = await handler(event, context);
    expect(second).toEqual(first);
  });

  it('rejects a run reference without specUri, naming it', async () => {
    await expect(handler({ runId: 'run-1', runUri: root }, context)).rejects.toThrow(/specUri/);
  });
});
