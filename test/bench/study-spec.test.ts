/** The study's specs: valid, paired by design, and frozen once their runs started. */
import { createHash } from 'node:crypto';
import { parseJobSpec } from '../../contract/spec';
import { phaseBlocks, STUDY_PHASES, STUDY_SECONDARY_PHASES, studyBlockSpec, studyPhase } from '../../bench/study-spec';

test('every block of every phase is a valid job spec with one training process at a time', () => {
  for (const p of [...STUDY_PHASES, ...STUDY_SECONDARY_PHASES]) {
    phaseBlocks(p).forEach((seeds, b) => {
      const s = parseJobSpec(studyBlockSpec(p, b, '/r'));
      expect(s.compute.maxParallelJobs).toBe(1);
      expect(s.students.every((x) => x.seeds.join() === seeds.join())).toBe(true);
      // Validation is the whole validation split (selection), test the large split.
      expect(s.students.every((x) => x.train.evalExamples === 4000)).toBe(true);
    });
  }
});

test('blocks after the first, and phases on the primary teacher, distil the same teacher', () => {
  const p = studyPhase('vqa-primary');
  expect('model' in parseJobSpec(studyBlockSpec(p, 0, '/r')).teacher).toBe(true);
  expect(parseJobSpec(studyBlockSpec(p, 3, '/r')).teacher).toEqual({ checkpoint: '/r/runs/study-vqa-primary-b0/models/teacher' });
  expect(parseJobSpec(studyBlockSpec(studyPhase('vqa-detach'), 0, '/r')).teacher).toEqual({ checkpoint: '/r/runs/study-vqa-primary-b0/models/teacher' });
  // Phases with their own teacher: another seed, or fewer training examples.
  const t1 = parseJobSpec(studyBlockSpec(studyPhase('vqa-teacher-seed-1'), 0, '/r'));
  expect('model' in t1.teacher && t1.teacher.train.seed).toBe(1);
  expect(parseJobSpec(studyBlockSpec(studyPhase('vqa-gap'), 0, '/r')).data).toMatchObject({ train: 2000 });
  expect(parseJobSpec(studyBlockSpec(studyPhase('vqa-one-to-one-subsets'), 0, '/r')).students.map((s) => s.distill.teacherHeads)).toEqual([[2, 3], [4, 5], [6, 7]]);
});

test('the primary phases are frozen: their runs started with exactly these specs (a resumed run refuses a changed spec)', () => {
  const hash = (id: string, b: number) => createHash('sha256').update(JSON.stringify(studyBlockSpec(studyPhase(id), b, '/r'))).digest('hex');
  expect(hash('vqa-primary', 0)).toBe('71d9dbdf36142b657137fe9585f8c9b3728889da123399df33545d8c2432b923');
  expect(hash('vqa-primary', 1)).toBe('a0e5af0aeef53cfe218595690b5c248218290fa38dfa0ca4d4939daa444e9111');
  expect(hash('captioning-primary', 0)).toBe('612505470b26260524226fbc8b0aae4e8ae5619c7fd2d363138b609843cf8a13');
  expect(hash('translation-primary', 0)).toBe('ae39e3e5d557315ac2e88021b194ef085f9003261073d33ed154e7f803fbf0f0');
});
