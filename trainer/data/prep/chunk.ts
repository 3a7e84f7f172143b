/**
 * Step 3 of a fanned-out preparation, one invocation per chunk (a Map over chunk indices):
 * decode the chunk's images (a few at a time), write them ONCE into the chunk's image shard, and
 * write its examples (tokenised text, targets or VQA soft scores) into example shards that point
 * into it. The chunk's statistics (pixel sums, token counts, answer coverage, skipped images)
 * and references go into its result file, written last: the chunk's commit. A chunk whose result
 * file names the current plan and vocabulary is complete and is skipped when run again.
 */
import { createHash } from 'node:crypto';
import { joinUri, storageFor, toUri } from '../../../contract/storage';
import { SPECIAL_TOKENS, SPECIAL_TOKEN_STRINGS } from '../batch';
import { DataError } from '../errors';
import { imageFileLoader } from '../layouts/images';
import { syntheticImageLoader } from '../layouts/synthetic';
import type { SourceImage } from '../layouts/types';
import { MAX_LISTED_SKIPS } from '../manifest';
import { encodeShard, imageRecordLayout, recordLayout, type ShardRecord } from '../shard-format';
import { ShardWriter } from '../shard-writer';
import type { DataSource, SyntheticSource } from '../source';
import { tokenizerFromJson } from '../tokenizer';
import { encodeAnswers, normalizeQuestionAnswers, softScores } from '../vqa-answers';
import {
  ChunkInputSchema,
  ChunkResultSchema,
  chunkResultFile,
  exampleShardFile,
  imageShardFile,
  readPlan,
  readPrepFile,
  VOCABULARY_FILE,
  VocabularySchema,
  type ChunkResult,
} from './files';

export interface ChunkOptions {
  /** Overrides the source's `skipMissingImages`. */
  readonly skipMissingImages?: boolean;
  /** Overrides the source's `skipBadImages`. */
  readonly skipBadImages?: boolean;
  /** Images loaded concurrently (I/O bound on S3). @default 8 */
  readonly concurrency?: number;
  /**
   * Redo the chunk even when its result names the current plan and vocabulary. A committed
   * chunk is only skipped to resume an interrupted preparation: the plan pins the files' names,
   * not the pixels in them, so a fresh preparation re-reads every image.
   */
  readonly force?: boolean;
  /** Progress within the chunk (images done). */
  readonly onProgress?: (p: { split: string; chunk: number; done: number; total: number }) => void;
}

export interface ChunkSummary {
  readonly resultUri: string;
  readonly split: string;
  readonly chunk: number;
  /** True when the chunk was already complete (nothing written). */
  readonly skipped: boolean;
  readonly images: number;
  readonly records: number;
}

/** A loader of RGB `[S, S, 3]` pixels for the source's images. */
function imageLoader(source: DataSource): (img: SourceImage) => Promise<Uint8Array> {
  if (source.format === 'synthetic') {
    const render = syntheticImageLoader(source as SyntheticSource);
    return async (img) => render(img.key);
  }
  return (img) => imageFileLoader(img.uri, source.imageSize, img.what)();
}

async function resultIfComplete(uri: string, planId: string, vocabId: string): Promise<ChunkResult | undefined> {
  try {
    const { value } = await readPrepFile(uri, ChunkResultSchema, 'prepareChunk');
    return value.planId === planId && value.vocabularyId === vocabId ? value : undefined;
  } catch (e) {
    if (e instanceof DataError) return undefined; // absent or unreadable: redo the chunk
    throw e;
  }
}

