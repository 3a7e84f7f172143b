/**
 * Reading a prepared dataset: `openDataset(uri)` loads and validates manifest.json and the
 * tokenizer; `dataset.split(name)` gives random access by example index (evaluation, the
 * training loop's `batchForStep`) and a streaming reader with a shuffle buffer whose order is a
 * function of the seed alone. Every shard is checked against the manifest's sha256 when it is
 * first opened; a corrupt or truncated shard fails with an error naming it.
 *
 * Images are stored once (image shards); an example record names its image shard (in the
 * manifest) and its index there. `record(i)` and the batches join the two, so callers see every
 * example with its pixels.
 */
import { createHash } from 'node:crypto';
import { joinUri, storageFor, StorageNotFoundError } from '../../contract/storage';
import { parseJson } from '../../contract/parse-json';
import type { Batch } from './batch';
import { DataError, ShardIntegrityError } from './errors';
import { readJson } from './json';
import { ManifestSchema, MANIFEST_FILE, MANIFEST_VERSION, type Manifest, type ShardEntry, type SplitEntry } from './manifest';
import { Prng, mixSeeds } from './prng';
import { decodeShard, shardRecord, type DecodedShard, type ShardRecord } from './shard-format';
import { tokenizerFromJson, type Tokenizer } from './tokenizer';
import type { SplitName } from './source';

export interface StreamOptions {
  readonly batchSize: number;
  /** Seed of the order (shard order and shuffle buffer). @default 0 */
  readonly seed?: number;
  /** Shuffle; false streams records in stored order. @default true */
  readonly shuffle?: boolean;
  /** Records held by the shuffle buffer (larger = closer to a full shuffle). @default 1024 */
  readonly shuffleBuffer?: number;
  /** Passes over the split; each epoch has its own order. @default 1 */
  readonly epochs?: number;
  /** Drop each epoch's last, smaller batch. @default false */
  readonly dropRemainder?: boolean;
}

/**
 * Default memory for a split's decoded shards: 1 GiB holds all of a 32×32 synthetic split of
 * ~300k examples, or ~6 shards of 1024 COCO images at 224×224.
 */
export const DEFAULT_CACHE_BYTES = 1 << 30;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The image id of a record id (captioning train records are "<image>#<k>"). */
export function imageIdOf(recordId: string): string {
  const hash = recordId.lastIndexOf('#');
  return hash < 0 ? recordId : recordId.slice(0, hash);
}

/** An example record with its image attached (what readers of a split see). */
export type ExampleRecord = ShardRecord & { readonly image: Uint8Array; readonly text: Int32Array };

/** Turns stored records into a `Batch` (pixels normalised with the training statistics). */
export function recordsToBatch(records: readonly ExampleRecord[], manifest: Manifest): Batch {
  const B = records.length;
  const S = manifest.imageSize;
  const pixels = S * S;
  const { mean, std } = manifest.pixelStats;
  // Per channel: x = (p / 255 − mean) / std = p · scale + shift.
  const scale = std.map((s) => 1 / (255 * s));
  const shift = mean.map((m, c) => -m / std[c]!);
  const images = new Float32Array(B * pixels * 3); // [B, S, S, 3]
  const Lt = manifest.maxTextLength;
  const text = new Int32Array(B * Lt); // [B, Lt]
  const hasTarget = manifest.task !== 'vqa';
  const Ld1 = manifest.maxTargetLength + 1;
  const target = hasTarget ? new Int32Array(B * Ld1) : undefined; // [B, Ld + 1]
  const A = manifest.answers?.vocab.length ?? 0;
  const answerScores = manifest.task === 'vqa' ? new Float32Array(B * A) : undefined; // [B, A]
  const answerLabel = manifest.task === 'vqa' ? new Int32Array(B) : undefined; // [B]
  records.forEach((r, b) => {
    const img = r.image;
    const base = b * pixels * 3;
    for (let i = 0; i < pixels * 3; i += 3) {
      images[base + i] = img[i]! * scale[0]! + shift[0]!;
      images[base + i + 1] = img[i + 1]! * scale[1]! + shift[1]!;
      images[base + i + 2] = img[i + 2]! * scale[2]! + shift[2]!;
    }
    text.set(r.text, b * Lt);
    if (target && r.target) target.set(r.target, b * Ld1);
    if (answerScores && r.answerIndex && r.answerScore) {
      for (let k = 0; k < r.answerIndex.length; k++) {
        const a = r.answerIndex[k]!;
        if (a >= 0 && a < A) answerScores[b * A + a] = r.answerScore[k]!;
      }
    }
    if (answerLabel) answerLabel[b] = r.answerLabel ?? -1;
  });
  return {
    size: B,
    ids: records.map((r) => r.id),
    images,
    text,
    ...(target ? { target } : {}),
    ...(answerScores ? { answerScores } : {}),
    ...(answerLabel ? { answerLabel } : {}),
  };
}

