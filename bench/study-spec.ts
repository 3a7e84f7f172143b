/**
 * The study of docs/STUDY.md, as job specs: when does AMAD (kl) beat one-to-one, mean-head and
 * MiniLMv2 relations, with its temperature τ chosen on the validation split.
 *
 * A phase (one comparison on one task) is split into BLOCKS of seeds; each block is one pipeline
 * run (`study-<phase>-b<k>`) that trains, evaluates and reports on its own, so a study cut short
 * by the end of a session still leaves whole, summarisable seeds. Block 0 trains the teacher;
 * later blocks take block 0's teacher as a checkpoint (the same synthetic data seed gives
 * byte-identical data, so every block distils the same teacher on the same examples).
 *
 * The specs of a phase must never change once its runs have started (a resumed run checks its
 * spec): new factors get new phases.
 */
import * as path from 'node:path';
import type { JobSpecInput } from '../contract/spec';
import type { ArchitectureInput } from '../trainer/model/config';
import type { ExperimentTask } from './experiments-spec';

/** The τ candidates of AMAD kl (τ = 1 is the paper's softmax: the tie-break choice). */
export const STUDY_TEMPERATURES = [1, 0.3, 0.1, 0.03] as const;
/** The paper's τ: chosen when candidates tie on validation. */
export const PAPER_TEMPERATURE = 1;

/** Student name of AMAD kl at τ (dots are not allowed in names: 0.3 → "t0p3"). */
export const amadName = (tau: number, heads: number) => `amad-kl-t${String(tau).replace('.', 'p')}-h${heads}`;

/** The baselines of the primary comparison (name → distillation options). */
export const STUDY_BASELINES = {
  'one-to-one': { variant: 'one-to-one' },
  'mean-head': { variant: 'mean-head' },
  minilmv2: { variant: 'relation' },
} as const;
export type StudyBaseline = keyof typeof STUDY_BASELINES;

/** One student of a phase that is not the primary comparison. */
export interface StudyStudent {
  readonly name: string;
  readonly heads: number;
  readonly distill: { variant: 'kl' | 'one-to-one' | 'mean-head' | 'relation'; temperature?: number; detachWeights?: boolean; relationHeads?: number; teacherHeads?: number[] };
}

export interface StudyPhase {
  readonly id: string;
  readonly task: ExperimentTask;
  /** The students (secondary factors); absent = the primary comparison's (τ candidates + baselines at `heads`). */
  readonly students?: readonly StudyStudent[];
  /** Distil the teacher that this phase's block 0 trained (same data): the phases pair up seed by seed. */
  readonly teacherFrom?: string;
  /** Seed of this phase's own teacher (when it trains one). @default 0 */
  readonly teacherSeed?: number;
  /** Training examples (a wider teacher–student gap with fewer). @default STUDY_DATA.train */
  readonly trainExamples?: number;
  /** Seeds of the phase, run in blocks of `blockSize` in this order. */
  readonly seeds: readonly number[];
  readonly blockSize: number;
  /** Student head count. */
  readonly heads: number;
  readonly studentSteps: number;
  /** One sentence: what the phase tests (STUDY.md quotes it). */
  readonly question: string;
}

/**
 * The data and evaluation sizes. The test split is large so that its sampling noise (binomial SE
 * ≈ 0.5 accuracy points at 10 000 questions; the paired difference of two students on the same
 * questions is smaller still) is small next to the seed-to-seed spread; validation (selection
 * only) is large enough that τ candidates 1 point apart are told apart most of the time.
 */
export const STUDY_DATA = { train: 10000, val: 4000, test: 10000, shardSize: 2500 } as const;

/** The planned phases, cheapest decisive first (docs/STUDY.md "Order"). */
export const STUDY_PHASES: readonly StudyPhase[] = [
  {
    id: 'vqa-primary',
    task: 'vqa',
    seeds: Array.from({ length: 12 }, (_, i) => i),
    blockSize: 2,
    heads: 2,
    studentSteps: 600,
    question: 'VQA, 8-head teacher → 2-head students: AMAD kl with τ chosen on validation vs one-to-one, mean-head, MiniLMv2.',
  },
  {
    id: 'captioning-primary',
    task: 'captioning',
    seeds: Array.from({ length: 12 }, (_, i) => i),
    blockSize: 2,
    heads: 2,
    studentSteps: 600,
    question: 'Captioning, the same comparison.',
  },
  {
    id: 'translation-primary',
    task: 'translation',
    seeds: Array.from({ length: 12 }, (_, i) => i),
    blockSize: 2,
    heads: 2,
    studentSteps: 600,
    question: 'Translation, the same comparison.',
  },
];

