/**
 * Step 1 of a fanned-out preparation: read the source's layout (large JSON streamed), group the
 * examples by image and cut every split into chunks of whole images.
 *
 * Bound per chunk: at most `chunkShards × shardSize` records (an image is never split across
 * chunks; a single image with more records than that gets a chunk of its own). Records ≥ images,
 * so a chunk step decodes at most that many images and holds at most
 *     maxImages × (imageSize² × 3 + 48) bytes of image shard + one example shard of records
 * in memory (plan.bounds gives the exact figures of the plan). Time per chunk is linear in its
 * images (one fetch + JPEG decode + resize each), so it is bounded by the same count.
 *
 * The planner itself holds the texts of the whole source (not the pixels, not the JSON files):
 * O(examples) memory (not measured at VQA v2 scale).
 */
import { createHash } from 'node:crypto';
import { joinUri, storageFor, toUri } from '../../../contract/storage';
import { DataError } from '../errors';
import { loadCocoCaptions } from '../layouts/coco-captions';
import { loadMulti30k } from '../layouts/multi30k';
import { loadSynthetic } from '../layouts/synthetic';
import type { LoadedSource, SourceImage } from '../layouts/types';
import { loadVqaV2 } from '../layouts/vqa-v2';
import { MANIFEST_FILE } from '../manifest';
import { imageRecordLayout, recordLayout } from '../shard-format';
import { parseDataSource, taskOf, type DataSource, type DataSourceInput, type DataTask, type SplitName } from '../source';
import { chunkInputFile, PLAN_FILE, PlanSchema, type ChunkRef, type Plan } from './files';

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

/** Reads the layout of a source. */
export async function loadSource(source: DataSource): Promise<LoadedSource> {
  switch (source.format) {
    case 'synthetic':
      return loadSynthetic(source);
    case 'vqa-v2':
      return loadVqaV2(source);
    case 'coco-captions':
      return loadCocoCaptions(source);
    case 'multi30k':
      return loadMulti30k(source);
  }
}

/** The files behind a split, for error messages. */
function splitFiles(source: DataSource, split: SplitName): string {
  switch (source.format) {
    case 'synthetic':
      return `${source[split]} examples requested`;
    case 'vqa-v2':
      return `${source.questions[split] ?? source.questions.val} and ${source.annotations[split] ?? source.annotations.val}`;
    case 'coco-captions':
      return source.karpathy ?? source.captions?.[split] ?? source.captions?.val ?? '';
    case 'multi30k':
      return (source[split] ?? source.val).source;
  }
}

/** Records an image's examples become: captioning train has one per caption, else one per example. */
export function recordsOf(task: DataTask, split: SplitName, image: SourceImage): number {
  if (task === 'captioning' && split === 'train') return image.examples.reduce((n, ex) => n + ex.targets.length, 0);
  return image.examples.length;
}

export interface PlanSummary {
  readonly planUri: string;
  readonly planId: string;
  /** Number of chunks (the Map iterates over 0 … chunks − 1). */
  readonly chunks: number;
  readonly splits: Plan['splits'];
  readonly bounds: Plan['bounds'];
}

/** Cuts a split's images into chunks of at most `cap` records. */
function cutChunks(task: DataTask, split: SplitName, images: readonly SourceImage[], cap: number): SourceImage[][] {
  const chunks: SourceImage[][] = [];
  let current: SourceImage[] = [];
  let records = 0;
  for (const img of images) {
    const r = recordsOf(task, split, img);
    if (current.length > 0 && records + r > cap) {
      chunks.push(current);
      current = [];
      records = 0;
    }
    current.push(img);
    records += r;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * Plans the preparation of `source` into `outUri`: deletes any manifest first (from here until
 * the merge the folder is "not prepared"), writes every chunk's input file, then plan.json.
 */
export async function planPreparation(sourceInput: DataSourceInput | DataSource, outUri: string): Promise<PlanSummary> {
  const source = parseDataSource(sourceInput);
  const out = toUri(outUri);
  const manifestUri = joinUri(out, MANIFEST_FILE);
  await storageFor(manifestUri).delete(manifestUri);

  const task = taskOf(source);
  const loaded = await loadSource(source);
  const splitImages: Partial<Record<SplitName, readonly SourceImage[]>> = { train: loaded.train, val: loaded.val };
  if (loaded.test !== 'val') splitImages.test = loaded.test;
  for (const split of ['train', 'val', 'test'] as const) {
    const images = split === 'test' && loaded.test === 'val' ? loaded.val : splitImages[split]!;
    if (images.every((img) => img.examples.length === 0)) {
      throw new DataError('empty-split', `the ${split} split of the ${source.format} source has no examples (${splitFiles(source, split)}): give it at least one`);
    }
  }

  const cap = source.chunkShards * source.shardSize;
  const chunks: ChunkRef[] = [];
  const splits: Plan['splits'] = {};
  for (const split of ['train', 'val', 'test'] as const) {
    const images = splitImages[split];
    if (!images) continue;
    let firstShard = 0;
    let examples = 0;
    let records = 0;
    const groups = cutChunks(task, split, images, cap);
    for (let chunk = 0; chunk < groups.length; chunk++) {
      const group = groups[chunk]!;
      // Written as it is cut: one chunk's JSON in memory at a time, not the whole source's twice.
      const file = chunkInputFile(split, chunk);
      const body = JSON.stringify({ split, chunk, images: group });
      const uri = joinUri(out, file);
      await storageFor(uri).put(uri, body);
      const r = group.reduce((n, img) => n + recordsOf(task, split, img), 0);
      const e = group.reduce((n, img) => n + img.examples.length, 0);
      chunks.push({ split, chunk, file, images: group.length, examples: e, records: r, firstShard, sha256: sha256(body) });
      firstShard += Math.ceil(r / source.shardSize);
      examples += e;
      records += r;
    }
    splits[split] = { images: images.length, examples, records, shards: firstShard };
  }

  const exampleLayout = recordLayout({ task, imageSize: source.imageSize, maxTextLength: source.maxTextLength, maxTargetLength: source.maxTargetLength });
  const imageLayout = imageRecordLayout(source.imageSize);
  const maxImages = Math.max(...chunks.map((c) => c.images));
  const maxRecords = Math.max(...chunks.map((c) => c.records));
  const bounds: Plan['bounds'] = {
    recordCap: cap,
    maxRecords,
    maxImages,
    maxImageShardBytes: maxImages * imageLayout.recordSize,
    maxExampleBytes: maxRecords * exampleLayout.recordSize,
  };
  const withoutId = { version: 1 as const, source: source as unknown as Record<string, unknown>, task, description: loaded.description, testIsVal: loaded.test === 'val', splits, bounds, chunks };
  const id = sha256(JSON.stringify(withoutId));
  const plan: Plan = PlanSchema.parse({ ...withoutId, id });
  const planUri = joinUri(out, PLAN_FILE);
  await storageFor(planUri).put(planUri, JSON.stringify(plan)); // last: a plan on storage has all its chunk inputs
  return { planUri, planId: id, chunks: chunks.length, splits, bounds };
}