/** Prepares chunk `index` (an index into plan.chunks) of the dataset at `outUri`. */
export async function prepareChunk(outUri: string, index: number, options: ChunkOptions = {}): Promise<ChunkSummary> {
  const out = toUri(outUri);
  const plan = await readPlan(out);
  const ref = plan.chunks[index];
  if (!Number.isInteger(index) || !ref) throw new RangeError(`prepareChunk: chunk ${index} is outside the plan's ${plan.chunks.length} chunk(s)`);
  const vocabUri = joinUri(out, VOCABULARY_FILE);
  // The vocabulary's identity is the sha256 of its file: a chunk result names the one it encoded with.
  const { value: vocab, sha256: vocabId } = await readPrepFile(vocabUri, VocabularySchema, 'buildVocabulary (the vocabulary step)');
  if (vocab.planId !== plan.id) throw new DataError('bad-input', `${vocabUri} was built for another plan; run the vocabulary step again`);
  const resultUri = joinUri(out, chunkResultFile(ref.split, ref.chunk));
  const done = options.force ? undefined : await resultIfComplete(resultUri, plan.id, vocabId);
  if (done) return { resultUri, split: ref.split, chunk: ref.chunk, skipped: true, images: done.images, records: done.shards.reduce((n, s) => n + s.count, 0) };

  const input = await readPrepFile(joinUri(out, ref.file), ChunkInputSchema, 'planPreparation (the plan step)');
  if (input.sha256 !== ref.sha256) throw new DataError('bad-input', `${joinUri(out, ref.file)} does not match plan.json; run the plan step again`);
  const source = plan.source as unknown as DataSource;
  const task = plan.task;
  const split = ref.split;
  const tokenizer = tokenizerFromJson(vocab.tokenizer, vocabUri);
  const classes = vocab.answers ? new Map(vocab.answers.vocab.map((a, i) => [a, i])) : undefined;
  const majority = vocab.answers?.majority;
  const skipMissing = options.skipMissingImages ?? source.skipMissingImages;
  const skipBad = options.skipBadImages ?? source.skipBadImages;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const load = imageLoader(source);

  const imagesFile = imageShardFile(split, ref.chunk);
  const layout = recordLayout({ task, imageSize: source.imageSize, maxTextLength: source.maxTextLength, maxTargetLength: source.maxTargetLength });
  const writer = new ShardWriter(out, { kind: 'examples', task, split, layout }, source.shardSize, (k) => exampleShardFile(split, ref.firstShard + k), imagesFile);
  const imageRecords: ShardRecord[] = [];
  const pixels = { sum: [0, 0, 0], sumSq: [0, 0, 0], count: 0 };
  const tokens = { text: 0, target: 0, unknown: 0, truncatedTexts: 0, truncatedTargets: 0 };
  const references: Record<string, string[]> = {};
  const skipped: ChunkResult['skipped'] = { missingImages: 0, badImages: 0, items: [] };
  let kept = 0;
  let covered = 0;
  let majorityScoreSum = 0;
  let annotatorsDisagree = false;

  const images = input.value.images;
  for (let start = 0; start < images.length; start += concurrency) {
    const group = images.slice(start, start + concurrency);
    const loaded = await Promise.allSettled(group.map((img) => load(img)));
    for (let g = 0; g < group.length; g++) {
      const img = group[g]!;
      const r = loaded[g]!;
      if (r.status === 'rejected') {
        const e = r.reason as unknown;
        if (e instanceof DataError && ((e.code === 'missing-image' && skipMissing) || (e.code === 'bad-image' && skipBad))) {
          for (const ex of img.examples) {
            if (e.code === 'missing-image') skipped.missingImages++;
            else skipped.badImages++;
            if (skipped.items.length < MAX_LISTED_SKIPS) skipped.items.push({ split, id: ex.id, reason: e.message });
          }
          continue;
        }
        throw e;
      }
      const image = r.value;
      const imageIndex = imageRecords.length;
      imageRecords.push({ id: img.key, image });
      if (split === 'train') {
        for (let i = 0; i < image.length; i += 3) {
          for (let c = 0; c < 3; c++) {
            const v = image[i + c]!;
            pixels.sum[c]! += v;
            pixels.sumSq[c]! += v * v;
          }
        }
        pixels.count += image.length / 3;
      }
      for (const ex of img.examples) {
        kept++;
        const text = tokenizer.encode(ex.text, { length: source.maxTextLength });
        tokens.text += text.ids.filter((id) => id !== SPECIAL_TOKENS.PAD).length;
        tokens.unknown += text.unknown;
        if (text.truncated > 0) tokens.truncatedTexts++;
        const base = { imageId: img.key, imageIndex, text: text.ids };
        if (task === 'vqa') {
          const raw = ex.answers ?? [];
          const { answers, label } = normalizeQuestionAnswers(raw, ex.label);
          const enc = encodeAnswers(answers, label, classes!);
          // Every annotator's answer (VQA v2 has 10) AS WRITTEN: the official accuracy needs them
          // all, raw, because it normalises only when they disagree.
          references[ex.id] = [...raw];
          if (new Set(raw).size > 1) annotatorsDisagree = true;
          if (enc.answerLabel >= 0) covered++;
          if (majority !== undefined) majorityScoreSum += softScores(answers).get(majority) ?? 0;
          await writer.add({ id: ex.id, ...base, ...enc });
          continue;
        }
        // Generation: train has a record per reference; val/test one per image (first reference).
        references[ex.id] = [...ex.targets];
        const targets = split === 'train' && task === 'captioning' ? ex.targets : ex.targets.slice(0, 1);
        for (let k = 0; k < targets.length; k++) {
          const target = tokenizer.encode(targets[k]!, { length: source.maxTargetLength + 1, bosEos: true });
          tokens.target += target.ids.filter((id) => id >= SPECIAL_TOKEN_STRINGS.length).length; // words only
          tokens.unknown += target.unknown;
          if (target.truncated > 0) tokens.truncatedTargets++;
          await writer.add({ id: targets.length > 1 ? `${ex.id}#${k}` : ex.id, ...base, target: target.ids });
        }
      }
    }
    options.onProgress?.({ split, chunk: ref.chunk, done: Math.min(start + concurrency, images.length), total: images.length });
  }
  const shards = await writer.finish();
  let imageShard: ChunkResult['imageShard'] = null;
  if (imageRecords.length > 0) {
    const body = encodeShard({ kind: 'images', task, split, layout: imageRecordLayout(source.imageSize) }, imageRecords);
    const uri = joinUri(out, imagesFile);
    await storageFor(uri).put(uri, body);
    imageShard = { file: imagesFile, count: imageRecords.length, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
  }
  const result: ChunkResult = {
    planId: plan.id,
    vocabularyId: vocabId,
    split,
    chunk: ref.chunk,
    shards,
    imageShard,
    images: imageRecords.length,
    kept,
    pixels,
    tokens,
    covered,
    majorityScoreSum,
    annotatorsDisagree,
    references,
    skipped,
  };
  await storageFor(resultUri).put(resultUri, JSON.stringify(result)); // last: the chunk's commit
  return { resultUri, split, chunk: ref.chunk, skipped: false, images: imageRecords.length, records: shards.reduce((n, s) => n + s.count, 0) };
}