/** One split of a prepared dataset. */
export class SplitReader {
  /** Cumulative record counts: shard s holds examples [starts[s], starts[s + 1]). */
  private readonly starts: number[];
  private readonly cache = new Map<number, Promise<DecodedShard>>();
  /** Decoded image shards by file (least recently used evicted). */
  private readonly imageCache = new Map<string, Promise<DecodedShard>>();
  private readonly imageEntries: ReadonlyMap<string, ShardEntry>;

  /** Decoded shards kept in memory (least recently used evicted), per kind. */
  private readonly cacheShards: number;
  private readonly cacheImageShards: number;

  constructor(
    readonly dataset: PreparedDataset,
    readonly name: SplitName,
    readonly entry: SplitEntry,
    /** Memory for decoded shards; random access over a split that fits never re-reads a shard. @default DEFAULT_CACHE_BYTES */
    cacheBytes = DEFAULT_CACHE_BYTES,
  ) {
    this.starts = [0];
    for (const s of entry.shards) this.starts.push(this.starts[this.starts.length - 1]! + s.count);
    this.imageEntries = new Map(entry.imageShards.map((e) => [e.file, e]));
    // Example records are small next to images: a quarter of the memory holds the example shards.
    const largest = Math.max(1, ...entry.shards.map((s) => s.bytes));
    this.cacheShards = Math.max(2, Math.floor(cacheBytes / 4 / largest));
    const largestImages = Math.max(1, ...entry.imageShards.map((s) => s.bytes));
    this.cacheImageShards = Math.max(2, Math.floor((cacheBytes * 3) / 4 / largestImages));
  }

  /** Examples (records) in the split. */
  get size(): number {
    return this.starts[this.starts.length - 1]!;
  }

  get numShards(): number {
    return this.entry.shards.length;
  }

  /** URI of shard s. */
  shardUri(s: number): string {
    return joinUri(this.dataset.dir, this.entry.shards[s]!.file);
  }

  /** Loads, checksums and decodes example shard s (cached). */
  shard(s: number): Promise<DecodedShard> {
    return cached(this.cache, s, this.cacheShards, () => this.loadShard(this.entry.shards[s]!, 'examples'));
  }

  /** Loads, checksums and decodes the image shard of example shard s (cached). */
  imageShard(s: number): Promise<DecodedShard> {
    const entry = this.imageEntryOf(s);
    return cached(this.imageCache, entry.file, this.cacheImageShards, () => this.loadShard(entry, 'images'));
  }

  /**
   * Loads, checksums and decodes example shard s and its image shard (cached): what the batches of
   * shard s read, done up front so a stage can overlap it with other start-up work.
   */
  async load(s: number): Promise<void> {
    await Promise.all([this.shard(s), this.imageShard(s)]);
  }

  private imageEntryOf(s: number): ShardEntry {
    const file = this.entry.shards[s]!.images;
    const entry = file === undefined ? undefined : this.imageEntries.get(file);
    if (!entry) throw new DataError('bad-manifest', `${this.shardUri(s)}: the manifest names no image shard for it (${file ?? 'none'}); re-prepare the dataset`);
    return entry;
  }

  /**
   * Identity of the data behind example shard s: its sha256 with its image shard's, so a cache
   * made from it (the teacher cache) is refused when either the examples or the pixels change.
   */
  shardIdentity(s: number): string {
    const entry = this.entry.shards[s]!;
    return sha256(Buffer.from(`${entry.sha256}:${this.imageEntryOf(s).sha256}`));
  }

  /** Attaches each example record's image (from the image shard the manifest names). */
  private async withImage(s: number, rec: ShardRecord): Promise<ExampleRecord> {
    const images = await this.imageShard(s);
    const at = rec.imageIndex ?? -1;
    if (at < 0 || at >= images.header.count) {
      throw new ShardIntegrityError(this.shardUri(s), `record ${rec.id} points at image ${at}, its image shard holds ${images.header.count}; re-prepare the dataset`);
    }
    const img = shardRecord(images, at);
    if (img.id !== rec.imageId) {
      throw new ShardIntegrityError(this.shardUri(s), `record ${rec.id} names image "${rec.imageId}" but image ${at} of its image shard is "${img.id}"; re-prepare the dataset`);
    }
    return { ...rec, text: rec.text ?? new Int32Array(this.dataset.manifest.maxTextLength), image: img.image! };
  }

