/**
 * The experiment of the paper, as job specs: for each task, one 8-head teacher and students
 * with fewer heads under every attention objective — ground truth only, + logit KD, +
 * one-to-one, + mean-head, + MiniLMv2 relations, + AMAD kl / mse / token — with the same
 * student size, data, steps and seeds. `quick` shrinks data and steps (the < 20 min version); the
 * full version is sized to finish in about two hours on a 2-core machine (docs/SURVEY.md records
 * the measured time).
 */
import type { JobSpecInput } from '../contract/spec';
import type { ArchitectureInput } from '../trainer/model/config';

export type ExperimentTask = 'vqa' | 'captioning' | 'translation';
export const EXPERIMENT_TASKS: readonly ExperimentTask[] = ['vqa', 'captioning', 'translation'];

/** Variant name → distillation options (the objective of METHOD.md with these weights). */
export const VARIANTS: Record<string, { variant: NonNullable<JobSpecInput['students'][number]['distill']>['variant']; alphaKd: number; alphaAttn: number }> = {
  'gt-only': { variant: 'none', alphaKd: 0, alphaAttn: 0 },
  'logit-kd': { variant: 'none', alphaKd: 1, alphaAttn: 0 },
  'one-to-one': { variant: 'one-to-one', alphaKd: 1, alphaAttn: 1 },
  'mean-head': { variant: 'mean-head', alphaKd: 1, alphaAttn: 1 },
  minilmv2: { variant: 'relation', alphaKd: 1, alphaAttn: 1 },
  'amad-kl': { variant: 'kl', alphaKd: 1, alphaAttn: 1 },
  'amad-mse': { variant: 'mse', alphaKd: 1, alphaAttn: 1 },
  'amad-token': { variant: 'token', alphaKd: 1, alphaAttn: 1 },
};

/** Architecture per task: the fusion style and decoder the task needs (teacher and students alike). */
function architecture(task: ExperimentTask, width: number, heads: number): ArchitectureInput {
  const h = { vision: heads, fusion: heads, decoder: heads };
  const base = { width, mlpWidth: 4 * width, patchSize: 8, heads: h, dropout: 0 };
  switch (task) {
    case 'vqa': // VL-T5-like: one joint encoder over [patches ; question]
      return { ...base, fusion: 'single-stream', fusionLayers: 2 } as const;
    case 'captioning': // a ViT encoder and a text decoder
      return { ...base, fusion: 'single-stream', visionLayers: 2, fusionLayers: 0, decoderLayers: 2 } as const;
    case 'translation': // BLIP-like: source text cross-attends to the image, then a decoder
      return { ...base, fusion: 'two-stream', visionLayers: 1, fusionLayers: 2, decoderLayers: 2 } as const;
  }
}

export interface ExperimentOptions {
  readonly quick: boolean;
  /** Student head counts (the paper's question: fewer heads than the teacher's 8). */
  readonly studentHeads?: readonly number[];
}

/** The experiment's size: what `quick` changes, in one place (the specs and SURVEY.md read it). */
export interface ExperimentBudget {
  readonly train: number;
  readonly val: number;
  readonly test: number;
  readonly shardSize: number;
  readonly teacherSteps: number;
  readonly studentSteps: number;
  readonly studentHeads: readonly number[];
  readonly seeds: readonly number[];
  readonly batchSize: number;
}

export function experimentBudget(o: ExperimentOptions): ExperimentBudget {
  const q = o.quick;
  return {
    train: q ? 2000 : 10000,
    val: q ? 200 : 500,
    test: q ? 300 : 1000,
    shardSize: q ? 1000 : 2500,
    teacherSteps: q ? 400 : 2000,
    studentSteps: q ? 200 : 600,
    studentHeads: o.studentHeads ?? (q ? [2] : [2, 4]),
    seeds: [0, 1, 2],
    batchSize: 32,
  };
}

export function experimentSpec(task: ExperimentTask, o: ExperimentOptions): JobSpecInput {
  const q = o.quick;
  const b = experimentBudget(o);
  const teacherTrain = { steps: b.teacherSteps, batchSize: b.batchSize, lr: 0.003, warmupSteps: q ? 30 : 100, evalEvery: q ? 200 : 500, checkpointEvery: q ? 200 : 500, seed: 0 };
  const studentTrain = { steps: b.studentSteps, batchSize: b.batchSize, lr: 0.003, warmupSteps: q ? 20 : 50, evalEvery: q ? 100 : 200, checkpointEvery: q ? 100 : 200, logAlignmentEvery: q ? 25 : 50 };
  return {
    version: 1,
    runId: `experiments-${task}${q ? '-quick' : ''}`,
    data: { format: 'synthetic', task, seed: 11, train: b.train, val: b.val, test: b.test, imageSize: 32, maxTextLength: 12, maxTargetLength: 14, shardSize: b.shardSize },
    teacher: { model: architecture(task, 64, 8), train: teacherTrain },
    students: b.studentHeads.flatMap((h) =>
      Object.entries(VARIANTS).map(([name, v]) => ({
        name: `${name}-h${h}`,
        model: architecture(task, 32, h),
        distill: { variant: v.variant, alphaGt: 1, alphaKd: v.alphaKd, alphaAttn: v.alphaAttn, tauKd: 2, ...(v.variant === 'relation' ? { relationHeads: h } : {}) },
        train: studentTrain,
        seeds: [...b.seeds],
      })),
    ),
    cache: { enabled: true, dtype: 'float16', shardSize: b.shardSize },
    evaluation: { split: 'test', latency: { warmup: 2, runs: q ? 5 : 20 } },
    compute: { maxParallelJobs: 2 },
  };
}
