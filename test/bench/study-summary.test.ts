/**
 * The study's analysis from hand-made block results with known numbers: τ chosen on validation
 * (ties to τ = 1), paired differences with intervals, Holm over the primary claims, every
 * per-seed value printed, partial results marked partial, the results block replaced in place.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { commitStage, runLayout, runUriFor, Stage, studentModelId, TEACHER_MODEL_ID } from '../../contract/layout';
import { toUri } from '../../contract/storage';
import { finalValidation, meanRowEntropy, sigmaCheck, summariseStudy } from '../../bench/study-summary';
import { amadName, blockRunId, studyBlockSpec, studyPhase } from '../../bench/study-spec';

const evalJson = (modelId: string, accuracy: number) => ({
  version: 1,
  modelId,
  task: 'vqa',
  split: 'test',
  count: 1,
  metrics: { accuracy },
  primaryMetric: 'accuracy',
  metricNotes: { accuracy: 'exact match' },
  perExampleMetric: 'accuracy',
  perExample: [{ id: 'a', score: 1, prediction: 'red' }],
  perExampleTruncated: false,
  decoding: null,
  model: { uri: 'file:///m', sha256: '0'.repeat(64) },
  cost: { params: 1, flops: 1, weightBytes: 1, latency: { backend: 'cpu', warmup: 0, runs: 1, batch1: { p50: 1, p95: 1, mean: 1 }, batch32: { p50: 1, p95: 1, mean: 1 } }, notes: [] },
  evaluatedAt: '2026-12-06T00:00:00.000Z',
});

let root: string;
let out: string;
beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'study-sum-'));
  out = path.join(root, 'docs', 'STUDY.md');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Block b of vqa-primary with test = base[student] + seed-effect and the given validation scores. */
async function writeBlock(b: number, test: (student: string, seed: number) => number, val: (student: string, seed: number) => number) {
  const p = studyPhase('vqa-primary');
  const runUri = runUriFor(toUri(root), blockRunId(p, b));
  const layout = runLayout(runUri);
  const put = (uri: string, text: string) => {
    mkdirSync(path.dirname(fileURLToPath(uri)), { recursive: true });
    writeFileSync(fileURLToPath(uri), text);
  };
  put(layout.evalFile(TEACHER_MODEL_ID), JSON.stringify(evalJson('teacher', 0.5)));
  for (const s of studyBlockSpec(p, b, root).students) {
    for (const seed of s.seeds!) {
      const id = studentModelId(s.name, seed);
      put(layout.evalFile(id), JSON.stringify(evalJson(id, test(s.name, seed))));
      const w = s.name.includes('t0p03') ? [[0.99, 0.01]] : [[0.5, 0.5]];
      // τ = 0.03 also logs per-example entropies (0.2 and 0.8: the batch mean hides them).
      const stats = s.name.includes('t0p03') ? { alignmentStats: { 'fusionSelf/0<-0': { entropy: [0.2, 0.8], examples: [], studentCosine: [] } } } : {};
      const aligned = s.name.startsWith('amad-kl') ? [JSON.stringify({ step: 1, alignment: { 'fusionSelf/0<-0': w }, ...stats })] : [];
      put(layout.trainLog(id), [...aligned, JSON.stringify({ step: 600, val: { accuracy: val(s.name, seed), loss: 1 } })].join('\n') + '\n');
    }
  }
  await commitStage(runUri, Stage.report, []);
}

test('helpers: final validation score and row entropy', () => {
  expect(finalValidation('{"step":1,"val":{"accuracy":0.1}}\n{"step":2}\n{"step":3,"val":{"accuracy":0.3}}\n')).toBe(0.3);
  expect(meanRowEntropy([[0.5, 0.5]])).toBeCloseTo(1, 12);
  expect(meanRowEntropy([[1, 0]])).toBe(0);
});

