/**
 * Where a run's examples come from: one zod schema, discriminated on `format`, shared by the
 * job spec (contract/spec.ts), the prepare-data Lambda and the CLI. Paths are local paths,
 * file:// or s3:// URIs (read through contract/storage). Every field carries `.describe()`:
 * the configuration reference is generated from it.
 */
import { z } from 'zod';
import { ConfigError, formatIssues } from '../model/config';

const Uri = z.string().min(1, 'must be a non-empty path or URI');
const positiveInt = z.number().int().positive();

export const TokenizerOptionsSchema = z
  .strictObject({
    minCount: positiveInt.default(1).describe('Words seen fewer times than this in the training split map to [UNK].'),
    maxVocab: positiveInt
      .default(10000)
      .describe('Vocabulary size cap, special tokens included (the most frequent training words are kept; ties alphabetical).'),
    lowercase: z.boolean().default(true).describe('Lower-case text before tokenising (and strip accents for a WordPiece vocabulary).'),
    wordpieceVocab: Uri.optional().describe(
      'A BERT-style WordPiece vocab.txt (one token per line, "##" marks continuations). When set it replaces the word vocabulary built from the data.',
    ),
  })
  .describe('How text becomes token ids (one vocabulary for questions, source sentences and targets).');

/** Fields every format shares. */
const common = {
  imageSize: positiveInt.default(32).describe('Side in pixels of the stored square RGB images (centre-cropped, then resized).'),
  maxTextLength: positiveInt.default(16).describe('Encoder text length in tokens (question or source sentence); longer text is truncated, shorter padded.'),
  maxTargetLength: positiveInt
    .default(16)
    .describe('Decoder length in tokens: a target is stored as [BOS] + up to maxTargetLength-1 tokens + [EOS], padded to maxTargetLength+1.'),
  tokenizer: TokenizerOptionsSchema.prefault({}),
  answerVocabSize: positiveInt
    .default(3129)
    .describe('VQA: the K most frequent (normalised) training answers form the answer classes; other answers get no class.'),
  shardSize: positiveInt.default(1024).describe('Records per shard file.'),
  chunkShards: positiveInt
    .default(4)
    .describe(
      'Preparation fans out over chunks of whole images: a chunk holds at most chunkShards × shardSize records and their images, so one chunk step decodes at most that many images and holds at most that many records plus their images (imageSize² × 3 bytes each) in memory.',
    ),
  skipMissingImages: z
    .boolean()
    .default(false)
    .describe('Skip examples whose image file is missing (counted in the manifest) instead of failing.'),
  skipBadImages: z.boolean().default(false).describe('Skip examples whose image cannot be decoded (counted in the manifest) instead of failing.'),
};

/** A path/URI per split; `test` is optional and, when absent, the val split doubles as test. */
const perSplit = (what: string) =>
  z
    .strictObject({
      train: Uri.describe(`${what} of the training split.`),
      val: Uri.describe(`${what} of the validation split.`),
      test: Uri.optional().describe(`${what} of the test split (absent: val doubles as test).`),
    })
    .describe(`${what} per split.`);

export const SyntheticSourceSchema = z
  .strictObject({
    format: z.literal('synthetic').describe('The built-in "shapes" world, generated from a seed.'),
    task: z.enum(['vqa', 'captioning', 'translation']).describe('Which task the generator produces.'),
    seed: z.number().int().nonnegative().default(0).describe('Generator seed: the same seed gives byte-identical data.'),
    train: positiveInt.default(2000).describe('Training examples (images).'),
    val: positiveInt.default(500).describe('Validation examples (images).'),
    test: positiveInt.default(500).describe('Test examples (images).'),
    ...common,
  })
  .describe('Synthetic shapes world (VQA, captioning or English→German-like translation).');

export const VqaV2SourceSchema = z
  .strictObject({
    format: z.literal('vqa-v2').describe('VQA v2 layout: questions and annotations JSON plus COCO images.'),
    questions: perSplit('v2_OpenEnded_mscoco_<split>2014_questions.json'),
    annotations: perSplit('v2_mscoco_<split>2014_annotations.json'),
    images: perSplit('Image folder (or S3 prefix)'),
    imagePattern: z
      .string()
      .default('COCO_{split}2014_{id:12}.jpg')
      .describe('Image file name inside the split folder: {split} = train/val/test, {id} = image id, {id:N} = id zero-padded to N digits.'),
    ...common,
  })
  .describe('VQA v2 (answer classification with soft scores min(#annotators/3, 1)).');