const kl = (tau: number, extra: Record<string, unknown> = {}) => ({ variant: 'kl' as const, temperature: tau, ...extra });
const eightSeeds = Array.from({ length: 8 }, (_, i) => i);
const primaryStudents = (h: number): StudyStudent[] => [
  ...STUDY_TEMPERATURES.map((tau) => ({ name: amadName(tau, h), heads: h, distill: kl(tau) })),
  { name: `one-to-one-h${h}`, heads: h, distill: { variant: 'one-to-one' } },
  { name: `mean-head-h${h}`, heads: h, distill: { variant: 'mean-head' } },
  { name: `minilmv2-h${h}`, heads: h, distill: { variant: 'relation', relationHeads: h } },
];

/** A secondary phase: VQA, 8 seeds in blocks of 2, 2-head students unless it says otherwise. */
function secondary(p: Omit<StudyPhase, 'task' | 'seeds' | 'blockSize' | 'heads'> & Partial<Pick<StudyPhase, 'heads'>>): StudyPhase {
  return { task: 'vqa', seeds: eightSeeds, blockSize: 2, heads: 2, ...p };
}

/**
 * Secondary factors (docs/STUDY.md H2), on VQA, 8 seeds each, in the planned order. Those with
 * `teacherFrom: 'vqa-primary'` distil the primary teacher on the same data with the same seeds:
 * each of their students pairs seed by seed with the primary students.
 */
export const STUDY_SECONDARY_PHASES: readonly StudyPhase[] = [
  secondary({
    id: 'vqa-detach',
    studentSteps: 600,
    teacherFrom: 'vqa-primary',
    students: STUDY_TEMPERATURES.map((tau) => ({ name: amadName(tau, 2).replace(/-h2$/, '-detach-h2'), heads: 2, distill: kl(tau, { detachWeights: true }) })),
    question: 'VQA: AMAD kl at each τ with detachWeights (no gradient through a_ij), against the same τ without it (vqa-primary).',
  }),
  secondary({
    id: 'vqa-heads',
    studentSteps: 600,
    teacherFrom: 'vqa-primary',
    students: [1, 4, 8].flatMap((h) => [
      { name: amadName(1, h), heads: h, distill: kl(1) },
      { name: amadName(0.1, h), heads: h, distill: kl(0.1) },
      { name: `one-to-one-h${h}`, heads: h, distill: { variant: 'one-to-one' as const } },
      { name: `mean-head-h${h}`, heads: h, distill: { variant: 'mean-head' as const } },
    ]),
    question: 'VQA: student heads 1, 4, 8 (2 is vqa-primary). At 1 head AMAD must equal mean-head up to a constant (sanity check); at 8, one-to-one is the paper\'s standard.',
  }),
  secondary({
    id: 'vqa-long',
    studentSteps: 2000,
    teacherFrom: 'vqa-primary',
    students: [
      { name: 'amad-kl-t1-long-h2', heads: 2, distill: kl(1) },
      { name: 'amad-kl-t0p1-long-h2', heads: 2, distill: kl(0.1) },
      { name: 'one-to-one-long-h2', heads: 2, distill: { variant: 'one-to-one' } },
      { name: 'mean-head-long-h2', heads: 2, distill: { variant: 'mean-head' } },
    ],
    question: 'VQA: students trained 2 000 steps instead of 600 (validation still rises at 600).',
  }),
  secondary({
    id: 'vqa-one-to-one-subsets',
    studentSteps: 600,
    teacherFrom: 'vqa-primary',
    students: [[2, 3], [4, 5], [6, 7]].map((hs) => ({ name: `one-to-one-t${hs.join('')}-h2`, heads: 2, distill: { variant: 'one-to-one' as const, teacherHeads: hs } })),
    question: 'VQA: one-to-one on teacher heads {2,3}, {4,5}, {6,7} (vqa-primary\'s one-to-one takes {0,1}).',
  }),
  ...[1, 2].map(
    (seed): StudyPhase =>
      secondary({
      id: `vqa-teacher-seed-${seed}`,
      studentSteps: 600,
      teacherSeed: seed,
      question: `VQA: the primary comparison with a teacher trained from seed ${seed}.`,
      }),
  ),
  secondary({
    id: 'vqa-gap',
    studentSteps: 600,
    trainExamples: 2000,
    question: 'VQA: the primary comparison on 2 000 training examples (a wider teacher–student gap).',
  }),
];

