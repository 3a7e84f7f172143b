/**
 * manifest.json: the table of contents of a prepared dataset, written LAST by prepare-data, so
 * its presence means every file it lists was complete when it was written; each file's sha256
 * lets a reader prove it still is. Readers parse it with this schema (it is external input).
 *
 *     <out>/tokenizer.json                 the tokenizer (tokenizer.ts, toJSON)
 *     <out>/<split>/images-00000.bin …     image records, one per image (shard-format.ts)
 *     <out>/<split>/shard-00000-000.bin …  example records, each pointing into one image shard
 *     <out>/<split>/references.json        {id: [reference, …]} for evaluation (VQA: the human answers as written)
 *     <out>/manifest.json                  this file
 *
 * Captioning records: the train split holds one record per (image, caption) pair with id
 * "<imageId>#<k>", so training sees every reference as a target; val and test hold one record
 * per image (id = image id, target = its first reference) and evaluation reads all references
 * from references.json. Translation: one record per sentence pair; references.json holds the
 * untokenised target. When a source has no test split, `test` lists the val shards (`sameAs`).
 */
import { z } from 'zod';
import { FIELD_NAMES } from './shard-format';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const ShardEntrySchema = z.strictObject({
  /** Path relative to the dataset folder. */
  file: z.string(),
  count: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  sha256: Sha256,
  /** Example shards: the image shard (relative path, listed in the split's imageShards) its records' imageIndex points into. */
  images: z.string().optional(),
});
export type ShardEntry = z.infer<typeof ShardEntrySchema>;

export const SplitEntrySchema = z.strictObject({
  /** Records (examples) in the split. */
  examples: z.number().int().nonnegative(),
  /** Distinct images. */
  images: z.number().int().nonnegative(),
  /** Example shards, in example order. */
  shards: z.array(ShardEntrySchema),
  /** Image shards (each image stored once per split). */
  imageShards: z.array(ShardEntrySchema),
  references: z.strictObject({ file: z.string(), sha256: Sha256 }).optional(),
  /** Set when this split reuses another split's files (a source without a test split). */
  sameAs: z.enum(['train', 'val', 'test']).optional(),
  /** Token statistics of the split. */
  tokens: z.strictObject({
    text: z.number().int().nonnegative(),
    target: z.number().int().nonnegative(),
    unknown: z.number().int().nonnegative(),
    truncatedTexts: z.number().int().nonnegative(),
    truncatedTargets: z.number().int().nonnegative(),
  }),
  /** VQA: fraction of the split's examples whose label answer has a class. */
  answerCoverage: z.number().optional(),
});
export type SplitEntry = z.infer<typeof SplitEntrySchema>;

/** The majority-class baseline of VQA: always answer the most frequent training label. */
export const MajorityBaselineSchema = z.strictObject({
  answer: z.string(),
  /** Share of training questions whose label it is. */
  trainFraction: z.number(),
  /** Its mean soft score (VQA accuracy, min(#annotators/3, 1)) on the test split. */
  testAccuracy: z.number(),
});
export type MajorityBaseline = z.infer<typeof MajorityBaselineSchema>;

const FieldSchema = z.strictObject({
  name: z.enum(FIELD_NAMES),
  dtype: z.enum(['uint8', 'int32', 'float32']),
  shape: z.array(z.number().int().positive()),
  offset: z.number().int().nonnegative(),
});

/**
 * Version 2: images stored once (image shards + example shards that reference them). Version 1
 * stored each image in every example record; readers refuse it with the fix (re-prepare).
 */
export const MANIFEST_VERSION = 2;
const LayoutSchema = z.strictObject({ recordSize: z.number().int().positive(), fields: z.array(FieldSchema) });

export const ManifestSchema = z.strictObject({
  version: z.literal(MANIFEST_VERSION),
  task: z.enum(['vqa', 'captioning', 'translation']),
  /** What was prepared: the synthetic generator's seed and counts, or the public layout's files. */
  source: z.record(z.string(), z.unknown()),
  imageSize: z.number().int().positive(),
  maxTextLength: z.number().int().positive(),
  maxTargetLength: z.number().int().positive(),
  /** Example-record layout. */
  layout: LayoutSchema,
  /** Image-record layout. */
  imageLayout: LayoutSchema,
  /** Per-channel mean and std of training pixels on the [0, 1] scale (the reader normalises with them). */
  pixelStats: z.strictObject({ mean: z.tuple([z.number(), z.number(), z.number()]), std: z.tuple([z.number(), z.number(), z.number()]) }),
  tokenizer: z.strictObject({ file: z.string(), kind: z.enum(['word', 'wordpiece']), vocabSize: z.number().int().positive(), sha256: Sha256 }),
  /**
   * VQA answer classes (index = class; normalised answers), the majority-class baseline, and
   * each class's surface form: its most frequent raw form among the training annotations, in
   * which predictions are written (the official scorer compares raw strings when the annotators
   * are unanimous). Absent in data prepared before it existed: the classes are used as written.
   */
  answers: z
    .strictObject({ vocab: z.array(z.string()), surfaceForms: z.array(z.string()).optional(), majority: MajorityBaselineSchema })
    .refine((a) => a.surfaceForms === undefined || a.surfaceForms.length === a.vocab.length, {
      message: 'answers.surfaceForms must have one entry per answers.vocab class: re-run prepare-data',
      path: ['surfaceForms'],
    })
    .optional(),
  splits: z.strictObject({ train: SplitEntrySchema, val: SplitEntrySchema, test: SplitEntrySchema }),
  skipped: z.strictObject({
    missingImages: z.number().int().nonnegative(),
    badImages: z.number().int().nonnegative(),
    /** The first skipped items with the reason (capped; the counts above are complete). */
    items: z.array(z.strictObject({ split: z.string(), id: z.string(), reason: z.string() })),
  }),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export const MANIFEST_FILE = 'manifest.json';
export const TOKENIZER_FILE = 'tokenizer.json';
/** Skipped items listed by name in the manifest (all are counted). */
export const MAX_LISTED_SKIPS = 100;
