/** The report's mechanism and selection views: per-example a_ij beside the batch mean, entropy, head diversity, absorption, candidate selection. */
import { renderReport } from '../../../trainer/report';
import { absorbed } from '../../../trainer/report/sections';
import { makeReportFixture } from './fixture';

test('absorption: each teacher head goes to the student head with its largest weight', () => {
  expect(absorbed([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])).toBe('s0 ← t0, t2; s1 ← t1, t3');
  expect(absorbed([[0.9, 0.1, 0], [0.8, 0.2, 0]])).toBe('s0 ← t0, t1; s1 ← none; s2 ← none');
});

test('per-example alignments are drawn beside the batch mean, with entropy and head diversity', () => {
  const data = makeReportFixture();
  const a = data.alignment![0]!;
  const ht = a.late.weights.length;
  const hs = a.late.weights[0]!.length;
  const oneHot = Array.from({ length: ht }, (_, i) => Array.from({ length: hs }, (_, j) => (j === i % hs ? 1 : 0)));
  data.alignment![0] = { ...a, lateExamples: [oneHot, oneHot], entropy: { early: 0.99, late: 0.42 }, studentHeadCosine: 0.37 };
  const { html } = renderReport(data);
  expect(html).toContain('Late, example 1 of the batch');
  expect(html).toContain('Late, example 2 of the batch');
  expect(html).toMatch(/per-example a<sub>ij<\/sub> entropy \(1 = uniform\): 0\.990 at step \d+ → 0\.420 at step \d+/);
  expect(html).toContain("student heads' map cosine (1 = copies): 0.370");
  expect(html).toContain('teacher heads absorbed by each student head');
});

test('candidate selection: every candidate with its validation scores, the choice and why', () => {
  const data = makeReportFixture();
  data.selection = [
    {
      student: 'amad',
      metric: data.metrics[0]!.key, // the report's primary metric: shown on its scale
      candidates: [
        { name: 'amad-c0', values: { temperature: 1 }, seeds: [{ seed: 0, score: 0.41 }, { seed: 1, score: 0.43 }], mean: 0.42, paperMatches: 1 },
        { name: 'amad-c1', values: { temperature: 0.1 }, seeds: [{ seed: 0, score: 0.45 }, { seed: 1, score: 0.47 }], mean: 0.46, paperMatches: 0 },
      ],
      selected: 'amad-c1',
      reason: 'best validation mean',
    },
  ];
  const { html, summaryMd } = renderReport(data);
  expect(html).toContain('Candidate selection (validation split)');
  expect(html).toContain('amad-c1 <strong>(selected)</strong>');
  expect(html).toContain('seed 0: 45');
  expect(html).toContain('temperature = 0.1');
  expect(summaryMd).toContain(`- amad: selected **amad-c1** (best validation mean, ${data.metrics[0]!.key}) — amad-c0 (temperature 1): 0.4200; amad-c1 (temperature 0.1): 0.4600`);
  // Without candidates the section is absent.
  expect(renderReport(makeReportFixture()).html).not.toContain('Candidate selection');
});
