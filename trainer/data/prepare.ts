/**
 * prepareData: a data source → tokenizer, shards, references and manifest under `outUri`.
 *
 *   1. delete any old manifest.json first: from here until step 6 the folder is "not prepared";
 *   2. read the layout (texts in memory, images loaded lazily) and check no split is empty;
 *   3. build the vocabulary from the training texts and targets (or load the WordPiece vocab);
 *      VQA: the answer classes from the normalised training labels, and each class's surface
 *      form (its most frequent raw training answer) in which predictions are written;
 *   4. per split, load images (a few at a time), encode texts and write fixed-size records to
 *      shards; pixel statistics are accumulated over the training images;
 *   5. write references.json (generation tasks; VQA val/test: the human answers as written) and tokenizer.json;
 *   6. write manifest.json LAST, with every file's sha256.
 * A prepare that dies anywhere before 6 leaves no manifest, so it never looks complete.
 */
import { createHash } from 'node:crypto';
import { joinUri, storageFor, toUri } from '../../contract/storage';
import { SPECIAL_TOKENS, SPECIAL_TOKEN_STRINGS } from './batch';
import { DataError } from './errors';
import { loadSynthetic } from './layouts/synthetic';
import type { LoadedSource, RawExample } from './layouts/types';
import { loadCocoCaptions } from './layouts/coco-captions';
import { loadMulti30k } from './layouts/multi30k';
import { loadVqaV2 } from './layouts/vqa-v2';
import { ManifestSchema, MANIFEST_FILE, MAX_LISTED_SKIPS, TOKENIZER_FILE, type MajorityBaseline, type Manifest, type ShardEntry, type SplitEntry } from './manifest';
import { recordLayout, type RecordLayout } from './shard-format';
import { ShardWriter } from './shard-writer';
import { parseDataSource, SPLITS, taskOf, type DataSource, type DataSourceInput, type DataTask, type SplitName } from './source';
import { buildWordTokenizer, loadWordPieceVocab, type Tokenizer } from './tokenizer';
import { buildAnswerVocab, encodeAnswers, normalizeQuestionAnswers, softScores, SurfaceFormCounter } from './vqa-answers';
import { normalizeVqaAnswer } from './vqa-normalize';

export interface PrepareOptions {
  /** Overrides the source's `skipMissingImages`. */
  readonly skipMissingImages?: boolean;
  /** Overrides the source's `skipBadImages`. */
  readonly skipBadImages?: boolean;
  /** Images loaded concurrently (I/O bound on S3). @default 8 */
  readonly concurrency?: number;
  /** Progress per split (records written so far). */
  readonly onProgress?: (p: { split: SplitName; done: number; total: number }) => void;
  /**
   * Prepare the data for a given teacher (an ONNX teacher, trainer/onnx/teacher-data.ts): its
   * tokenizer, image size, text length, pixel normalisation and answer classes replace what
   * would be built from the source, so the cached teacher logits line up with the students' classes.
   */
  readonly teacher?: TeacherDataContract;
}

/** What a given teacher fixes about the data it reads. */
export interface TeacherDataContract {
  readonly tokenizer: Tokenizer;
  readonly imageSize: number;
  readonly maxTextLength: number;
  readonly pixelStats: { readonly mean: [number, number, number]; readonly std: [number, number, number] };
  /** VQA: the teacher's answer classes in logit order. */
  readonly answers?: readonly string[];
}

export interface PrepareSummary {
  readonly manifestUri: string;
  readonly task: DataTask;
  readonly splits: Readonly<Record<SplitName, { examples: number; images: number; shards: number; bytes: number; sameAs?: SplitName }>>;
  /** Shard URIs per split (test lists val's when val doubles as test). */
  readonly shardUris: Readonly<Record<SplitName, string[]>>;
  readonly vocabSize: number;
  readonly tokens: Readonly<Record<SplitName, SplitEntry['tokens']>>;
  /** VQA only. */
  readonly answerVocabSize?: number;
  readonly answerCoverage?: Readonly<Record<SplitName, number>>;
  /** VQA: the most frequent training label, its training share and its VQA score on test. */
  readonly majorityBaseline?: MajorityBaseline;
  /** Distinct shard files written and their total bytes. */
  readonly shards: number;
  readonly bytes: number;
  readonly skipped: { readonly missingImages: number; readonly badImages: number };
}

/** Per-channel mean and std of RGB uint8 images, reported on the [0, 1] scale. */
class PixelStats {
  private readonly sum = [0, 0, 0];
  private readonly sumSq = [0, 0, 0];
  private pixels = 0;

  /** Adds an image `[S, S, 3]`. */
  add(image: Uint8Array): void {
    for (let i = 0; i < image.length; i += 3) {
      for (let c = 0; c < 3; c++) {
        const v = image[i + c]!;
        this.sum[c]! += v;
        this.sumSq[c]! += v * v;
      }
    }
    this.pixels += image.length / 3;
  }