export function studyPhase(id: string): StudyPhase {
  const all = [...STUDY_PHASES, ...STUDY_SECONDARY_PHASES];
  const p = all.find((x) => x.id === id);
  if (!p) throw new Error(`unknown study phase "${id}" (${all.map((x) => x.id).join(', ')})`);
  return p;
}

/** The seed blocks of a phase, in run order. */
export function phaseBlocks(p: StudyPhase): number[][] {
  const blocks: number[][] = [];
  for (let i = 0; i < p.seeds.length; i += p.blockSize) blocks.push(p.seeds.slice(i, i + p.blockSize));
  return blocks;
}

export const blockRunId = (p: StudyPhase, block: number) => `study-${p.id}-b${block}`;

/** Architecture per task, as in bench/experiments-spec.ts (teacher and students alike). */
function architecture(task: ExperimentTask, width: number, heads: number): ArchitectureInput {
  const h = { vision: heads, fusion: heads, decoder: heads };
  const base = { width, mlpWidth: 4 * width, patchSize: 8, heads: h, dropout: 0 };
  switch (task) {
    case 'vqa':
      return { ...base, fusion: 'single-stream', fusionLayers: 2 } as const;
    case 'captioning':
      return { ...base, fusion: 'single-stream', visionLayers: 2, fusionLayers: 0, decoderLayers: 2 } as const;
    case 'translation':
      return { ...base, fusion: 'two-stream', visionLayers: 1, fusionLayers: 2, decoderLayers: 2 } as const;
  }
}

/**
 * The spec of one block. `root` is the study's artifact root (absolute): later blocks read block
 * 0's teacher from it.
 */
export function studyBlockSpec(p: StudyPhase, block: number, root: string): JobSpecInput {
  const seeds = phaseBlocks(p)[block];
  if (!seeds) throw new Error(`phase ${p.id} has ${phaseBlocks(p).length} blocks; no block ${block}`);
  const h = p.heads;
  const studentTrain = {
    steps: p.studentSteps,
    batchSize: 32,
    lr: 0.003,
    warmupSteps: 50,
    // Validation at the end is the selection metric (τ); the whole validation split is used.
    evalEvery: p.studentSteps / 2,
    evalExamples: STUDY_DATA.val,
    checkpointEvery: 200,
    logAlignmentEvery: 50,
  };
  const kd = { alphaGt: 1, alphaKd: 1, alphaAttn: 1, tauKd: 2 };
  // (Key order matters: a resumed run compares its spec byte for byte.)
  const students = (p.students ?? primaryStudents(h)).map((s) => {
    const { variant, relationHeads, ...rest } = s.distill;
    return { name: s.name, distill: { variant, ...rest, ...kd, ...(relationHeads !== undefined ? { relationHeads } : {}) }, model: architecture(p.task, 32, s.heads), train: studentTrain, seeds: [...seeds] };
  });
  const ownTeacher = p.teacherFrom === undefined;
  const teacher: JobSpecInput['teacher'] =
    ownTeacher && block === 0
      ? { model: architecture(p.task, 64, 8), train: { steps: 2000, batchSize: 32, lr: 0.003, warmupSteps: 100, evalEvery: 500, evalExamples: 1000, checkpointEvery: 500, seed: p.teacherSeed ?? 0 } }
      : { checkpoint: path.join(root, 'runs', blockRunId(ownTeacher ? p : studyPhase(p.teacherFrom!), 0), 'models', 'teacher') };
  return {
    version: 1,
    runId: blockRunId(p, block),
    data: { format: 'synthetic', task: p.task, seed: 11, ...STUDY_DATA, ...(p.trainExamples ? { train: p.trainExamples } : {}), imageSize: 32, maxTextLength: 12, maxTargetLength: 14 },
    teacher,
    students,
    cache: { enabled: true, dtype: 'float16', shardSize: STUDY_DATA.shardSize },
    // Latency is not studied here (measured under load it would be noise): the minimum.
    evaluation: { split: 'test', latency: { warmup: 1, runs: 2 } },
    // One training process at a time: the machine's other core belongs to others.
    compute: { maxParallelJobs: 1 },
  };
}
