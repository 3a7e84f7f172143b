/**
 * The real pipeline, nothing faked: the state-machine definition run by the local executor,
 * the real Lambda handlers in process and the real trainer as child processes, on a tiny
 * synthetic VQA spec — teacher trained by the run, teacher cache on, two students (AMAD kl and
 * the no-attention-term baseline), evaluation on the test split, report. A second run with the
 * same run id must find every stage complete and change nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLambdaRegistry } from '../../cli/lambda-registry';
import { defaultTrainerLauncher, runLocal, type LocalRunOptions } from '../../cli/local-executor';
import type { PipelineEvent } from '../../cli/pipeline-events';
import { runLayout, runUriFor, Stage, studentModelId, TEACHER_MODEL_ID } from '../../contract/layout';
import type { JobSpecInput } from '../../contract/spec';
import { MetricsSummarySchema } from '../../trainer/report/summary';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT'; // handler logs would bury the test output
process.env.AMAD_LOG_LEVEL = 'info'; // the trainer processes' logs are read below ("training job starts")

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const RUN_ID = 'e2e-tiny';

const arch = (heads: number, fusionLayers: number) => ({ patchSize: 8, width: 16, mlpWidth: 32, fusionLayers, heads: { vision: heads, fusion: heads, decoder: heads }, dropout: 0 });
const train = (steps: number) => ({ steps, batchSize: 16, warmupSteps: 2, evalEvery: 0, evalExamples: 16, checkpointEvery: 0 });

const SPEC: JobSpecInput = {
  version: 1,
  data: { format: 'synthetic', task: 'vqa', seed: 1, train: 64, val: 16, test: 24, imageSize: 16, maxTextLength: 8, shardSize: 32, answerVocabSize: 16 },
  teacher: { model: arch(4, 2), train: train(20) },
  students: [
    { name: 'amad', model: arch(2, 1), distill: { variant: 'kl' }, train: train(10), seeds: [0] },
    { name: 'plain', model: arch(2, 1), distill: { variant: 'none' }, train: train(10), seeds: [0] },
  ],
  cache: { enabled: true, dtype: 'float16', shardSize: 32 },
  evaluation: { split: 'test', latency: { warmup: 1, runs: 2 } },
  compute: { maxParallelJobs: 2 },
};
const MODEL_IDS = [TEACHER_MODEL_ID, studentModelId('amad', 0), studentModelId('plain', 0)];

let root: string;

function options(events: PipelineEvent[]): LocalRunOptions {
  return { lambdas: defaultLambdaRegistry(), trainer: defaultTrainerLauncher(REPO_ROOT), onEvent: (e) => events.push(e) };
}

/** Every file under a folder (relative path → sha256 and mtime). */
function snapshot(dir: string): Map<string, { sha256: string; mtimeMs: number }> {
  const out = new Map<string, { sha256: string; mtimeMs: number }>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), { sha256: createHash('sha256').update(readFileSync(p)).digest('hex'), mtimeMs: statSync(p).mtimeMs });
    }
  };
  walk(dir);
  return out;
}

/** The trainer's failure reason, from the job logs, to make a failed run readable. */
function jobLogs(runDir: string): string {
  const logs = path.join(runDir, 'logs');
  if (!existsSync(logs)) return '';
  return readdirSync(logs)
    .map((f) => `--- ${f}\n${readFileSync(path.join(logs, f), 'utf8').split('\n').filter((l) => /"level":(40|50)/.test(l)).join('\n')}`)
    .join('\n');
}

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'amad-e2e-'));
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

