/**
 * The working files of a fanned-out preparation, under `<out>/_prep/` next to the dataset they
 * build. Each step writes its outputs and then one JSON file that says it finished (its commit):
 *
 *     _prep/plan.json                     planPreparation: the source, every chunk (counts, bounds)
 *     _prep/chunks/<split>-<c>.json       planPreparation: the chunk's images and examples (texts, answers)
 *     _prep/vocabulary.json               buildVocabulary: tokenizer + VQA answer classes
 *     _prep/chunks/<split>-<c>.done.json  prepareChunk: the shards it wrote and its statistics
 *     manifest.json                       mergePreparation: written LAST
 *
 * The step functions pass only the dataset URI and a chunk index between them (the Step
 * Functions payload stays a few hundred bytes whatever the dataset size); everything else is
 * read from these files. Every output names the plan it belongs to (`planId`), so a step never
 * mixes a stale output from an earlier plan with a new one.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { joinUri, storageFor, StorageNotFoundError } from '../../../contract/storage';
import { DataError } from '../errors';
import { parseJsonText } from '../json';
import { SPLITS } from '../source';

export const PREP_DIR = '_prep';
export const PLAN_FILE = `${PREP_DIR}/plan.json`;
export const VOCABULARY_FILE = `${PREP_DIR}/vocabulary.json`;

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const count = z.number().int().nonnegative();
const SplitNameSchema = z.enum(SPLITS);

export const SourceExampleSchema = z.strictObject({
  id: z.string(),
  text: z.string(),
  targets: z.array(z.string()),
  answers: z.array(z.string()).optional(),
  label: z.string().optional(),
});
export const SourceImageSchema = z.strictObject({ key: z.string(), uri: z.string(), what: z.string(), examples: z.array(SourceExampleSchema) });

/** A chunk's input: its images in order, each with its examples. */
export const ChunkInputSchema = z.strictObject({ split: SplitNameSchema, chunk: count, images: z.array(SourceImageSchema) });
export type ChunkInput = z.infer<typeof ChunkInputSchema>;

export const ChunkRefSchema = z.strictObject({
  split: SplitNameSchema,
  /** Index of the chunk within its split. */
  chunk: count,
  /** The chunk's input file (relative to the dataset folder). */
  file: z.string(),
  images: count,
  examples: count,
  /** Records the chunk writes (captioning train: one per caption). */
  records: count,
  /** Index of the chunk's first example shard in the split: its shards are shard-<firstShard + k>. */
  firstShard: count,
  /** sha256 of the input file. */
  sha256: Sha256,
});
export type ChunkRef = z.infer<typeof ChunkRefSchema>;

export const PlanSchema = z.strictObject({
  version: z.literal(1),
  /** sha256 of the plan's other fields (which include every chunk input's sha256): later steps' outputs name it. */
  id: Sha256,
  /** The validated data source (defaults applied). */
  source: z.record(z.string(), z.unknown()),
  task: z.enum(['vqa', 'captioning', 'translation']),
  /** For the manifest: the generator seed and counts, or the files read. */
  description: z.record(z.string(), z.unknown()),
  /** True when the source has no test split (val doubles as test). */
  testIsVal: z.boolean(),
  splits: z.partialRecord(SplitNameSchema, z.strictObject({ images: count, examples: count, records: count, shards: count })),
  /** What one chunk may hold, by construction (see planPreparation). */
  bounds: z.strictObject({
    /** The configured cap: chunkShards × shardSize records (a single image with more records gets a chunk alone). */
    recordCap: count,
    /** The largest chunk of this plan: records, images, and the bytes of its image shard and example records. */
    maxRecords: count,
    maxImages: count,
    maxImageShardBytes: count,
    maxExampleBytes: count,
  }),
  /** Every chunk, train first; the Map iterates over their indices. */
  chunks: z.array(ChunkRefSchema),
});
export type Plan = z.infer<typeof PlanSchema>;

export const VocabularySchema = z.strictObject({
  planId: Sha256,
  tokenizer: z.unknown(),
  /** VQA: answer classes (index = class, normalised), each class's surface form, the majority label and its share of training questions. */
  answers: z.strictObject({ vocab: z.array(z.string()), surfaceForms: z.array(z.string()), majority: z.string(), trainFraction: z.number() }).optional(),
});
export type Vocabulary = z.infer<typeof VocabularySchema>;

const ShardEntry = z.strictObject({ file: z.string(), count, bytes: count, sha256: Sha256, images: z.string().optional() });
const TokenStats = z.strictObject({ text: count, target: count, unknown: count, truncatedTexts: count, truncatedTargets: count });

export const ChunkResultSchema = z.strictObject({
  planId: Sha256,
  vocabularyId: Sha256,
  split: SplitNameSchema,
  chunk: count,
  shards: z.array(ShardEntry),
  imageShard: ShardEntry.nullable(),
  /** Images written (after skips). */
  images: count,
  /** Source examples written (VQA: = records). */
  kept: count,
  /** Training split: per-channel sums of pixel values and of their squares, and the pixel count. */
  pixels: z.strictObject({ sum: z.array(z.number()).length(3), sumSq: z.array(z.number()).length(3), count }),
  tokens: TokenStats,
  /** VQA: examples whose label answer has a class; sum of the majority answer's soft scores. */
  covered: count,
  majorityScoreSum: z.number(),
  /** VQA: several different human answers somewhere in the chunk. */
  annotatorsDisagree: z.boolean(),
  /** References by example id (generation: the targets; VQA: every human answer). */
  references: z.record(z.string(), z.array(z.string())),
  skipped: z.strictObject({
    missingImages: count,
    badImages: count,
    items: z.array(z.strictObject({ split: z.string(), id: z.string(), reason: z.string() })),
  }),
});
export type ChunkResult = z.infer<typeof ChunkResultSchema>;

export const chunkInputFile = (split: string, chunk: number): string => `${PREP_DIR}/chunks/${split}-${String(chunk).padStart(5, '0')}.json`;
export const chunkResultFile = (split: string, chunk: number): string => `${PREP_DIR}/chunks/${split}-${String(chunk).padStart(5, '0')}.done.json`;
export const exampleShardFile = (split: string, index: number): string => `${split}/shard-${String(index).padStart(5, '0')}.bin`;
export const imageShardFile = (split: string, chunk: number): string => `${split}/images-${String(chunk).padStart(5, '0')}.bin`;

export const prepUri = (out: string, file: string): string => joinUri(out, file);

/**
 * Reads and validates one of these files. A missing file means the step that writes it has
 * not run (or not finished): the error names the step to run.
 */
export async function readPrepFile<S extends z.ZodType>(uri: string, schema: S, writtenBy: string): Promise<{ value: z.output<S>; sha256: string }> {
  let buf: Buffer;
  try {
    buf = await storageFor(uri).get(uri);
  } catch (e) {
    if (e instanceof StorageNotFoundError) throw new DataError('bad-input', `${uri} not found: run ${writtenBy} first`);
    throw e;
  }
  const parsed = schema.safeParse(parseJsonText(buf.toString('utf8'), uri));
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new DataError('bad-input', `${uri} is not a valid ${writtenBy} output (${issues.join('; ')}); run ${writtenBy} again`);
  }
  return { value: parsed.data, sha256: createHash('sha256').update(buf).digest('hex') };
}

export const readPlan = async (out: string): Promise<Plan> => (await readPrepFile(joinUri(out, PLAN_FILE), PlanSchema, 'planPreparation (the plan step)')).value;
