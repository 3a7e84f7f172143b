/** Candidate values in a student entry: validation, expansion into students, and the run plan. */
import { planRun } from '../../contract/plan';
import { candidateGroups, parseJobSpec, parseJobSpecText } from '../../contract/spec';
import { ConfigError } from '../../trainer/model/config';

const base = (student: Record<string, unknown>) => ({
  version: 1,
  runId: 'cand',
  data: { format: 'synthetic', task: 'vqa' },
  teacher: { checkpoint: 's3://b/teacher' },
  students: [{ name: 'plain', model: { heads: { fusion: 2 } }, distill: { variant: 'none' }, seeds: [0] }, { model: { heads: { fusion: 2 } }, seeds: [0, 1], ...student }],
});

function issues(input: unknown): string[] {
  try {
    parseJobSpec(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the spec to be rejected');
}

test('a student with candidates becomes one student per combination, named <name>-c<k>', () => {
  const spec = parseJobSpec(base({ name: 'amad', distill: { variant: 'kl', alphaKd: 0.5 }, candidates: { temperature: [1, 0.1], alphaAttn: [1, 2] } }));
  expect(spec.students.map((s) => s.name)).toEqual(['plain', 'amad-c0', 'amad-c1', 'amad-c2', 'amad-c3']);
  const c = spec.students.slice(1);
  expect(c.map((s) => [s.distill.temperature, s.distill.alphaAttn])).toEqual([[1, 1], [1, 2], [0.1, 1], [0.1, 2]]);
  // Everything else of the entry is kept; the other distill fields too.
  expect(c.every((s) => s.distill.alphaKd === 0.5 && s.distill.variant === 'kl' && s.seeds.join() === '0,1')).toBe(true);
  expect(c[2].candidateOf).toEqual({ student: 'amad', index: 2, values: { temperature: 0.1, alphaAttn: 1 } });
  expect(c.some((s) => 'candidates' in s && s.candidates)).toBe(false);
  expect(candidateGroups(spec)).toEqual([{ student: 'amad', candidates: c }]);
});

test('the expanded (normalised) spec parses to itself: Validate writes it and every stage re-reads it', () => {
  const spec = parseJobSpec(base({ name: 'amad', candidates: { variant: ['kl', 'mean-head'], temperature: [1, 0.3] } }));
  const again = parseJobSpecText(JSON.stringify(spec));
  expect(again).toEqual(spec);
});

test('the plan evaluates candidates on validation first; only the others are bound for the test split', () => {
  const spec = parseJobSpec(base({ name: 'amad', candidates: { temperature: [1, 0.1] } }));
  const plan = planRun(spec, 'cand', 'file:///r/runs/cand');
  expect(plan.hasCandidates).toBe(true);
  expect(plan.studentJobs.map((j) => j.modelId)).toEqual(['plain/seed-0', 'amad-c0/seed-0', 'amad-c0/seed-1', 'amad-c1/seed-0', 'amad-c1/seed-1']);
  expect(plan.models.map((m) => m.modelId)).toEqual(['teacher', 'plain/seed-0']);
  expect(plan.candidateModels.map((m) => m.modelId)).toEqual(['amad-c0/seed-0', 'amad-c0/seed-1', 'amad-c1/seed-0', 'amad-c1/seed-1']);
  const none = planRun(parseJobSpec(base({ name: 'amad' })), 'cand', 'file:///r/runs/cand');
  expect([none.hasCandidates, none.candidateModels]).toEqual([false, []]);
});

test('bad candidates are refused with the field and the fix', () => {
  expect(issues(base({ name: 'amad', candidates: { temperature: [1] } }))).toEqual([expect.stringMatching(/students\.1\.candidates\.temperature: .*at least two candidate values/)]);
  expect(issues(base({ name: 'amad', candidates: { temperature: [1, 1] } }))).toEqual([expect.stringMatching(/temperature.*unique/)]);
  expect(issues(base({ name: 'amad', candidates: { temperature: [1, -0.1] } }))).toEqual([expect.stringMatching(/temperature\.1: temperature must be > 0/)]);
  expect(issues(base({ name: 'amad', candidates: {} }))).toEqual([expect.stringMatching(/at least one of variant, temperature, alphaAttn/)]);
  expect(issues(base({ name: 'amad', candidates: { tauKd: [1, 2] } }))).toContainEqual(expect.stringMatching(/students\.1\.candidates.*tauKd/));
  expect(issues(base({ name: 'a'.repeat(38), candidates: { temperature: [1, 0.1] } }))).toEqual([expect.stringMatching(/students\.1\.name: .*over 40 characters: shorten the name/)]);
  // A candidate name must not collide with another student.
  const clash = base({ name: 'plain', candidates: { temperature: [1, 0.1] } });
  clash.students[0].name = 'plain-c1';
  expect(issues(clash)).toEqual([expect.stringMatching(/students\.0\.name: "plain-c1" is the name of a candidate of students\.1/)]);
  expect(issues(base({ name: 'amad', candidates: { temperature: [1, 0.1] }, candidateOf: { student: 'x', index: 0, values: {} } }))).toEqual([
    expect.stringMatching(/candidateOf: a student with candidates cannot itself be a candidate/),
  ]);
});
