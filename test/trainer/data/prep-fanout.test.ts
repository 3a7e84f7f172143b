/**
 * The fanned-out preparation (plan → vocabulary → chunks → merge) on a VQA v2-layout corpus of
 * real shape (bench/vqa-v2-corpus: COCO-size JPEGs, the official JSON files, ~5.4 questions per
 * image): every example matches an independent reading of the files, images are stored once,
 * the pixel statistics equal one pass over the distinct training images, steps resume.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generateVqaV2Corpus, type VqaV2Corpus } from '../../../bench/vqa-v2-corpus';
import { openDataset } from '../../../trainer/data/dataset';
import { decodeImage, toSquareRgb } from '../../../trainer/data/image';
import { imageFileName } from '../../../trainer/data/layouts/images';
import { prepareChunk } from '../../../trainer/data/prep/chunk';
import { PLAN_FILE, chunkResultFile } from '../../../trainer/data/prep/files';
import { mergePreparation, pixelStatsFromSums } from '../../../trainer/data/prep/merge';
import { planPreparation } from '../../../trainer/data/prep/plan';
import { buildVocabulary } from '../../../trainer/data/prep/vocabulary';
import { prepareData } from '../../../trainer/data/prepare';
import { cleanWhitespace, normalizeVqaAnswer } from '../../../trainer/data/vqa-normalize';
import { mostFrequentAnswer } from '../../../trainer/data/vqa-answers';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'amad-fanout-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const S = 16;
let corpus: VqaV2Corpus;
let source: Parameters<typeof prepareData>[0];

beforeAll(async () => {
  // 25 train images / 133 questions, 12 val images / 64 questions; 4 distinct pictures.
  corpus = await generateVqaV2Corpus({ dir: tmp(), fraction: 0.0003, seed: 3, distinctImages: 4 });
  // 16 records per shard, 2 shards per chunk: train is cut into several chunks of whole images.
  source = { ...corpus.source, imageSize: S, shardSize: 16, chunkShards: 2, answerVocabSize: 50, maxTextLength: 10 };
}, 60_000);

interface OfficialQuestion { image_id: number; question: string; question_id: number }
interface OfficialAnnotation { question_id: number; image_id: number; multiple_choice_answer: string; answers: { answer: string }[] }

/** The split read independently, whole, with JSON.parse (small files only). */
function readOfficial(split: 'train' | 'val') {
  const q = JSON.parse(readFileSync(corpus.source.questions[split] as string, 'utf8')).questions as OfficialQuestion[];
  const a = JSON.parse(readFileSync(corpus.source.annotations[split] as string, 'utf8')).annotations as OfficialAnnotation[];
  const byQ = new Map(a.map((x) => [x.question_id, x]));
  return q.map((x) => ({ ...x, ann: byQ.get(x.question_id)! }));
}