  result(): { mean: [number, number, number]; std: [number, number, number] } {
    const n = Math.max(1, this.pixels);
    const mean = this.sum.map((s) => s / n / 255) as [number, number, number];
    // A constant channel (std 0) would divide by zero when normalising: floor the std.
    const std = this.sumSq.map((s, c) => Math.max(Math.sqrt(Math.max(0, s / n / 255 ** 2 - mean[c]! ** 2)), 1e-3)) as [number, number, number];
    return { mean, std };
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

/**
 * Deletes shard files a previous, larger preparation left in the folder (the manifest no longer
 * lists them). Runs after the manifest is written, and only touches `<split>/shard-*.bin`.
 */
async function removeStaleShards(out: string, manifest: Manifest): Promise<void> {
  const listed = new Set(SPLITS.flatMap((s) => manifest.splits[s].shards.map((e) => joinUri(out, e.file))));
  const storage = storageFor(out);
  for (const uri of await storage.list(out)) {
    const rel = uri.slice(out.length).replace(/^\/+/, '');
    if (/^(train|val|test)\/shard-\d+\.bin$/.test(rel) && !listed.has(uri)) await storage.delete(uri);
  }
}

/** The training label seen most often among the given classes (ties: the earlier class). */
function mostFrequentClass(labels: readonly string[], classes: ReadonlyMap<string, number>): string | undefined {
  const counts = new Map<string, number>();
  for (const l of labels) if (classes.has(l)) counts.set(l, (counts.get(l) ?? 0) + 1);
  let best: string | undefined;
  for (const [a, n] of counts) if (best === undefined || n > counts.get(best)! || (n === counts.get(best)! && classes.get(a)! < classes.get(best)!)) best = a;
  return best;
}

/** Decoded images kept while writing a split (by image key). */
const IMAGE_CACHE_SIZE = 64;

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

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

async function buildTokenizer(source: DataSource, train: readonly RawExample[]): Promise<Tokenizer> {
  const t = source.tokenizer;
  if (t.wordpieceVocab) {
    const uri = toUri(t.wordpieceVocab);
    const text = (await storageFor(uri).get(uri)).toString('utf8');
    return loadWordPieceVocab(text, t.lowercase, uri);
  }
  function* texts(): Generator<string> {
    for (const ex of train) {
      if (ex.text) yield ex.text;
      yield* ex.targets;
    }
  }
  return buildWordTokenizer(texts(), { minCount: t.minCount, maxVocab: t.maxVocab, lowercase: t.lowercase });
}

interface SkipLog {
  missingImages: number;
  badImages: number;
  items: { split: string; id: string; reason: string }[];
}

interface WrittenSplit {
  readonly entry: SplitEntry;
  /** Source examples written (VQA: one record each). */
  readonly kept: number;
  /** Test accuracy of the majority answer (VQA), summed over examples. */
  readonly majorityScoreSum: number;
}

/** Loads an example's image, or returns null when the options say to skip it. */
async function loadOrSkip(
  ex: RawExample,
  split: SplitName,
  skipMissing: boolean,
  skipBad: boolean,
  skips: SkipLog,
  cache: Map<string, Promise<Uint8Array>>,
): Promise<Uint8Array | null> {
  // VQA asks several questions about one image: decode it once (questions of an image are adjacent in the files).
  let pending = cache.get(ex.imageKey);
  if (!pending) {
    pending = ex.loadImage();
    pending.catch(() => undefined); // handled below, per example
    cache.set(ex.imageKey, pending);
    if (cache.size > IMAGE_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  }
  try {
    return await pending;
  } catch (e) {
    if (e instanceof DataError && ((e.code === 'missing-image' && skipMissing) || (e.code === 'bad-image' && skipBad))) {
      if (e.code === 'missing-image') skips.missingImages++;
      else skips.badImages++;
      if (skips.items.length < MAX_LISTED_SKIPS) skips.items.push({ split, id: ex.id, reason: e.message });
      return null;
    }
    throw e;
  }
}

export async function prepareData(sourceInput: DataSourceInput | DataSource, outUri: string, options: PrepareOptions = {}): Promise<PrepareSummary> {
  const parsed = parseDataSource(sourceInput);
  const fixed = options.teacher;
  const source: DataSource = fixed ? { ...parsed, imageSize: fixed.imageSize, maxTextLength: fixed.maxTextLength } : parsed;
  const out = toUri(outUri);
  const manifestUri = joinUri(out, MANIFEST_FILE);
  const storage = storageFor(manifestUri);
  await storage.delete(manifestUri); // 1. nothing below may look complete until the new manifest lands

  const task = taskOf(source);
  const loaded = await loadSource(source); // 2.
  const splitExamples: Record<SplitName, readonly RawExample[]> = {
    train: loaded.train,
    val: loaded.val,
    test: loaded.test === 'val' ? loaded.val : loaded.test,
  };
  for (const split of SPLITS) {
    if (splitExamples[split].length === 0) {
      throw new DataError('empty-split', `the ${split} split of the ${source.format} source has no examples (${splitFiles(source, split)}): give it at least one`);
    }
  }

  const tokenizer = fixed?.tokenizer ?? (await buildTokenizer(source, loaded.train)); // 3.
  let answerVocab: string[] | undefined;
  let surfaceForms: string[] | undefined;
  let classes: Map<string, number> | undefined;
  let trainLabels: string[] = [];
  let majority: string | undefined;
  if (task === 'vqa') {
    // Classes are normalised answers; each is written out in its most frequent raw training form.
    trainLabels = loaded.train.map((ex) => normalizeQuestionAnswers(ex.answers ?? [], ex.label).label);
    // A teacher's classes stay in its logit order, normalised like the labels and written as the teacher writes them.
    answerVocab = fixed?.answers ? fixed.answers.map((a) => normalizeVqaAnswer(a)) : buildAnswerVocab(trainLabels, source.answerVocabSize);
    const forms = new SurfaceFormCounter();
    for (const ex of loaded.train) forms.add(ex.answers ?? []);
    surfaceForms = fixed?.answers ? [...fixed.answers] : forms.surfaceForms(answerVocab);
    classes = new Map(answerVocab.map((a, i) => [a, i]));
    // A built vocabulary is sorted by frequency; a teacher's is in its logit order.
    majority = fixed?.answers ? mostFrequentClass(trainLabels, classes) : answerVocab[0];
  }

  const layout: RecordLayout = recordLayout({ task, imageSize: source.imageSize, maxTextLength: source.maxTextLength, maxTargetLength: source.maxTargetLength });
  const skipMissing = options.skipMissingImages ?? source.skipMissingImages;
  const skipBad = options.skipBadImages ?? source.skipBadImages;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const skips: SkipLog = { missingImages: 0, badImages: 0, items: [] };
  const pixelStats = new PixelStats();

  const writeSplit = async (split: SplitName): Promise<WrittenSplit> => {
    const examples = splitExamples[split];
    const writer = new ShardWriter(out, split, task, layout, source.shardSize);
    const references: Record<string, readonly string[]> = {};
    const tokens = { text: 0, target: 0, unknown: 0, truncatedTexts: 0, truncatedTargets: 0 };
    const imageKeys = new Set<string>();
    let kept = 0; // source examples written (VQA: = records)
    let covered = 0;
    let majorityScoreSum = 0;
    let annotatorsDisagree = false; // VQA: several different human answers somewhere in the split
    const imageCache = new Map<string, Promise<Uint8Array>>();
    for (let start = 0; start < examples.length; start += concurrency) {
      const chunk = examples.slice(start, start + concurrency);
      const pixels = await Promise.all(chunk.map((ex) => loadOrSkip(ex, split, skipMissing, skipBad, skips, imageCache)));
      for (let c = 0; c < chunk.length; c++) {
        const ex = chunk[c]!;
        const image = pixels[c];
        if (!image) continue;
        kept++;
        const newImage = !imageKeys.has(ex.imageKey);
        imageKeys.add(ex.imageKey);
        if (split === 'train' && newImage) pixelStats.add(image);
        const text = tokenizer.encode(ex.text, { length: source.maxTextLength });
        tokens.text += text.ids.filter((id) => id !== SPECIAL_TOKENS.PAD).length;
        tokens.unknown += text.unknown;
        if (text.truncated > 0) tokens.truncatedTexts++;
        if (task === 'vqa') {
          const raw = ex.answers ?? [];
          const { answers, label } = normalizeQuestionAnswers(raw, ex.label);
          const enc = encodeAnswers(answers, label, classes!);
          // Every annotator's answer (VQA v2 has 10) AS WRITTEN: the official accuracy needs them
          // all, raw, because it normalises only when they disagree.
          references[ex.id] = raw;
          if (new Set(raw).size > 1) annotatorsDisagree = true;
          if (enc.answerLabel >= 0) covered++;
          if (majority !== undefined) majorityScoreSum += softScores(answers).get(majority) ?? 0;
          await writer.add({ id: ex.id, image, text: text.ids, ...enc });
          continue;
        }
        // Generation: train has a record per reference; val/test one per image (first reference).
        references[ex.id] = ex.targets;
        const targets = split === 'train' && task === 'captioning' ? ex.targets : ex.targets.slice(0, 1);
        for (let k = 0; k < targets.length; k++) {
          const target = tokenizer.encode(targets[k]!, { length: source.maxTargetLength + 1, bosEos: true });
          tokens.target += target.ids.filter((id) => id >= SPECIAL_TOKEN_STRINGS.length).length; // words only
          tokens.unknown += target.unknown;
          if (target.truncated > 0) tokens.truncatedTargets++;
          const id = targets.length > 1 ? `${ex.id}#${k}` : ex.id;
          await writer.add({ id, image, text: text.ids, target: target.ids });
        }
      }
      options.onProgress?.({ split, done: Math.min(start + concurrency, examples.length), total: examples.length });
    }
    const shards: ShardEntry[] = await writer.finish();
    const examplesWritten = shards.reduce((n, s) => n + s.count, 0);
    if (examplesWritten === 0) {
      throw new DataError('empty-split', `the ${split} split has no examples left after skipping ${examples.length} with missing or undecodable images`);
    }
    let refEntry: SplitEntry['references'];
    // Generation: every reference per example. VQA: the human answers per question when the
    // annotators disagree somewhere (real VQA v2), so evaluation uses the official accuracy;
    // single-answer data such as the synthetic world is scored against its label answer instead.
    if (task !== 'vqa' || (split !== 'train' && annotatorsDisagree)) {
      const file = `${split}/references.json`;
      const body = JSON.stringify(references);
      const uri = joinUri(out, file);
      await storageFor(uri).put(uri, body);
      refEntry = { file, sha256: sha256(body) };
    }
    const entry: SplitEntry = {
      examples: examplesWritten,
      images: imageKeys.size,
      shards,
      ...(refEntry ? { references: refEntry } : {}),
      tokens,
      ...(task === 'vqa' ? { answerCoverage: covered / Math.max(1, kept) } : {}),
    };
    return { entry, majorityScoreSum, kept };
  };

  // 4–5. train first: the pixel statistics come from it.
  const train = await writeSplit('train');
  const val = await writeSplit('val');
  const test = loaded.test === 'val' ? { ...val, entry: { ...val.entry, sameAs: 'val' as const } } : await writeSplit('test');

  const tokenizerBody = JSON.stringify(tokenizer.toJSON());
  await storageFor(joinUri(out, TOKENIZER_FILE)).put(joinUri(out, TOKENIZER_FILE), tokenizerBody);


  let answers: Manifest['answers'];
  if (answerVocab && surfaceForms && majority !== undefined) {
    answers = {
      vocab: answerVocab,
      surfaceForms,
      majority: {
        answer: majority,
        trainFraction: trainLabels.filter((l) => l === majority).length / trainLabels.length,
        testAccuracy: test.majorityScoreSum / test.kept,
      },
    };
  }
  const manifest: Manifest = ManifestSchema.parse({
    version: 1,
    task,
    source: loaded.description,
    imageSize: source.imageSize,
    maxTextLength: source.maxTextLength,
    maxTargetLength: source.maxTargetLength,
    layout,
    pixelStats: fixed ? { mean: [...fixed.pixelStats.mean], std: [...fixed.pixelStats.std] } : pixelStats.result(),
    tokenizer: { file: TOKENIZER_FILE, kind: tokenizer.kind, vocabSize: tokenizer.vocabSize, sha256: sha256(tokenizerBody) },
    ...(answers ? { answers } : {}),
    splits: { train: train.entry, val: val.entry, test: test.entry },
    skipped: skips,
  });
  await storage.put(manifestUri, JSON.stringify(manifest, null, 2)); // 6. last
  await removeStaleShards(out, manifest);

  const written = { train: train.entry, val: val.entry, test: test.entry };
  const distinct = [train.entry, val.entry, ...(test.entry.sameAs ? [] : [test.entry])];
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
          bytes: written[s].shards.reduce((n, e) => n + e.bytes, 0),
          ...(written[s].sameAs ? { sameAs: written[s].sameAs } : {}),
        },
      ]),
    ) as PrepareSummary['splits'],
    shardUris: Object.fromEntries(SPLITS.map((s) => [s, written[s].shards.map((e) => joinUri(out, e.file))])) as PrepareSummary['shardUris'],
    vocabSize: tokenizer.vocabSize,
    tokens: { train: train.entry.tokens, val: val.entry.tokens, test: test.entry.tokens },
    ...(answers
      ? {
          answerVocabSize: answers.vocab.length,
          answerCoverage: { train: train.entry.answerCoverage!, val: val.entry.answerCoverage!, test: test.entry.answerCoverage! },
          majorityBaseline: answers.majority,
        }
      : {}),
    shards: distinct.reduce((n, e) => n + e.shards.length, 0),
    bytes: distinct.reduce((n, e) => n + e.shards.reduce((m, s) => m + s.bytes, 0), 0),
    skipped: { missingImages: skips.missingImages, badImages: skips.badImages },
  };
}
