/**
 * Candidate selection end to end, nothing faked: the state machine through the local executor,
 * the real handlers and trainer, on a tiny synthetic VQA spec whose AMAD student lists two
 * temperatures. Both candidates train; both are scored on the validation split; only the chosen
 * one is evaluated on the test split; the report shows both validation scores and the choice.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLambdaRegistry } from '../../cli/lambda-registry';
import { defaultTrainerLauncher, runLocal } from '../../cli/local-executor';
import { runLayout, runUriFor, Stage, studentModelId } from '../../contract/layout';
import type { JobSpecInput } from '../../contract/spec';
import { SelectionFileSchema, selectCandidate } from '../../trainer/eval/select-candidates';
import { EvalPartSchema } from '../../trainer/eval/result-schema';
import { MetricsSummarySchema } from '../../trainer/report/summary';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
// The in-process Evaluate Lambda on tfjs: onnxruntime-node's tensors reject typed arrays made in
// jest's sandbox realm ("A float32 tensor's data must be type of function Float32Array()").
// Candidate selection does not depend on the runtime; `amad run` outside jest uses either.
process.env.AMAD_INFERENCE_RUNTIME = 'tfjs';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const RUN_ID = 'e2e-candidates';
const arch = (heads: number, fusionLayers: number) => ({ patchSize: 8, width: 16, mlpWidth: 32, fusionLayers, heads: { vision: heads, fusion: heads, decoder: heads }, dropout: 0 });
const train = (steps: number) => ({ steps, batchSize: 16, warmupSteps: 2, evalEvery: 0, evalExamples: 16, checkpointEvery: 0 });

const SPEC: JobSpecInput = {
  version: 1,
  data: { format: 'synthetic', task: 'vqa', seed: 1, train: 64, val: 24, test: 16, imageSize: 16, maxTextLength: 8, shardSize: 32, answerVocabSize: 16 },
  teacher: { model: arch(4, 2), train: train(20) },
  students: [
    { name: 'amad', model: arch(2, 1), distill: { variant: 'kl' }, candidates: { temperature: [1, 0.05] }, train: train(10), seeds: [0, 1] },
    { name: 'plain', model: arch(2, 1), distill: { variant: 'none', alphaKd: 0 }, train: train(10), seeds: [0] },
  ],
  cache: { enabled: true, dtype: 'float16', shardSize: 32 },
  evaluation: { split: 'test', latency: { warmup: 1, runs: 1 } },
  compute: { maxParallelJobs: 1 },
};

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'amad-cand-'));
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

test('every candidate trains and is scored on validation; only the selected one is evaluated on test and reported', async () => {
  const result = await runLocal({ runId: RUN_ID, artifactRoot: root, spec: SPEC }, { lambdas: defaultLambdaRegistry(), trainer: defaultTrainerLauncher(REPO_ROOT) });
  const runUri = runUriFor(root, RUN_ID);
  const layout = runLayout(runUri);
  const file = (uri: string) => fileURLToPath(uri);
  if (result.status !== 'SUCCEEDED') throw new Error(`run ${result.status}: ${JSON.stringify(result.error)}`);

  // Both candidates trained, for both seeds.
  for (const name of ['amad-c0', 'amad-c1']) for (const seed of [0, 1]) expect(existsSync(path.join(file(layout.model(studentModelId(name, seed))), 'model.bin'))).toBe(true);

  // Scored on the validation split: parts read the val split, one score file per candidate model.
  const part = EvalPartSchema.parse(JSON.parse(readFileSync(file(layout.valEvalPart('amad-c1/seed-0', 0)), 'utf8')));
  expect(part.split).toBe('val');
  expect(part.count).toBe(24);
  const selection = SelectionFileSchema.parse(JSON.parse(readFileSync(file(layout.selection), 'utf8')));
  expect(selection.groups).toHaveLength(1);
  const g = selection.groups[0]!;
  expect(g.student).toBe('amad');
  expect(g.metric).toBe('accuracy');
  expect(g.candidates.map((c) => [c.name, c.values, c.seeds.map((s) => s.seed)])).toEqual([
    ['amad-c0', { temperature: 1 }, [0, 1]],
    ['amad-c1', { temperature: 0.05 }, [0, 1]],
  ]);
  // Each seed's score is the accuracy of that model on the validation questions (from its parts).
  for (const c of g.candidates) {
    for (const s of c.seeds) {
      const p = EvalPartSchema.parse(JSON.parse(readFileSync(file(layout.valEvalPart(studentModelId(c.name, s.seed), 0)), 'utf8')));
      const acc = p.ids.filter((id) => p.references![id]!.includes(p.predictions[id]!)).length / p.ids.length;
      expect(s.score).toBeCloseTo(acc, 10);
    }
  }
  // The choice is the selection rule applied to those scores.
  const again = selectCandidate('amad', 'accuracy', g.candidates.map((c) => ({ name: c.name, values: c.values, seeds: c.seeds })));
  expect(g.selected).toBe(again.selected);
  const chosen = g.selected!;
  const other = chosen === 'amad-c0' ? 'amad-c1' : 'amad-c0';

  // Test split: the selected candidate (both seeds) and the other students; never the other candidate.
  const evaluated = readdirSync(path.join(file(runUri), 'eval')).sort();
  expect(evaluated).toEqual([chosen, 'parts', 'plain', 'teacher.json'].sort());
  expect(readdirSync(path.join(file(runUri), 'eval', chosen)).sort()).toEqual(['seed-0.json', 'seed-1.json']);
  expect(existsSync(path.join(file(runUri), '_stages', Stage.evaluate(studentModelId(other, 0), 0)))).toBe(false);

  // The report: the selected candidate as a model, every candidate's validation score, the ground-truth-only student named as such.
  const summary = MetricsSummarySchema.parse(JSON.parse(readFileSync(file(layout.reportMetrics), 'utf8')));
  expect(summary.models.map((m) => m.id).sort()).toEqual([chosen, 'plain', 'teacher'].sort());
  expect(summary.models.find((m) => m.id === 'plain')!.method).toBe('ground truth only (no distillation)');
  const html = readFileSync(file(layout.reportIndex), 'utf8');
  expect(html).toContain('Candidate selection (validation split)');
  expect(html).toContain(`${chosen} <strong>(selected)</strong>`);
  expect(html).toContain('temperature = 0.05');
  const md = readFileSync(file(layout.reportSummary), 'utf8');
  expect(md).toMatch(new RegExp(`- amad: selected \\*\\*${chosen}\\*\\*`));
}, 600_000);
