/**
 * Issue 17's "done when", on the local S3 server: after a pipeline run whose artifact root is
 * s3:// (the real definition, Lambda handlers and executor; ML cores and trainer faked as in the
 * executor tests), `amad report <runId> --url` prints a URL that serves the report page, `amad
 * runs` lists every run, and the bucket's runs/index.html links every report.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { reportCommand } from '../../cli/commands/report';
import { runsCommand } from '../../cli/commands/runs';
import { defaultLambdaRegistry } from '../../cli/lambda-registry';
import { runLocal, type LocalRunOptions } from '../../cli/local-executor';
import { TaskState } from '../../contract/state-machine';
import { storageFor } from '../../contract/storage';
import { useLocalS3 } from '../helpers/local-s3';
import { testDeps } from './fixtures/deps';
import { fakeControl, fakePrepareData } from './fixtures/fake-stages';
import { bundleFakeTrainer } from './fixtures/fake-trainer-bundle';
import { tinySpec } from './fixtures/tiny-spec';

jest.mock('../../trainer/stages', () => jest.requireActual('./fixtures/fake-stages').fakeStages);
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const BUCKET = 'run-bucket';
const ROOT = `s3://${BUCKET}/team`;
useLocalS3([BUCKET]);

let trainer: Awaited<ReturnType<typeof bundleFakeTrainer>>;
let logDir: string;
beforeAll(async () => {
  trainer = await bundleFakeTrainer();
  logDir = mkdtempSync(path.join(os.tmpdir(), 'amad-review-logs-'));
});
afterAll(async () => {
  await trainer.cleanup();
  rmSync(logDir, { recursive: true, force: true });
});

function options(): LocalRunOptions {
  // The fake trainer child process writes its model to S3 too: give it the endpoint and the SDK.
  const env: Record<string, string> = {
    AMAD_S3_ENDPOINT: process.env.AMAD_S3_ENDPOINT!,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID!,
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY!,
    AWS_REGION: process.env.AWS_REGION!,
    NODE_PATH: path.resolve(__dirname, '..', '..', 'node_modules'),
  };
  return { lambdas: defaultLambdaRegistry({ [TaskState.prepareData]: fakePrepareData }), trainer: trainer.launcher(env), logDir };
}

test('two runs on S3: report --url serves the page, amad runs lists both, runs/index.html links both reports', async () => {
  fakeControl.reset();
  const spec = tinySpec({ students: [tinySpec().students[1]!] });
  for (const runId of ['s3-run-1', 's3-run-2']) {
    const r = await runLocal({ runId, artifactRoot: ROOT, spec }, options());
    expect({ runId, status: r.status, error: r.error }).toEqual({ runId, status: 'SUCCEEDED', error: undefined });
  }
  const deps = () => Object.assign(testDeps({ env: { AMAD_ARTIFACT_ROOT: ROOT } }), { now: () => new Date() });

  const report = deps();
  expect(await reportCommand({ runId: 's3-run-2', url: true }, report)).toBe(0);
  const res = await fetch(report.stdout[0]!);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(await res.text()).toMatch(/^<pre>/); // the fake report stage's page

  const runs = deps();
  expect(await runsCommand({}, runs)).toBe(0);
  expect(runs.stdout).toHaveLength(4); // header, rule, two runs
  for (const id of ['s3-run-1', 's3-run-2']) expect(runs.stdout.find((l) => l.startsWith(`${id} `))).toMatch(/\bsucceeded\b.*amad report s3-run-\d --url$/);
  const page = (await storageFor(`${ROOT}/runs/index.html`).get(`${ROOT}/runs/index.html`)).toString();
  for (const id of ['s3-run-1', 's3-run-2']) expect(page).toContain(`href="${id}/report/index.html"`);
});
