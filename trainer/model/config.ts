/**
 * The one object that configures a model of the family (teacher and student alike).
 *
 * Two fusion styles, like the paper's two model families:
 * - `single-stream` (VL-T5's encoder): image patches and text tokens are concatenated into one
 *   sequence `[patches ; tokens]` and run through `fusionLayers` joint self-attention blocks,
 *   after `visionLayers` image-only blocks.
 * - `two-stream` (BLIP): a ViT image encoder of `visionLayers` blocks, then `fusionLayers` text
 *   blocks that self-attend over the text and cross-attend (text→image) to the image features.
 * An optional decoder (`decoderLayers` > 0) with causal self-attention and cross-attention to
 * the encoder output generates text (captioning, translation) through the LM head; the VQA
 * answer classifier (`numAnswers` > 0) reads the pooled encoder output.
 */
import { z } from 'zod';
import type { AttentionKind } from './types';

const positiveInt = (what: string) =>
  z.number({ error: `${what} must be a number` }).int(`${what} must be an integer`).positive(`${what} must be > 0`);
const nonNegativeInt = (what: string) =>
  z.number({ error: `${what} must be a number` }).int(`${what} must be an integer`).nonnegative(`${what} must be ≥ 0`);

export const HeadsSchema = z
  .strictObject({
    /** Heads of the image-only blocks. @default 8 */
    vision: positiveInt('heads.vision').default(8).describe('heads of the image-only blocks'),
    /** Heads of the fusion blocks (joint self-attention; in two-stream also text self and text→image cross). @default 8 */
    fusion: positiveInt('heads.fusion').default(8).describe('heads of the fusion blocks (joint self-attention; two-stream: text self- and text→image cross-attention)'),
    /** Heads of the decoder's causal self-attention and its cross-attention. @default 8 */
    decoder: positiveInt('heads.decoder').default(8).describe('heads of the decoder self- and cross-attention'),
  })
  .describe('Attention heads per stack. Each must divide `width`.');

/**
 * Fields that come from the data (image size, text lengths, vocabulary, answer count): a job
 * spec describes only the architecture and the pipeline completes these from the prepared
 * dataset (trainer/jobs/task.ts fitConfigToData), so they can never disagree with it.
 */
export const DATA_FIELDS = ['imageSize', 'maxTextLength', 'maxTargetLength', 'vocabSize', 'numAnswers'] as const;

const modelShape = {
    /** How image and text meet: one joint encoder, or a ViT plus cross-attending text layers. @default "single-stream" */
    fusion: z.enum(['single-stream', 'two-stream']).default('single-stream').describe('single-stream (VL-T5-like) or two-stream (BLIP-like)'),
    /** Input image side in pixels (square, RGB). @default 32 */
    imageSize: positiveInt('imageSize').default(32).describe('image side in pixels (square RGB input)'),
    /** Patch side in pixels; must divide imageSize. (imageSize/patchSize)² patches. @default 4 */
    patchSize: positiveInt('patchSize').default(4).describe('patch side in pixels; must divide imageSize'),
    /** Model width d. @default 128 */
    width: positiveInt('width').default(128).describe('hidden size d of every block'),
    /** Hidden size of each block's MLP. @default 512 */
    mlpWidth: positiveInt('mlpWidth').default(512).describe('hidden size of the MLP in each block'),
    /** Image-only blocks before fusion (the ViT in two-stream). @default 0 */
    visionLayers: nonNegativeInt('visionLayers').default(0).describe('image-only blocks (the ViT in two-stream)'),
    /** Joint (single-stream) or text (two-stream) blocks. @default 4 */
    fusionLayers: nonNegativeInt('fusionLayers').default(4).describe('joint image+text blocks (single-stream) or text blocks with cross-attention (two-stream)'),
    /** Decoder blocks; 0 = no decoder, no LM head. @default 0 */
    decoderLayers: nonNegativeInt('decoderLayers').default(0).describe('decoder blocks for generation; 0 = no decoder'),
    heads: HeadsSchema.prefault({}),
    /** Token vocabulary size (shared by encoder text and decoder). @default 512 */
    vocabSize: positiveInt('vocabSize').default(512).describe('token vocabulary size, special tokens included'),
    /** Text (question or source sentence) length in tokens, padding included. @default 16 */
    maxTextLength: positiveInt('maxTextLength').default(16).describe('encoder text length in tokens'),
    /** Decoder length in tokens (target without BOS). @default 16 */
    maxTargetLength: positiveInt('maxTargetLength').default(16).describe('decoder length in tokens'),
    /** Answers of the VQA classifier; 0 = no classifier head. @default 0 */
    numAnswers: nonNegativeInt('numAnswers').default(0).describe('VQA answer classes; 0 = no classifier head'),
    /** Dropout rate on attention outputs, MLP outputs and embeddings while training. @default 0.1 */
    dropout: z.number().min(0, 'dropout must be in [0, 1)').lt(1, 'dropout must be in [0, 1)').default(0.1).describe('dropout rate while training'),
};

