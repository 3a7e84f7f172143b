/**
 * The experiment runner's report: from evaluation files under --root it writes the results file
 * (mean ± std, paired Δ and p against AMAD kl, "where AMAD did not win"), the plots and — for the
 * full experiment — the README block. `--tasks ''` runs nothing and only summarises, so these
 * tests feed it hand-made evaluation files with known numbers.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../bench/experiments';
import { experimentSpec, VARIANTS } from '../../bench/experiments-spec';
import { runLayout, runUriFor, studentModelId, TEACHER_MODEL_ID } from '../../contract/layout';
import { toUri } from '../../contract/storage';
import type { EvalResult } from '../../trainer/eval/result-schema';

const latency = { p50: 10, p95: 12, mean: 11 };

function evalResult(modelId: string, accuracy: number, batch32Ms: number): EvalResult {
  return {
    version: 1,
    modelId,
    task: 'vqa',
    split: 'test',
    count: 2,
    metrics: { accuracy },
    primaryMetric: 'accuracy',
    metricNotes: { accuracy: 'exact match' },
    perExampleMetric: 'accuracy',
    perExample: [
      { id: 'a', score: 1, prediction: 'red' },
      { id: 'b', score: 0, prediction: 'blue' },
    ],
    perExampleTruncated: false,
    decoding: null,
    model: { uri: 'file:///model', sha256: '0'.repeat(64) },
    cost: { params: 50_000, flops: 1, weightBytes: 1, latency: { backend: 'cpu', warmup: 0, runs: 1, batch1: latency, batch32: { ...latency, p50: batch32Ms } }, notes: [] },
    evaluatedAt: '2026-11-27T10:00:00.000Z',
  };
}

/** Per variant, the accuracy of seeds 0, 1, 2 (2-head students of the quick VQA experiment). */
const accuracies: Record<string, number[]> = {
  'gt-only': [0.3, 0.33, 0.31], // AMAD kl leads by ≈ 0.2 on every seed: significant
  'logit-kd': [0.4, 0.41, 0.43],
  'one-to-one': [0.55, 0.56, 0.58], // above AMAD kl on every seed
  'mean-head': [0.49, 0.5, 0.52], // a lead that flips sign across seeds: not significant
  minilmv2: [0.45, 0.46, 0.47],
  'amad-kl': [0.5, 0.52, 0.51],
  'amad-mse': [0.5, 0.5, 0.5],
  'amad-token': [0.49, 0.51, 0.5],
};

function writeEval(root: string, quick: boolean, modelId: string, accuracy: number, batch32Ms: number): void {
  const runUri = runUriFor(toUri(root), experimentSpec('vqa', { quick }).runId!);
  const file = fileURLToPath(runLayout(runUri).evalFile(modelId));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(evalResult(modelId, accuracy, batch32Ms)));
}

function writeVqaRun(root: string, quick: boolean, heads: readonly number[]): void {
  writeEval(root, quick, TEACHER_MODEL_ID, 0.6, 40);
  for (const h of heads) {
    for (const [variant, values] of Object.entries(accuracies)) {
      values.forEach((acc, seed) => writeEval(root, quick, studentModelId(`${variant}-h${h}`, seed), acc, [10, 20, 8][seed]!));
    }
  }
}

let dir: string;
const cwd = process.cwd();
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'amad-experiments-'));
});
afterEach(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});