export const CocoCaptionsSourceSchema = z
  .strictObject({
    format: z.literal('coco-captions').describe('COCO captions: official captions_<split>2014.json files or the Karpathy dataset_coco.json.'),
    captions: perSplit('captions_<split>2014.json').optional().describe('Official layout: one captions JSON per split (give this or karpathy).'),
    karpathy: Uri.optional().describe('Karpathy layout: dataset_coco.json with a split per image; "restval" joins train (give this or captions).'),
    images: z
      .union([Uri, perSplit('Image folder')])
      .describe('Official layout: a folder per split ({train, val}) or one folder; Karpathy layout: the root holding <filepath>/<filename>.'),
    ...common,
  })
  .superRefine((s, ctx) => {
    if ((s.captions === undefined) === (s.karpathy === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['captions'], message: 'give exactly one of captions (official layout) or karpathy (dataset_coco.json)' });
    }
  })
  .describe('COCO captioning.');

const Multi30kSplitSchema = z
  .strictObject({
    source: Uri.describe('Source-language sentences, one per line (e.g. train.en).'),
    target: Uri.describe('Target-language sentences, one per line, parallel to source (e.g. train.de).'),
    imageList: Uri.describe('Image file names, one per line, parallel to source (e.g. train_images.txt).'),
  })
  .describe('Parallel files of one split.');

export const Multi30kSourceSchema = z
  .strictObject({
    format: z.literal('multi30k').describe('Multi30K: parallel text files plus an image-name list per split and the Flickr30k image folder.'),
    train: Multi30kSplitSchema,
    val: Multi30kSplitSchema,
    test: Multi30kSplitSchema.optional().describe('Test split files (absent: val doubles as test).'),
    images: Uri.describe('Folder (or S3 prefix) holding the images named in the image lists.'),
    ...common,
  })
  .describe('Multimodal translation (Multi30K).');

export const DataSourceSchema = z
  .discriminatedUnion('format', [SyntheticSourceSchema, VqaV2SourceSchema, CocoCaptionsSourceSchema, Multi30kSourceSchema])
  .describe('Where the examples come from: the synthetic generator or a public dataset layout (discriminated on `format`).');

/** Validated data source (defaults applied). */
export type DataSource = z.output<typeof DataSourceSchema>;
/** Input form (defaults optional). */
export type DataSourceInput = z.input<typeof DataSourceSchema>;
export type SyntheticSource = z.output<typeof SyntheticSourceSchema>;
export type VqaV2Source = z.output<typeof VqaV2SourceSchema>;
export type CocoCaptionsSource = z.output<typeof CocoCaptionsSourceSchema>;
export type Multi30kSource = z.output<typeof Multi30kSourceSchema>;
export type TokenizerOptions = z.output<typeof TokenizerOptionsSchema>;
export type SyntheticSourceInput = z.input<typeof SyntheticSourceSchema>;
export type VqaV2SourceInput = z.input<typeof VqaV2SourceSchema>;
export type CocoCaptionsSourceInput = z.input<typeof CocoCaptionsSourceSchema>;
export type Multi30kSourceInput = z.input<typeof Multi30kSourceSchema>;

export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

/** The task a source's examples serve. */
export type DataTask = 'vqa' | 'captioning' | 'translation';

export function taskOf(source: DataSource): DataTask {
  switch (source.format) {
    case 'synthetic':
      return source.task;
    case 'vqa-v2':
      return 'vqa';
    case 'coco-captions':
      return 'captioning';
    case 'multi30k':
      return 'translation';
  }
}

/** Validates a data source, applying defaults. @throws ConfigError naming every bad field. */
export function parseDataSource(input: unknown, what = 'data source'): DataSource {
  const r = DataSourceSchema.safeParse(input);
  if (!r.success) {
    const issues = formatIssues(r.error);
    throw new ConfigError(`invalid ${what}:\n` + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'), issues);
  }
  return r.data;
}