test('a tiny run goes through every stage, and re-running it skips them all', async () => {
  // Act 1
  const events: PipelineEvent[] = [];
  const first = await runLocal({ runId: RUN_ID, artifactRoot: root, spec: SPEC }, options(events));
  const runUri = runUriFor(root, RUN_ID);
  const runDir = fileURLToPath(runUri);
  const layout = runLayout(runUri);

  // Assert 1: succeeded, with every artifact.
  if (first.status !== 'SUCCEEDED') throw new Error(`run ${first.status}: ${JSON.stringify(first.error)}\n${jobLogs(runDir)}`);
  expect(first.error).toBeUndefined();
  for (const uri of [layout.spec, layout.reportIndex, layout.reportMetrics, layout.reportSummary]) expect(existsSync(fileURLToPath(uri))).toBe(true);
  for (const id of MODEL_IDS) {
    expect(existsSync(path.join(fileURLToPath(layout.model(id)), 'model.bin'))).toBe(true);
    const evalResult = JSON.parse(readFileSync(fileURLToPath(layout.evalFile(id)), 'utf8')) as Record<string, unknown>;
    expect(evalResult).toMatchObject({ modelId: id });
  }
  // The cache stage ran for both training shards, and the trainer jobs all ran (none skipped).
  const stages = readdirSync(path.join(runDir, '_stages', 'cache-teacher'));
  expect(stages.sort()).toEqual([Stage.cacheTeacherShard(0), Stage.cacheTeacherShard(1)].map((s) => s.split('/')[1]));
  expect(events.filter((e) => e.type === 'job-started')).toHaveLength(3);
  // Both students read the teacher from the cache (the kl one its maps, the none one only logits).
  for (const job of [`${RUN_ID}-amad-seed0`, `${RUN_ID}-plain-seed0`]) {
    const start = readFileSync(path.join(runDir, 'logs', `${job}.log`), 'utf8').split('\n').find((l) => l.includes('"training job starts"'));
    expect(JSON.parse(start!)).toMatchObject({ cached: true });
  }
  expect(events.filter((e) => e.type === 'stage-skipped')).toHaveLength(0);
  const metrics = readFileSync(fileURLToPath(layout.reportMetrics), 'utf8');
  const summary = MetricsSummarySchema.parse(JSON.parse(metrics));
  expect(summary.runId).toBe(RUN_ID);
  expect(summary.failures).toEqual([]);
  expect(summary.models.map((m) => [m.id, m.status]).sort()).toEqual([['amad', 'ok'], ['plain', 'ok'], [TEACHER_MODEL_ID, 'ok']]);
  for (const m of summary.models) expect(Number.isFinite(m.metrics[summary.primaryMetric]?.mean)).toBe(true);
  // The runs index and the notification carry the report's own headline numbers.
  const index = JSON.parse(readFileSync(path.join(root, 'runs', 'index.json'), 'utf8')) as { runs: Record<string, unknown>[] };
  const teacherMean = summary.models.find((m) => m.role === 'teacher')!.metrics[summary.primaryMetric]!.mean;
  expect(index.runs).toEqual([expect.objectContaining({ runId: RUN_ID, task: 'vqa', status: 'succeeded', teacherMetric: teacherMean, link: `${RUN_ID}/report/index.html` })]);
  expect(readFileSync(path.join(root, 'runs', 'index.html'), 'utf8')).toContain(`href="${RUN_ID}/report/index.html"`);
  const note = events.find((e) => e.type === 'notification') as { message: string } | undefined;
  expect(note?.message).toMatch(new RegExp(`^amad-distill run ${RUN_ID} succeeded \\(vqa, run time [^)]+\\)\\.\nTeacher [^:]+: [0-9.]+ %\nBest student: [^\n]+× the teacher's speed\nOpen the report: amad report ${RUN_ID} --url\n`));

  // Act 2: the same run id again.
  const before = snapshot(path.join(runDir, '_stages'));
  const modelsBefore = snapshot(path.join(runDir, 'models'));
  const events2: PipelineEvent[] = [];
  const second = await runLocal({ runId: RUN_ID, artifactRoot: root, spec: SPEC }, options(events2));

  // Assert 2: no training process started, no stage re-committed, same metrics.
  expect(second.status).toBe('SUCCEEDED');
  expect(events2.filter((e) => e.type === 'job-started')).toHaveLength(0);
  expect(events2.filter((e) => e.type === 'stage-skipped').map((e) => (e as { stage: string }).stage).sort()).toEqual(
    [Stage.trainTeacher, Stage.trainStudent('amad', 0), Stage.trainStudent('plain', 0)].sort(),
  );
  expect(snapshot(path.join(runDir, '_stages'))).toEqual(before);
  expect(snapshot(path.join(runDir, 'models'))).toEqual(modelsBefore);
  expect(readFileSync(fileURLToPath(layout.reportMetrics), 'utf8')).toBe(metrics);
});
