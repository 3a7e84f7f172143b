/** Options of one training run (teacher or student), validated once where they enter. */
import { z } from 'zod';

export const TrainOptionsSchema = z
  .strictObject({
    steps: z.number().int().positive().default(600).describe('optimizer steps of the run'),
    batchSize: z.number().int().positive().default(32).describe('examples per step'),
    lr: z.number().positive().default(1e-3).describe('peak learning rate (after warm-up)'),
    warmupSteps: z.number().int().nonnegative().default(50).describe('linear warm-up steps before cosine decay'),
    weightDecay: z.number().nonnegative().default(0.01).describe('AdamW decoupled weight decay on matrices'),
    clipNorm: z.number().nonnegative().default(1).describe('global gradient-norm clip; 0 disables'),
    evalEvery: z.number().int().nonnegative().default(100).describe('validate every N steps (and at the end); 0 = only at the end'),
    evalExamples: z.number().int().positive().default(256).describe('validation examples used during training'),
    checkpointEvery: z.number().int().nonnegative().default(100).describe('checkpoint every N steps (and at the end and on SIGTERM); 0 = only then'),
    seed: z.number().int().nonnegative().default(0).describe('seed of weights init, data order and dropout'),
    logAlignmentEvery: z.number().int().positive().default(50).describe('record mean AMAD alignment weights a_ij every N steps (students)'),
  })
  .describe('Training options of one model');

export type TrainOptions = z.output<typeof TrainOptionsSchema>;
export type TrainOptionsInput = z.input<typeof TrainOptionsSchema>;
