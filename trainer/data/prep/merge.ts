/**
 * Step 4 of a fanned-out preparation: once every chunk has its result, write tokenizer.json and
 * references.json, then manifest.json LAST (every shard with its sha256, from the chunk results).
 * The pixel statistics are the per-chunk sums added up: the sums are of integers well below
 * 2^53 (even for all of COCO at 224×224), so the mean and std are exactly those one pass over
 * all training images would give.
 */
import { createHash } from 'node:crypto';
import { joinUri, storageFor, toUri } from '../../../contract/storage';
import { DataError } from '../errors';
import { ManifestSchema, MANIFEST_FILE, MANIFEST_VERSION, MAX_LISTED_SKIPS, TOKENIZER_FILE, type MajorityBaseline, type Manifest, type SplitEntry } from '../manifest';
import { imageRecordLayout, recordLayout } from '../shard-format';
import { SPLITS, type DataSource, type SplitName } from '../source';
import { tokenizerFromJson } from '../tokenizer';
import { ChunkResultSchema, chunkResultFile, readPlan, readPrepFile, VOCABULARY_FILE, VocabularySchema, type ChunkResult, type Plan } from './files';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface PrepareSummary {
  readonly manifestUri: string;
  readonly task: Plan['task'];
  readonly splits: Readonly<Record<SplitName, { examples: number; images: number; shards: number; bytes: number; imageBytes: number; sameAs?: SplitName }>>;
  /** Example shard URIs per split (test lists val's when val doubles as test). */
  readonly shardUris: Readonly<Record<SplitName, string[]>>;
  readonly vocabSize: number;
  readonly tokens: Readonly<Record<SplitName, SplitEntry['tokens']>>;
  /** VQA only. */
  readonly answerVocabSize?: number;
  readonly answerCoverage?: Readonly<Record<SplitName, number>>;
  /** VQA: the most frequent training label, its training share and its VQA score on test. */
  readonly majorityBaseline?: MajorityBaseline;
  /** Distinct shard files (example and image shards) written and their total bytes. */
  readonly shards: number;
  readonly bytes: number;
  readonly skipped: { readonly missingImages: number; readonly badImages: number };
}

/** Per-channel mean and std on the [0, 1] scale from summed pixel values (std floored: a constant channel would divide by zero). */
export function pixelStatsFromSums(sum: readonly number[], sumSq: readonly number[], count: number): Manifest['pixelStats'] {
  const n = Math.max(1, count);
  const mean = sum.map((s) => s / n / 255) as [number, number, number];
  const std = sumSq.map((s, c) => Math.max(Math.sqrt(Math.max(0, s / n / 255 ** 2 - mean[c]! ** 2)), 1e-3)) as [number, number, number];
  return { mean, std };
}

/**
 * Deletes shard files a previous, larger preparation left in the folder (the manifest no longer
 * lists them). Runs after the manifest is written, and only touches `<split>/{shard,images}-*.bin`.
 */
async function removeStaleShards(out: string, manifest: Manifest): Promise<void> {
  const listed = new Set(SPLITS.flatMap((s) => [...manifest.splits[s].shards, ...manifest.splits[s].imageShards].map((e) => joinUri(out, e.file))));
  const storage = storageFor(out);
  for (const uri of await storage.list(out)) {
    const rel = uri.slice(out.length).replace(/^\/+/, '');
    if (/^(train|val|test)\/(shard|images)-[\d-]+\.bin$/.test(rel) && !listed.has(uri)) await storage.delete(uri);
  }
}

export interface MergeOptions {
  /**
   * The pixel normalisation to record instead of the training images' statistics (a foreign
   * teacher's: its inputs must be normalised as it was trained).
   */
  readonly pixelStats?: Manifest['pixelStats'];
}

