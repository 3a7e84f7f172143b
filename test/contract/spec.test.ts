import { ConfigError } from '../../trainer/model/config';
import { hasTeacherCheckpoint, JobSpecSchema, parseJobSpec, parseJobSpecText } from '../../contract/spec';
import { tinySpec } from '../cli/fixtures/tiny-spec';

/** Issues of a failed parse as "path: message" strings. */
function problems(input: unknown): { path: string; message: string }[] {
  try {
    parseJobSpec(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).issues];
  }
  throw new Error('expected the spec to be rejected');
}

test('applies defaults to a minimal spec', () => {
  const spec = parseJobSpec({
    version: 1,
    data: { format: 'synthetic', task: 'vqa' },
    teacher: { checkpoint: 's3://b/teacher' },
    students: [{ name: 's', model: { heads: { fusion: 2 } } }],
  });
  expect(spec.students[0].distill).toEqual({ variant: 'kl', temperature: 1, detachWeights: false, alphaGt: 1, alphaKd: 1, alphaAttn: 1, tauKd: 1 });
  expect(spec.students[0].seeds).toEqual([0]);
  expect(spec.students[0].train.steps).toBeGreaterThan(0);
  expect(spec.cache).toEqual({ enabled: true, dtype: 'float16', shardSize: 256 });
  expect(spec.evaluation).toMatchObject({ split: 'test', beamSize: 1, latency: { warmup: 3, runs: 20 } });
  expect(spec.compute.maxParallelJobs).toBe(2);
  expect(hasTeacherCheckpoint(spec)).toBe(true);
});

test('a teacher to train gets its model and train options validated', () => {
  const spec = parseJobSpec(tinySpec());
  expect(hasTeacherCheckpoint(spec)).toBe(false);
  expect('model' in spec.teacher && spec.teacher.model.heads.fusion).toBe(4);
});

test('reports every problem with its path, not just the first', () => {
  const bad = tinySpec({ version: 2 as 1 });
  (bad as Record<string, unknown>).unknownTop = true;
  bad.students = [
    { name: 'dup', model: { width: 10, heads: { fusion: 4 } }, distill: { variant: 'cosine' as 'kl', temperature: 0 } },
    { name: 'dup', model: {}, seeds: [1, 1] },
  ];
  bad.evaluation = { split: 'train' as 'val' };
  const paths = problems(bad).map((p) => p.path);
  expect(paths).toEqual(
    expect.arrayContaining([
      'version',
      '(root)',
      'students.0.model.heads.fusion',
      'students.0.distill.variant',
      'students.0.distill.temperature',
      'students.1.name',
      'students.1.seeds',
      'evaluation.split',
    ]),
  );
  const dup = problems(bad).find((p) => p.path === 'students.1.name');
  expect(dup?.message).toMatch(/duplicate student name "dup".*students\.0\.name/);
});

test('teacher errors come from the branch the user meant (no bare "Invalid input")', () => {
  const wrongCheckpoint = problems(tinySpec({ teacher: { checkpoint: 42 as unknown as string } }));
  expect(wrongCheckpoint).toEqual([{ path: 'teacher.checkpoint', message: expect.stringMatching(/string/) }]);
  const badModel = problems(tinySpec({ teacher: { model: { width: 16, heads: { vision: 2, fusion: 3, decoder: 2 } } } }));
  expect(badModel).toEqual([{ path: 'teacher.model.heads.fusion', message: 'heads.fusion = 3 must divide width 16' }]);
});

test('relationHeads is only accepted with the relation variant', () => {
  const spec = tinySpec();
  spec.students[0].distill = { variant: 'kl', relationHeads: 4 };
  expect(problems(spec)).toEqual([{ path: 'students.0.distill.relationHeads', message: expect.stringMatching(/only applies to variant "relation"/) }]);
  spec.students[0].distill = { variant: 'relation', relationHeads: 4 };
  expect(parseJobSpec(spec).students[0].distill.relationHeads).toBe(4);
});

test('run ids and student names must be usable as paths and execution names', () => {
  expect(problems(tinySpec({ runId: 'has space' })).map((p) => p.path)).toEqual(['runId']);
  expect(problems(tinySpec({ runId: 'x'.repeat(65) })).map((p) => p.path)).toEqual(['runId']);
  const spec = tinySpec();
  spec.students[0].name = '../escape';
  expect(problems(spec).map((p) => p.path)).toEqual(['students.0.name']);
});

test('parseJobSpecText names the file when the JSON is malformed', () => {
  expect(() => parseJobSpecText('{ "version": 1,', 'jobs/x.json')).toThrow(/invalid jobs\/x\.json: not JSON/);
});

test('the layer map accepts the named schemes and explicit pairs per attention kind only', () => {
  const spec = tinySpec();
  spec.students[0].distill = { layerMap: { fusionSelf: [[0, 1]] } };
  expect(parseJobSpec(spec).students[0].distill.layerMap).toEqual({ fusionSelf: [[0, 1]] });
  spec.students[0].distill = { layerMap: 'middle' as 'last' };
  expect(JobSpecSchema.safeParse(spec).success).toBe(false);
});

test('a missing students list is reported as missing (not a crash of the duplicate check)', () => {
  const spec = tinySpec() as Record<string, unknown>;
  delete spec.students;
  expect(problems(spec).map((p) => p.path)).toEqual(['students']);
});