type Shape = typeof modelShape;
const architectureShape = Object.fromEntries(Object.entries(modelShape).filter(([k]) => !(DATA_FIELDS as readonly string[]).includes(k))) as Omit<Shape, (typeof DATA_FIELDS)[number]>;

/** Checks that do not depend on the data fields. */
function checkArchitecture(c: { width: number; heads: { vision: number; fusion: number; decoder: number }; visionLayers: number; fusionLayers: number; fusion: string }, ctx: z.core.$RefinementCtx): void {
  for (const stack of ['vision', 'fusion', 'decoder'] as const) {
    if (c.width % c.heads[stack] !== 0) {
      ctx.addIssue({ code: 'custom', path: ['heads', stack], message: `heads.${stack} = ${c.heads[stack]} must divide width ${c.width}` });
    }
  }
  if (c.visionLayers + c.fusionLayers === 0) {
    ctx.addIssue({ code: 'custom', path: ['fusionLayers'], message: 'the encoder needs at least one block: set fusionLayers or visionLayers > 0' });
  }
  if (c.fusion === 'two-stream' && c.fusionLayers === 0) {
    ctx.addIssue({ code: 'custom', path: ['fusionLayers'], message: 'two-stream needs fusionLayers > 0 (the text blocks that cross-attend to the image)' });
  }
}

/** The architecture alone (what a job spec gives for a teacher or student). */
export const ArchitectureSchema = z
  .strictObject(architectureShape)
  .superRefine(checkArchitecture)
  .describe('Model architecture; image size, text lengths, vocabulary and answer count come from the prepared data.');
export type ArchitectureInput = z.input<typeof ArchitectureSchema>;
export type Architecture = Readonly<z.output<typeof ArchitectureSchema>>;

export const ModelConfigSchema = z
  .strictObject(modelShape)
  .superRefine((c, ctx) => {
    checkArchitecture(c, ctx);
    if (c.imageSize % c.patchSize !== 0) {
      ctx.addIssue({ code: 'custom', path: ['patchSize'], message: `patchSize ${c.patchSize} must divide imageSize ${c.imageSize}` });
    }
    if (c.numAnswers === 0 && c.decoderLayers === 0) {
      ctx.addIssue({ code: 'custom', path: ['numAnswers'], message: 'the model needs a head: set numAnswers > 0 (VQA) or decoderLayers > 0 (generation)' });
    }
  });

/** Input form (defaults optional). */
export type ModelConfigInput = z.input<typeof ModelConfigSchema>;
/** Validated form (every field present). */
export type ModelConfig = Readonly<z.output<typeof ModelConfigSchema>>;

/** Thrown for invalid configuration; the message lists every problem with its field path. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: readonly { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Formats zod issues as `path: message` lines (the shared style of every config error). */
export function formatIssues(error: z.ZodError, prefix = ''): { path: string; message: string }[] {
  return error.issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)',
    message: i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}: remove or fix the spelling` : i.message,
  }));
}

/** Validates a model config, applying defaults. @throws ConfigError naming every bad field. */
export function parseModelConfig(input: unknown, what = 'model config'): ModelConfig {
  const r = ModelConfigSchema.safeParse(input);
  if (!r.success) {
    const issues = formatIssues(r.error);
    throw new ConfigError(`invalid ${what}:\n` + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'), issues);
  }
  return r.data;
}

/** Number of image patches: (imageSize / patchSize)². */
export function numPatches(c: ModelConfig): number {
  return (c.imageSize / c.patchSize) ** 2;
}

/** How many attention modules of each kind a config has (the length of each `attention[kind]` list). */
export function attentionLayerCounts(config: ModelConfig): Record<AttentionKind, number> {
  return {
    visionSelf: config.visionLayers,
    fusionSelf: config.fusionLayers,
    crossImage: config.fusion === 'two-stream' ? config.fusionLayers : 0,
    decoderSelf: config.decoderLayers,
    decoderCross: config.decoderLayers,
  };
}