describe('fanned-out preparation of a VQA v2-layout corpus', () => {
  let out: string;
  let planChunks: number;
  beforeAll(async () => {
    out = tmp();
    const plan = await planPreparation(source, out);
    planChunks = plan.chunks;
    await buildVocabulary(out);
    for (let i = 0; i < plan.chunks; i++) await prepareChunk(out, i);
    await mergePreparation(out);
  }, 120_000);

  it('cuts the splits into chunks of whole images within the stated bound', async () => {
    const plan = JSON.parse(readFileSync(path.join(out, PLAN_FILE), 'utf8'));
    expect(planChunks).toBeGreaterThan(3);
    expect(plan.bounds.recordCap).toBe(32);
    for (const c of plan.chunks) expect(c.records).toBeLessThanOrEqual(32);
    expect(plan.splits.train).toMatchObject({ images: corpus.counts.train.images, examples: corpus.counts.train.questions });
    // Only chunk indices and small counts: the plan of a chunk never carries question lists in the state.
    const planned = await planPreparation(source, tmp());
    expect(JSON.stringify({ complete: false, chunks: Array.from({ length: planned.chunks }, (_, i) => i) }).length).toBeLessThan(200);
  });

  it('gives every question of the files, with its text, normalised answers, label and image', async () => {
    const ds = await openDataset(out);
    for (const split of ['train', 'val'] as const) {
      const official = readOfficial(split);
      const reader = ds.split(split);
      expect(reader.size).toBe(official.length);
      const records = new Map<string, Awaited<ReturnType<typeof reader.record>>>();
      for (let i = 0; i < reader.size; i++) {
        const r = await reader.record(i);
        records.set(r.id, r);
      }
      const decoded = new Map<number, Uint8Array>();
      for (const q of official) {
        const r = records.get(String(q.question_id))!;
        expect(r).toBeDefined();
        expect(Array.from(r.text)).toEqual(Array.from(ds.tokenizer.encode(q.question, { length: 10 }).ids));
        const answers = q.ann.answers.map((x) => normalizeVqaAnswer(x.answer));
        const label = normalizeVqaAnswer(q.ann.multiple_choice_answer);
        expect(r.answerLabel).toBe(ds.answerVocab.indexOf(label));
        const scored = Array.from(r.answerIndex!).filter((k) => k >= 0).map((k) => ds.answerVocab[k]);
        expect(new Set(scored)).toEqual(new Set(answers.filter((x) => ds.answerVocab.includes(x))));
        expect(r.imageId).toBe(String(q.image_id));
        if (!decoded.has(q.image_id)) {
          const file = path.join(corpus.source.images[split] as string, imageFileName('COCO_{split}2014_{id:12}.jpg', split, q.image_id));
          decoded.set(q.image_id, toSquareRgb(decodeImage(readFileSync(file), file), S));
        }
        expect(Buffer.from(r.image).equals(Buffer.from(decoded.get(q.image_id)!))).toBe(true);
      }
    }
    // Answer classes from the training labels only; val references keep all ten human answers.
    const trainLabels = readOfficial('train').map((q) => normalizeVqaAnswer(q.ann.multiple_choice_answer));
    expect(ds.answerVocab[0]).toBe(mostFrequentAnswer(trainLabels));
    // Each class is written in its most frequent raw training form ("2" may be written "two").
    expect(ds.answerSurfaceForms.length).toBe(ds.answerVocab.length);
    ds.answerSurfaceForms.forEach((form, k) => expect(normalizeVqaAnswer(form)).toBe(ds.answerVocab[k]));
    const refs = await ds.split('val').references();
    const q0 = readOfficial('val')[0]!;
    // As written (issue 18: the official scorer normalises only when annotators disagree).
    expect(refs.get(String(q0.question_id))).toEqual(q0.ann.answers.map((x) => cleanWhitespace(x.answer)));
  });

  it('stores each image once: image records = distinct images, example records carry no pixels', async () => {
    const ds = await openDataset(out);
    const m = ds.manifest;
    expect(m.version).toBe(2);
    for (const split of ['train', 'val'] as const) {
      const images = m.splits[split].imageShards.reduce((n, s) => n + s.count, 0);
      expect(images).toBe(corpus.counts[split].images);
      expect(m.splits[split].images).toBe(images);
      expect(m.splits[split].examples).toBe(corpus.counts[split].questions);
      for (const s of [...m.splits[split].shards, ...m.splits[split].imageShards]) expect(statSync(path.join(out, s.file)).size).toBe(s.bytes);
    }
    expect(m.layout.recordSize).toBeLessThan(S * S * 3);
  });

  it('pixel statistics equal one pass over the distinct training images', async () => {
    const ds = await openDataset(out);
    const sum = [0, 0, 0];
    const sumSq = [0, 0, 0];
    let count = 0;
    const seen = new Set<number>();
    for (const q of readOfficial('train')) {
      if (seen.has(q.image_id)) continue;
      seen.add(q.image_id);
      const file = path.join(corpus.source.images.train as string, imageFileName('COCO_{split}2014_{id:12}.jpg', 'train', q.image_id));
      const px = toSquareRgb(decodeImage(readFileSync(file), file), S);
      for (let i = 0; i < px.length; i++) {
        sum[i % 3]! += px[i]!;
        sumSq[i % 3]! += px[i]! ** 2;
      }
      count += px.length / 3;
    }
    expect(ds.manifest.pixelStats).toEqual(pixelStatsFromSums(sum, sumSq, count));
  });

  it('prepareData in one process writes the same manifest as the separate steps', async () => {
    const one = tmp();
    await prepareData(source, one);
    expect(readFileSync(path.join(one, 'manifest.json'), 'utf8')).toBe(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  }, 120_000);
});

describe('steps in the wrong order, and resuming', () => {
  it('a chunk before the vocabulary, or a merge with a chunk missing, names what to run', async () => {
    const out = tmp();
    await expect(prepareChunk(out, 0)).rejects.toThrow(/plan\.json not found: run planPreparation/);
    await planPreparation(source, out);
    await expect(prepareChunk(out, 0)).rejects.toThrow(/vocabulary\.json not found: run buildVocabulary/);
    await buildVocabulary(out);
    await expect(prepareChunk(out, 999)).rejects.toThrow(/chunk 999 is outside the plan's \d+ chunk/);
    await prepareChunk(out, 0);
    await expect(mergePreparation(out)).rejects.toThrow(/cannot merge: \d+ chunk\(s\) not prepared for this plan \(train chunk 1/);
  }, 60_000);

  it('a re-run skips committed chunks; a new plan (other source) redoes them', async () => {
    const out = tmp();
    await planPreparation(source, out);
    await buildVocabulary(out);
    const first = await prepareChunk(out, 0);
    expect(first.skipped).toBe(false);
    const resultFile = path.join(out, chunkResultFile('train', 0));
    const written = statSync(resultFile).mtimeMs;
    // Plan and vocabulary again (what a resumed pipeline does): the same plan id, chunk 0 is kept.
    await planPreparation(source, out);
    await buildVocabulary(out);
    expect((await prepareChunk(out, 0)).skipped).toBe(true);
    expect(statSync(resultFile).mtimeMs).toBe(written);
    await planPreparation({ ...source, maxTextLength: 12 }, out);
    await buildVocabulary(out);
    expect((await prepareChunk(out, 0)).skipped).toBe(false);
  }, 60_000);
});