test('τ chosen on validation, paired Δ with intervals, Holm, per-seed values, partial marked', async () => {
  // τ = 0.1 has the best validation mean; on test it is 2 points above one-to-one on every seed (± noise).
  const base: Record<string, number> = { [amadName(1, 2)]: 0.44, [amadName(0.3, 2)]: 0.45, [amadName(0.1, 2)]: 0.46, [amadName(0.03, 2)]: 0.45, 'one-to-one-h2': 0.44, 'mean-head-h2': 0.45, 'minilmv2-h2': 0.46 };
  const noise = (s: string, seed: number) => (((seed * 7 + s.length * 3) % 5) - 2) / 1000;
  const test = (s: string, seed: number) => base[s]! + seed / 100 + noise(s, seed);
  const val = (s: string) => (s === amadName(0.1, 2) ? 0.5 : 0.4);
  for (const b of [0, 1]) await writeBlock(b, test, val);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, '# Study\n\nprotocol text\n\n<!-- STUDY-RESULTS:START -->\nold\n<!-- STUDY-RESULTS:END -->\n\ntail\n');
  const readme = path.join(path.dirname(out), '..', 'README.md');
  writeFileSync(readme, '# amad\n\n<!-- RESULTS:START -->\nold table\n<!-- RESULTS:END -->\n\nafter\n');
  await summariseStudy({ root, phases: [studyPhase('vqa-primary')], out, command: 'npm run study -- --summarise-only', plotsDir: path.dirname(out), readme });
  const md = readFileSync(out, 'utf8');
  expect(md.startsWith('# Study\n\nprotocol text\n\n<!-- STUDY-RESULTS:START -->')).toBe(true);
  expect(md).not.toContain('\nold\n');
  expect(md.trimEnd().endsWith('<!-- STUDY-RESULTS:END -->\n\ntail')).toBe(true);
  expect(md).toContain('### vqa-primary — PARTIAL: 4 of 12 planned seeds');
  expect(md).toContain('**τ selected on validation**: amad-kl-t0p1-h2 (best validation mean)');
  // τ*=0.1 vs one-to-one: +2 points on each seed up to the noise; computed independently here.
  const d = [0, 1, 2, 3].map((seed) => test(amadName(0.1, 2), seed) - test('one-to-one-h2', seed));
  const mean = d.reduce((a, b) => a + b, 0) / 4;
  expect(md).toMatch(new RegExp(`\\| amad-kl-t0p1-h2 − one-to-one-h2 \\| 4 \\| \\+${(mean * 100).toFixed(2)} \\|`));
  // Holm over 9 claims: captioning and translation have no results (p = 1) and say so.
  expect(md).toContain('p_Holm over the 9 primary claims');
  expect(md).toContain('### captioning-primary — PARTIAL: 0 of 12 planned seeds');
  // Per-seed values: validation / test for every student and seed.
  expect(md).toMatch(/\| amad-kl-t0p03-h2 \| 40\.0 \/ 45\.\d\d \|.*\| 0\.081 \| 0\.500 \|/);
  expect(md).toMatch(/\| amad-kl-t1-h2 \|.*\| 1\.000 \| – \|/);
  expect(md).toMatch(/\| one-to-one-h2 \| 40\.0 \/ 4\d\.\d\d \| 40\.0 \/ 4\d\.\d\d \| 40\.0 \/ 4\d\.\d\d \| 40\.0 \/ 4\d\.\d\d \| 4\d\.\d\d \| – \|/);
  expect(md).toContain('| amad-kl-t0p1-h2 − minilmv2-h2 | 4 |');
  expect(md).toMatch(/minilmv2-h2 \| 4 \| [-+]0\.\d\d \| .* \| none yet, n = 4 of 12 \(the rule would say: tie within ±1\.5 points\) \|/);
  expect(md).toMatch(/one-to-one-h2 \| 4 \| .* \| none yet, n = 4 of 12 \(the rule would say: \*\*AMAD wins\*\*\) \|/);
  expect(existsSync(path.join(path.dirname(out), 'study-vqa-primary.svg'))).toBe(true);
  // The README's verdict table: one row per primary task, partial ones without a verdict, links relative to the README.
  const rd = readFileSync(readme, 'utf8');
  expect(rd).not.toContain('old table');
  expect(rd.trimEnd().endsWith('<!-- RESULTS:END -->\n\nafter')).toBe(true);
  expect(rd).toMatch(new RegExp(`\\| vqa \\(accuracy, points\\) \\| 4 of 12 \\| τ = 0\\.1 \\| \\+${(mean * 100).toFixed(2)} \\[[^\\]]+\\], p_Holm [0-9.<]+[^|]*: no verdict at n = 4 of 12 \\|`));
  expect(rd).toContain('| captioning | 0 of 12 | – | no complete seeds yet | no complete seeds yet | no complete seeds yet |');
  expect(rd).toContain(`[${path.relative(path.dirname(readme), out)}](${path.relative(path.dirname(readme), out)})`);
  expect(rd).toContain(`![study-vqa-primary](${path.relative(path.dirname(readme), path.join(path.dirname(out), 'study-vqa-primary.svg'))})`);
});

test('a tie on validation goes to τ = 1', async () => {
  const r2 = mkdtempSync(path.join(os.tmpdir(), 'study-tie-'));
  try {
    const old = root;
    root = r2;
    await writeBlock(0, () => 0.4, () => 0.42);
    const file = path.join(r2, 'S.md');
    await summariseStudy({ root: r2, phases: [studyPhase('vqa-primary')], out: file, command: 'x' });
    expect(readFileSync(file, 'utf8')).toContain("**τ selected on validation**: amad-kl-t1-h2 (4 candidates tied at the best validation mean: the paper's setting wins the tie)");
    root = old;
  } finally {
    rmSync(r2, { recursive: true, force: true });
  }
});

describe('sigmaCheck: the protocol seed-count rule', () => {
  const claim = (baseline: string, std: number, n: number) => ({ task: 'vqa', a: 'amad-kl-t0p1-h2', baseline, seeds: Array.from({ length: n }, (_, i) => i), meanDiff: 0.001, std, lo: -0.01, hi: 0.01, p: 0.5 });
  test('VQA: all σ_d ≤ 1.2 points keeps n; any above raises it to 17; fewer than 4 seeds waits', () => {
    expect(sigmaCheck([claim('one-to-one-h2', 0.0084, 8), claim('mean-head-h2', 0.0105, 8)], 'vqa', 100)).toBe(
      'σ_d of the paired differences over 8 seeds: 0.84 (one-to-one-h2), 1.05 (mean-head-h2) — all ≤ 1.2: n stays as planned.',
    );
    expect(sigmaCheck([claim('one-to-one-h2', 0.0084, 4), claim('mean-head-h2', 0.0125, 4)], 'vqa', 100)).toMatch(/above 1\.2: n is raised to 17 \(protocol\)\.$/);
    expect(sigmaCheck([claim('one-to-one-h2', 0.02, 3)], 'vqa', 100)).toBe('σ_d re-estimate: after 4 complete seeds.');
  });
  test('captioning: σ_d reported, no threshold applied', () => {
    expect(sigmaCheck([{ ...claim('one-to-one-h2', 0.031, 6), task: 'captioning' }], 'captioning', 1)).toBe('σ_d of the paired differences over 6 seeds: 0.03 (one-to-one-h2).');
  });
});