  private async loadShard(entry: ShardEntry, kind: 'images' | 'examples'): Promise<DecodedShard> {
    const uri = joinUri(this.dataset.dir, entry.file);
    let buf: Buffer;
    try {
      buf = await storageFor(uri).get(uri);
    } catch (e) {
      if (e instanceof StorageNotFoundError) throw new ShardIntegrityError(uri, 'missing (listed in the manifest); re-run prepare-data');
      throw e;
    }
    if (buf.length !== entry.bytes) {
      throw new ShardIntegrityError(uri, `size ${buf.length} bytes, the manifest says ${entry.bytes} (truncated or replaced); re-run prepare-data`);
    }
    const digest = sha256(buf);
    if (digest !== entry.sha256) {
      throw new ShardIntegrityError(uri, `checksum mismatch: sha256 ${digest}, the manifest says ${entry.sha256} (corrupt); re-run prepare-data`);
    }
    const decoded = decodeShard(buf, uri);
    if (decoded.header.count !== entry.count) throw new ShardIntegrityError(uri, `holds ${decoded.header.count} records, the manifest says ${entry.count}`);
    if (decoded.header.kind !== kind) throw new ShardIntegrityError(uri, `is a shard of ${decoded.header.kind}, the manifest lists it as ${kind}`);
    const layout = kind === 'images' ? this.dataset.manifest.imageLayout : this.dataset.manifest.layout;
    if (JSON.stringify(decoded.header.layout) !== JSON.stringify(layout)) {
      throw new ShardIntegrityError(uri, 'record layout differs from the manifest');
    }
    return decoded;
  }

  /** Checks every shard's checksum, example and image shards (cheap way to validate a dataset before a long job). */
  async verify(): Promise<void> {
    for (const e of this.entry.shards) await this.loadShard(e, 'examples');
    for (const e of this.entry.imageShards) await this.loadShard(e, 'images');
  }

  /** Example indices held by shard s: [start, end). */
  shardRange(s: number): { start: number; end: number } {
    if (!Number.isInteger(s) || s < 0 || s >= this.numShards) throw new RangeError(`shard ${s} outside split ${this.name} (0..${this.numShards - 1})`);
    return { start: this.starts[s]!, end: this.starts[s + 1]! };
  }

  /** Shard and offset of example i. */
  locate(i: number): { shard: number; offset: number } {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new RangeError(`example ${i} outside split ${this.name} (0..${this.size - 1})`);
    let lo = 0;
    let hi = this.starts.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return { shard: lo, offset: i - this.starts[lo]! };
  }

  /** Stored record of example i, with its image. */
  async record(i: number): Promise<ExampleRecord> {
    const { shard, offset } = this.locate(i);
    return this.withImage(shard, shardRecord(await this.shard(shard), offset));
  }

  /** A batch of the given example indices, in that order. */
  async batch(indices: readonly number[]): Promise<Batch> {
    const records: ExampleRecord[] = [];
    for (const i of indices) records.push(await this.record(i));
    return recordsToBatch(records, this.dataset.manifest);
  }

  /**
   * Batches over the split. With shuffling, each epoch visits the shards in a seeded order and
   * passes records through a shuffle buffer (tf.data-style: a random buffered record is emitted
   * and replaced by the next one read); the order depends only on (seed, epoch).
   */
  async *batches(opts: StreamOptions): AsyncGenerator<Batch> {
    const { batchSize, seed = 0, shuffle = true, shuffleBuffer = 1024, epochs = 1, dropRemainder = false } = opts;
    if (!(batchSize >= 1)) throw new RangeError(`batches: batchSize must be ≥ 1, got ${batchSize}`);
    for (let epoch = 0; epoch < epochs; epoch++) {
      const rng = new Prng(mixSeeds(seed, epoch));
      const order = Array.from({ length: this.numShards }, (_, s) => s);
      if (shuffle) rng.shuffle(order);
      const buffer: ExampleRecord[] = [];
      let pending: ExampleRecord[] = [];
      const emit = (r: ExampleRecord): Batch | null => {
        pending.push(r);
        if (pending.length < batchSize) return null;
        const b = recordsToBatch(pending, this.dataset.manifest);
        pending = [];
        return b;
      };
      for (const s of order) {
        const shard = await this.shard(s);
        for (let k = 0; k < shard.header.count; k++) {
          const rec = await this.withImage(s, shardRecord(shard, k));
          let out: ExampleRecord = rec;
          if (shuffle) {
            if (buffer.length < Math.max(1, shuffleBuffer)) {
              buffer.push(rec);
              continue;
            }
            const j = rng.int(buffer.length);
            out = buffer[j]!;
            buffer[j] = rec;
          }
          const b = emit(out);
          if (b) yield b;
        }
      }
      while (buffer.length > 0) {
        const j = rng.int(buffer.length);
        const out = buffer[j]!;
        buffer[j] = buffer[buffer.length - 1]!;
        buffer.pop();
        const b = emit(out);
        if (b) yield b;
      }
      if (pending.length > 0 && !dropRemainder) yield recordsToBatch(pending, this.dataset.manifest);
    }
  }