export async function mergePreparation(outUri: string, options: MergeOptions = {}): Promise<PrepareSummary> {
  const out = toUri(outUri);
  const plan = await readPlan(out);
  const source = plan.source as unknown as DataSource;
  const vocabUri = joinUri(out, VOCABULARY_FILE);
  // The vocabulary's identity is the sha256 of its file, as prepareChunk records it.
  const { value: vocab, sha256: vocabId } = await readPrepFile(vocabUri, VocabularySchema, 'buildVocabulary (the vocabulary step)');
  if (vocab.planId !== plan.id) throw new DataError('bad-input', `${vocabUri} was built for another plan; run the vocabulary step again`);

  // Every chunk must be done, for this plan and vocabulary.
  const results: ChunkResult[] = [];
  const missing: string[] = [];
  for (const ref of plan.chunks) {
    const uri = joinUri(out, chunkResultFile(ref.split, ref.chunk));
    const r = await readPrepFile(uri, ChunkResultSchema, 'prepareChunk').catch((e: unknown) => (e instanceof DataError ? undefined : Promise.reject(e)));
    if (!r || r.value.planId !== plan.id || r.value.vocabularyId !== vocabId) missing.push(`${ref.split} chunk ${ref.chunk}`);
    else results.push(r.value);
  }
  if (missing.length) {
    throw new DataError('bad-input', `cannot merge: ${missing.length} chunk(s) not prepared for this plan (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}); run prepareChunk for them first`);
  }

  const tokenizer = tokenizerFromJson(vocab.tokenizer, vocabUri);
  const tokenizerBody = JSON.stringify(tokenizer.toJSON());
  const tokUri = joinUri(out, TOKENIZER_FILE);
  await storageFor(tokUri).put(tokUri, tokenizerBody);

  const task = plan.task;
  const skipped = { missingImages: 0, badImages: 0, items: [] as Manifest['skipped']['items'] };
  const pixels = { sum: [0, 0, 0], sumSq: [0, 0, 0], count: 0 };
  const entries: Partial<Record<SplitName, SplitEntry & { kept: number; majorityScoreSum: number }>> = {};
  for (const split of SPLITS) {
    const chunks = results.filter((r) => r.split === split);
    if (chunks.length === 0) continue;
    const tokens = { text: 0, target: 0, unknown: 0, truncatedTexts: 0, truncatedTargets: 0 };
    const references: Record<string, string[]> = {};
    let kept = 0;
    let covered = 0;
    let majorityScoreSum = 0;
    let disagree = false;
    for (const r of chunks) {
      for (const k of Object.keys(tokens) as (keyof typeof tokens)[]) tokens[k] += r.tokens[k];
      for (let c = 0; c < 3; c++) {
        pixels.sum[c]! += r.pixels.sum[c]!;
        pixels.sumSq[c]! += r.pixels.sumSq[c]!;
      }
      pixels.count += r.pixels.count;
      Object.assign(references, r.references);
      kept += r.kept;
      covered += r.covered;
      majorityScoreSum += r.majorityScoreSum;
      disagree ||= r.annotatorsDisagree;
      skipped.missingImages += r.skipped.missingImages;
      skipped.badImages += r.skipped.badImages;
      for (const item of r.skipped.items) if (skipped.items.length < MAX_LISTED_SKIPS) skipped.items.push(item);
    }
    const shards = chunks.flatMap((r) => r.shards);
    const examples = shards.reduce((n, s) => n + s.count, 0);
    if (examples === 0) {
      throw new DataError('empty-split', `the ${split} split has no examples left after skipping ${plan.splits[split]?.examples ?? 0} with missing or undecodable images`);
    }
    let refEntry: SplitEntry['references'];
    // Generation: every reference per example. VQA: the human answers per question when the
    // annotators disagree somewhere (real VQA v2), so evaluation uses the official accuracy;
    // single-answer data such as the synthetic world is scored against its label answer instead.
    if (task !== 'vqa' || (split !== 'train' && disagree)) {
      const file = `${split}/references.json`;
      const body = JSON.stringify(references);
      const uri = joinUri(out, file);
      await storageFor(uri).put(uri, body);
      refEntry = { file, sha256: sha256(body) };
    }
    entries[split] = {
      examples,
      images: chunks.reduce((n, r) => n + r.images, 0),
      shards,
      imageShards: chunks.flatMap((r) => (r.imageShard ? [r.imageShard] : [])),
      ...(refEntry ? { references: refEntry } : {}),
      tokens,
      ...(task === 'vqa' ? { answerCoverage: covered / Math.max(1, kept) } : {}),
      kept,
      majorityScoreSum,
    };
  }
  const strip = ({ kept: _k, majorityScoreSum: _m, ...e }: SplitEntry & { kept: number; majorityScoreSum: number }): SplitEntry => e;
  const train = entries.train!;
  const val = entries.val!;
  const test = plan.testIsVal ? { ...val, sameAs: 'val' as const } : entries.test!;
  const answers: Manifest['answers'] = vocab.answers
    ? { vocab: vocab.answers.vocab, surfaceForms: vocab.answers.surfaceForms, majority: { answer: vocab.answers.majority, trainFraction: vocab.answers.trainFraction, testAccuracy: test.majorityScoreSum / Math.max(1, test.kept) } }
    : undefined;
  const manifest: Manifest = ManifestSchema.parse({
    version: MANIFEST_VERSION,
    task,
    source: plan.description,
    imageSize: source.imageSize,
    maxTextLength: source.maxTextLength,
    maxTargetLength: source.maxTargetLength,
    layout: recordLayout({ task, imageSize: source.imageSize, maxTextLength: source.maxTextLength, maxTargetLength: source.maxTargetLength }),
    imageLayout: imageRecordLayout(source.imageSize),
    pixelStats: options.pixelStats ? { mean: [...options.pixelStats.mean], std: [...options.pixelStats.std] } : pixelStatsFromSums(pixels.sum, pixels.sumSq, pixels.count),
    tokenizer: { file: TOKENIZER_FILE, kind: tokenizer.kind, vocabSize: tokenizer.vocabSize, sha256: sha256(tokenizerBody) },
    ...(answers ? { answers } : {}),
    splits: { train: strip(train), val: strip(val), test: strip(test) },
    skipped,
  });
  const manifestUri = joinUri(out, MANIFEST_FILE);
  await storageFor(manifestUri).put(manifestUri, JSON.stringify(manifest, null, 2)); // last
  await removeStaleShards(out, manifest);

  const written = manifest.splits;
  const distinct = [written.train, written.val, ...(written.test.sameAs ? [] : [written.test])];
  const bytesOf = (list: readonly { bytes: number }[]) => list.reduce((n, e) => n + e.bytes, 0);
  return {
    manifestUri,
    task,
    splits: Object.fromEntries(
      SPLITS.map((s) => [
        s,
        {
          examples: written[s].examples,
          images: written[s].images,
          shards: written[s].shards.length,
          bytes: bytesOf(written[s].shards) + bytesOf(written[s].imageShards),
          imageBytes: bytesOf(written[s].imageShards),
          ...(written[s].sameAs ? { sameAs: written[s].sameAs } : {}),
        },
      ]),
    ) as PrepareSummary['splits'],
    shardUris: Object.fromEntries(SPLITS.map((s) => [s, written[s].shards.map((e) => joinUri(out, e.file))])) as PrepareSummary['shardUris'],
    vocabSize: tokenizer.vocabSize,
    tokens: { train: written.train.tokens, val: written.val.tokens, test: written.test.tokens },
    ...(answers
      ? {
          answerVocabSize: answers.vocab.length,
          answerCoverage: { train: written.train.answerCoverage!, val: written.val.answerCoverage!, test: written.test.answerCoverage! },
          majorityBaseline: answers.majority,
        }
      : {}),
    shards: distinct.reduce((n, e) => n + e.shards.length + e.imageShards.length, 0),
    bytes: distinct.reduce((n, e) => n + bytesOf(e.shards) + bytesOf(e.imageShards), 0),
    skipped: { missingImages: skipped.missingImages, badImages: skipped.badImages },
  };
}