test('quick: the results file reports mean ± std, paired Δ and p, and every loss of AMAD kl; no README is touched', async () => {
  const root = path.join(dir, 'runs');
  const out = path.join(dir, 'SURVEY-quick.md');
  writeVqaRun(root, true, [2]);
  await run(['--quick', '--tasks', '', '--root', root, '--out', out]);
  const md = readFileSync(out, 'utf8');

  expect(md).toContain('| gt-only | 31.3 ± 1.5 | 3 | +19.7 |');
  expect(md).toContain('| amad-kl | 51.0 ± 1.0 | 3 |');
  expect(md).toContain('Teacher: 60.0');
  expect(md).toContain('| gt-only | 31.3 ± 1.5 | 3 | +19.7 | < 0.001 |'); // p ≈ 3e-4
  // The 95% interval of Δ: differences 0.20, 0.19, 0.20 → mean 0.1967, sd 0.00577, t(0.975, 2) = 4.3027 → ± 0.0143.
  expect(md).toContain('| gt-only | 31.3 ± 1.5 | 3 | +19.7 | < 0.001 | [18.2, 21.1] |');
  // Every seed's value.
  expect(md).toContain('| variant | seed 0 | seed 1 | seed 2 |');
  expect(md).toContain('| one-to-one | 55.0 | 56.0 | 58.0 |');
  expect(md).toContain('`gt-only` is the student trained on the ground truth alone');
  expect(md).toContain('Command: `npm run experiments -- --quick --tasks vqa`');
  expect(existsSync(path.join(dir, 'survey-quick-vqa-diffs.svg'))).toBe(true);
  // One speed-up per head count: teacher 40 ms at batch 32, students 10 / 20 / 8 ms by seed → 4×, 2×, 5×, median 4×.
  expect(md).toContain('All 24 students above share one architecture: 50 k parameters (100% of the teacher\'s), **4.00× faster**');
  expect(md).toContain('range 2.00–5.00×');
  expect(md).toMatch(/AMAD kl did \*\*not\*\* beat one-to-one \(Δ -5\.3, p 0\.0\d+\)/);
  expect(md).toMatch(/AMAD kl's lead over mean-head \(Δ \+0\.7\) is not significant/);
  expect(md).not.toMatch(/lead over gt-only/);
  // The other AMAD variants are listed but are not "baselines AMAD did not beat".
  expect(md).not.toMatch(/beat amad-mse/);
  // Tasks with no run under --root say how to run them.
  expect(md).toContain('## captioning (quick)');
  expect(md).toContain('Not finished yet: `npm run experiments -- --quick --tasks captioning`');
  expect(md).toContain('students 200 steps with 2 heads');
  expect(md).toContain('Trained at commit not recorded.');
  expect(existsSync(path.join(dir, 'reports'))).toBe(false); // the quick check links reports under --root, copies none
  expect(existsSync(path.join(dir, 'survey-quick-vqa.svg'))).toBe(true);
  expect(existsSync(path.join(dir, 'survey-quick-captioning.svg'))).toBe(false);
});

test('full: the README survey block gets one row per task and head count and a verdict naming the losses', async () => {
  process.chdir(dir);
  writeFileSync('README.md', '# x\n\n<!-- RESULTS:START -->\nstudy\n<!-- RESULTS:END -->\n\n<!-- SURVEY:START -->\nold\n<!-- SURVEY:END -->\n\nrest\n');
  writeVqaRun('runs', false, [2, 4]);
  mkdirSync('runs/runs/experiments-vqa/report', { recursive: true });
  writeFileSync('runs/runs/experiments-vqa/report/index.html', '<html>vqa report</html>');
  mkdirSync('runs/specs', { recursive: true });
  writeFileSync('runs/specs/experiments-vqa.provenance.json', JSON.stringify({ commit: 'abc1234', startedAt: '2026-11-27T09:52:49.310Z' }));
  await run(['--tasks', '', '--root', 'runs', '--out', 'docs/SURVEY.md']);
  const readme = readFileSync('README.md', 'utf8');

  expect(readme).not.toContain('old');
  expect(readme).toContain('rest');
  expect(readme).toContain('<!-- RESULTS:START -->\nstudy\n<!-- RESULTS:END -->'); // the study's block is not the survey's
  expect(readme).toContain("### The survey at the paper's τ = 1");
  const rows = readme.split('\n').filter((l) => l.startsWith('| vqa'));
  expect(rows).toHaveLength(2);
  expect(rows[0]).toMatch(/^\| vqa \(accuracy, %\) \| 2 \| 4\.0× \| 60\.0 \| 31\.3 ± 1\.5 \|/);
  expect(rows[1]).toMatch(/^\| vqa \(accuracy, %\) \| 4 \|/);
  expect(rows[0].split('|')).toHaveLength(Object.keys(VARIANTS).length + 6); // task, heads, speed-up, teacher, variants, and the two outer bars
  expect(readme).toMatch(/vqa, 2 heads: AMAD kl is above gt-only \(Δ \+19\.7, p < 0\.001\).*\*\*not above\*\* one-to-one \(Δ -5\.3, p 0\.0\d\d\)/);
  // Both head counts hold the same numbers: one-to-one is above AMAD kl (p ≈ 0.026) in both settings.
  expect(readme).toContain('Over the 2 settings (task × student heads)');
  expect(readme).toContain('one-to-one: above in 0 of 2 (significantly in 0; significantly **below** in 2)');
  expect(readme).toContain('gt-only: above in 2 of 2 (significantly in 2)');
  expect(readme).toContain('mean-head: above in 2 of 2 (significantly in 0)');
  expect(readme).toMatch(/significant \(p < 0\.05\) over gt-only, logit-kd, minilmv2\./);
  expect(readme).toContain('- Not finished yet: captioning, translation.');
  expect(readme).toContain('![vqa survey](docs/survey-vqa.svg)');
  const results = readFileSync('docs/SURVEY.md', 'utf8');
  expect(results).toContain('[SURVEY-quick.md](SURVEY-quick.md)');
  expect(results).toContain('its results are [RESULTS.md](RESULTS.md)');
  expect(results).toContain('Trained at commit abc1234 (started 2026-11-27T09:52:49.310Z).');
  // The full experiment's report is copied beside the results file and linked relatively.
  expect(results).toContain('Report: [reports/experiments-vqa.html](reports/experiments-vqa.html)');
  expect(readFileSync('docs/reports/experiments-vqa.html', 'utf8')).toBe('<html>vqa report</html>');
});
