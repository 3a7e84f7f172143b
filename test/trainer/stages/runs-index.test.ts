/** Rows from a run's own records and the index rebuilt from the rows (trainer/stages/runs-index.ts), on a local folder. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { commitStage, readStageMarker, runLayout, runUriFor, Stage } from '../../../contract/layout';
import { parseJobSpec } from '../../../contract/spec';
import { storageFor } from '../../../contract/storage';
import { renderReport } from '../../../trainer/report';
import { parseReportData } from '../../../trainer/report/schema';
import { readRunRows, readRunsIndex, rebuildRunsIndex, recordRunInIndex, rowFromRunRecords, runsIndexLayout } from '../../../trainer/stages/runs-index';
import { tinySpec } from '../../cli/fixtures/tiny-spec';
import { makeReportFixture } from '../report/fixture';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'amad-runs-index-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));
const runsUri = () => pathToFileURL(path.join(root, 'runs')).href;

async function validatedRun(runId: string, spec = tinySpec()): Promise<string> {
  const runUri = runUriFor(root, runId);
  const layout = runLayout(runUri);
  await storageFor(layout.spec).put(layout.spec, JSON.stringify(parseJobSpec({ ...spec, runId })));
  await commitStage(runUri, Stage.validate, ['spec.json']);
  return runUri;
}

test('a run is running after validation, then succeeded with the numbers of its metrics.json', async () => {
  const runUri = await validatedRun('r1', tinySpec({ data: { format: 'synthetic', task: 'captioning', train: 8, val: 4, test: 4 } }));
  const started = (await readStageMarker(runUri, Stage.validate))!.committedAt;
  expect(await recordRunInIndex(runUri, 'running')).toMatchObject({ runId: 'r1', task: 'captioning', status: 'running', startedAt: started, link: null });
  const layout = runLayout(runUri);
  const rendered = renderReport(parseReportData({ ...makeReportFixture(), runId: 'r1' }));
  await storageFor(layout.reportMetrics).put(layout.reportMetrics, rendered.metricsJson);
  const metrics = JSON.parse(rendered.metricsJson);
  const row = await recordRunInIndex(runUri, 'succeeded');
  expect(row).toMatchObject({ status: 'succeeded', startedAt: started, runTimeSeconds: metrics.runTimeSeconds, teacherMetric: metrics.models.find((m: { role: string }) => m.role === 'teacher').metrics[metrics.primaryMetric].mean });
  // The best student is the ok student with the highest mean primary metric.
  const students = metrics.models.filter((m: { role: string; status: string }) => m.role === 'student' && m.status === 'ok');
  const best = students.reduce((a: { metrics: Record<string, { mean: number }> }, b: { metrics: Record<string, { mean: number }> }) => (b.metrics[metrics.primaryMetric]!.mean > a.metrics[metrics.primaryMetric]!.mean ? b : a));
  expect(row.bestStudent).toMatchObject({ id: best.id, metric: best.metrics[metrics.primaryMetric].mean, speedup: best.speedupOverTeacher });
  expect((await readRunsIndex(runsUri())).runs).toEqual([row]);
});

test('a failed run: its failure record; a run with records that do not parse still gets its row', async () => {
  const runUri = await validatedRun('r2');
  const layout = runLayout(runUri);
  await storageFor(layout.failure).put(layout.failure, JSON.stringify({ runId: 'r2', failedState: 'Evaluate', error: 'States.TaskFailed', cause: null, keptStages: [], failedAt: new Date(Date.now() + 5000).toISOString(), resumeHint: 'x' }));
  expect(await rowFromRunRecords(runUri, 'failed', new Date())).toMatchObject({ status: 'failed', link: 'r2/failure.json', failure: { state: 'Evaluate', error: 'States.TaskFailed' } });
  await storageFor(layout.reportMetrics).put(layout.reportMetrics, '{"not": "a summary"}');
  expect(await rowFromRunRecords(runUri, 'succeeded', new Date())).toMatchObject({ status: 'succeeded', task: 'vqa', link: 'r2/report/index.html', teacherMetric: null });
});

test('a row file that is not a row is left out of the index; the others stay', async () => {
  await recordRunInIndex(await validatedRun('good'), 'running');
  const runsDir = path.join(root, 'runs');
  writeFileSync(path.join(runsDir, '_index', 'broken.json'), '{ not json');
  writeFileSync(path.join(runsDir, '_index', 'other.json'), '{"runId": 3}');
  expect(runsIndexLayout(runsUri()).rowsDir).toBe(pathToFileURL(path.join(runsDir, '_index')).href);
  expect((await readRunRows(runsUri())).map((r) => r.runId)).toEqual(['good']);
  await rebuildRunsIndex(runsUri());
  expect(JSON.parse(readFileSync(path.join(runsDir, 'index.json'), 'utf8')).runs.map((r: { runId: string }) => r.runId)).toEqual(['good']);
});