  /**
   * All references per image id (generation tasks). Val/test record ids are image ids; a
   * captioning train record "<image>#k" finds its list under `imageIdOf(id)`.
   */
  async references(): Promise<ReadonlyMap<string, readonly string[]>> {
    const ref = this.entry.references;
    if (!ref) throw new DataError('bad-manifest', `split ${this.name} has no references (task ${this.dataset.manifest.task})`);
    const uri = joinUri(this.dataset.dir, ref.file);
    const buf = await storageFor(uri).get(uri);
    if (sha256(buf) !== ref.sha256) throw new ShardIntegrityError(uri, 'checksum mismatch against the manifest (corrupt); re-run prepare-data');
    const json = parseJson(buf, uri) as Record<string, string[]>;
    return new Map(Object.entries(json));
  }
}

/** An LRU of decoded shards: `load` on a miss, failures not kept. */
function cached<K>(cache: Map<K, Promise<DecodedShard>>, key: K, capacity: number, load: () => Promise<DecodedShard>): Promise<DecodedShard> {
  let p = cache.get(key);
  if (p) {
    cache.delete(key); // re-insert: most recently used last
    cache.set(key, p);
    return p;
  }
  p = load();
  p.catch(() => cache.delete(key));
  cache.set(key, p);
  while (cache.size > capacity) cache.delete(cache.keys().next().value!);
  return p;
}

/** A prepared dataset: manifest, tokenizer and its splits. */
export class PreparedDataset {
  private readonly readers = new Map<SplitName, SplitReader>();

  constructor(
    /** Folder URI holding manifest.json. */
    readonly dir: string,
    readonly manifest: Manifest,
    readonly tokenizer: Tokenizer,
  ) {}

  /** The reader of a split (one per split and dataset; `cacheBytes` applies when it is first created). */
  split(name: SplitName, cacheBytes?: number): SplitReader {
    let r = this.readers.get(name);
    if (!r) {
      r = new SplitReader(this, name, this.manifest.splits[name], cacheBytes);
      this.readers.set(name, r);
    }
    return r;
  }

  /**
   * The split and shard index of a shard URI (a per-shard stage such as CacheTeacher or Evaluate
   * receives the URI from PrepareData's output). @throws DataError when the manifest lists no such shard
   */
  locateShard(shardUri: string): { split: SplitReader; index: number } {
    for (const name of ['train', 'val', 'test'] as const) {
      const index = this.manifest.splits[name].shards.findIndex((e) => joinUri(this.dir, e.file) === shardUri);
      if (index >= 0) return { split: this.split(name), index };
    }
    throw new DataError('bad-manifest', `${shardUri} is not a shard of the dataset at ${this.dir}`);
  }

  /** VQA answer classes (normalised answers) by class index. */
  get answerVocab(): readonly string[] {
    return this.manifest.answers?.vocab ?? [];
  }

  /**
   * VQA: the form in which each class is written as a prediction (its most frequent raw
   * training answer; the class itself for data prepared before surface forms existed).
   */
  get answerSurfaceForms(): readonly string[] {
    return this.manifest.answers?.surfaceForms ?? this.answerVocab;
  }
}

/** Opens a prepared dataset from its folder or its manifest.json URI. */
export async function openDataset(uri: string): Promise<PreparedDataset> {
  const manifestUri = uri.endsWith('.json') ? uri : joinUri(uri, MANIFEST_FILE);
  const dir = manifestUri.slice(0, manifestUri.lastIndexOf('/'));
  if (!(await storageFor(manifestUri).exists(manifestUri))) {
    throw new DataError('bad-manifest', `${manifestUri} not found: the dataset was never prepared, or its preparation did not finish (the manifest is written last)`);
  }
  const json = await readJson(manifestUri);
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version < MANIFEST_VERSION) {
    throw new DataError(
      'bad-manifest',
      `${manifestUri} is a version ${version} dataset (each image stored in every example record); this reader needs version ${MANIFEST_VERSION} (images stored once). ` +
        'Re-prepare it: `amad prepare` into a fresh folder, or delete the run\'s data folder and its prepare-data commit marker (or start a new run) so PrepareData runs again.',
    );
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new DataError('bad-manifest', `${manifestUri} is not a valid manifest:\n  - ${first.join('\n  - ')}`);
  }
  const manifest = parsed.data;
  const tokUri = joinUri(dir, manifest.tokenizer.file);
  const tokBuf = await storageFor(tokUri).get(tokUri);
  if (sha256(tokBuf) !== manifest.tokenizer.sha256) throw new ShardIntegrityError(tokUri, 'checksum mismatch against the manifest (corrupt); re-run prepare-data');
  const tokenizer = tokenizerFromJson(parseJson(tokBuf, tokUri), tokUri);
  return new PreparedDataset(dir, manifest, tokenizer);
}
