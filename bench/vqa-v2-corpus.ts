/**
 * A VQA v2-layout corpus of real shape, at a chosen fraction of VQA v2's size, for scale
 * benchmarks (not tests): COCO-like JPEG photos (640×480, 480×640 and 640×427, the common COCO
 * sizes), the official questions and annotations JSON files (every field the official files
 * carry; 10 answers per question with realistic disagreement and raw, un-normalised surface forms
 * such as "Yes", "two", "2 "), and the official file and folder names:
 *
 *     <dir>/Questions/v2_OpenEnded_mscoco_{train,val}2014_questions.json
 *     <dir>/Annotations/v2_mscoco_{train,val}2014_annotations.json
 *     <dir>/{train,val}2014/COCO_{train,val}2014_<12-digit image id>.jpg
 *
 * Full size (fraction 1) is 443,757 train + 214,354 val questions on 82,783 + 40,504 images, so
 * 5.36 (train) and 5.29 (val) questions per image, as in the release; each image gets the floor
 * of the ratio and a seeded choice of images one more. Question ids follow the official scheme
 * (image id × 1000 + k). The JSON files are written as streams, so fraction 1 needs no more
 * memory than fraction 0.01.
 *
 * Encoding 123k 640×480 JPEGs in pure JS takes long; `distinctImages` encodes that many different
 * pictures and writes each image file as one of them (same byte sizes and decoding work as
 * distinct photos, which is what preparation cost depends on). Give `distinctImages: Infinity`
 * for every file distinct.
 *
 *     npx tsx bench/run.ts vqa-v2-corpus --dir /tmp/vqa --fraction 0.01 [--seed 0] [--distinct-images 256]
 */
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import { Prng } from '../trainer/data/prng';
import type { VqaV2SourceInput } from '../trainer/data/source';

/** VQA v2 (Goyal et al. 2017) release counts. */
export const VQA_V2_COUNTS = {
  train: { questions: 443_757, images: 82_783 },
  val: { questions: 214_354, images: 40_504 },
} as const;

export interface VqaV2CorpusOptions {
  /** Output folder (created). */
  readonly dir: string;
  /** Share of VQA v2's size, in (0, 1]; every split keeps at least one image and one question per image. */
  readonly fraction: number;
  /** @default 0 */
  readonly seed?: number;
  /** Different JPEG pictures encoded; image files reuse them round-robin. @default 256 */
  readonly distinctImages?: number;
  /** JPEG quality (COCO photos average ~160 KB at 640×480, about quality 90 for natural images). @default 90 */
  readonly quality?: number;
  /** Progress (images written so far, all splits). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface VqaV2Corpus {
  readonly dir: string;
  /** A vqa-v2 data source reading this corpus (add imageSize etc. as needed). */
  readonly source: VqaV2SourceInput;
  readonly counts: { readonly train: { questions: number; images: number }; readonly val: { questions: number; images: number } };
  /** Bytes written: JPEG files and JSON files. */
  readonly bytes: { readonly images: number; readonly json: number };
}

const OBJECTS = ['dog', 'cat', 'person', 'car', 'bus', 'train', 'pizza', 'umbrella', 'bench', 'kite', 'surfboard', 'giraffe', 'horse', 'clock', 'laptop', 'bicycle', 'plate', 'boat', 'sign', 'bird', 'elephant', 'tree', 'table', 'cup'];
const COLOURS = ['white', 'black', 'red', 'blue', 'green', 'brown', 'yellow', 'gray', 'orange', 'pink', 'silver', 'purple'];
const PLACES = ['kitchen', 'beach', 'street', 'park', 'field', 'living room', 'airport', 'ocean', 'snow', 'city', 'zoo', 'bathroom'];
const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

interface QuestionDraft {
  readonly question: string;
  readonly questionType: string;
  readonly answerType: 'yes/no' | 'number' | 'other';
  /** The "true" answer most annotators give (normalised form). */
  readonly answer: string;
  /** Plausible alternatives (normalised forms). */
  readonly alternatives: readonly string[];
}

/** A question of the VQA v2 mix: ~38% yes/no, ~12% number, ~50% other. */
function draftQuestion(rng: Prng): QuestionDraft {
  const obj = OBJECTS[rng.int(OBJECTS.length)]!;
  const r = rng.next();
  if (r < 0.38) {
    const yes = rng.chance(0.5);
    const q = [`Is there a ${obj} in the picture?`, `Is the ${obj} ${COLOURS[rng.int(COLOURS.length)]}?`, `Is this ${PLACES[rng.int(PLACES.length)]}?`][rng.int(3)]!;
    return { question: q, questionType: q.startsWith('Is there') ? 'is there a' : q.startsWith('Is this') ? 'is this' : 'is the', answerType: 'yes/no', answer: yes ? 'yes' : 'no', alternatives: [yes ? 'no' : 'yes'] };
  }
  if (r < 0.5) {
    // Counts: mostly small, a long tail.
    const n = Math.min(10, Math.floor(-Math.log(1 - rng.next() * 0.999) * 1.6));
    return { question: `How many ${obj}s are there?`, questionType: 'how many', answerType: 'number', answer: String(n), alternatives: [String(Math.max(0, n - 1)), String(n + 1)] };
  }
  const kind = rng.int(3);
  if (kind === 0) {
    const c = COLOURS[rng.int(COLOURS.length)]!;
    return { question: `What color is the ${obj}?`, questionType: 'what color is the', answerType: 'other', answer: c, alternatives: [COLOURS[rng.int(COLOURS.length)]!, `${c} and ${COLOURS[rng.int(COLOURS.length)]}`] };
  }
  if (kind === 1) {
    const p = PLACES[rng.int(PLACES.length)]!;
    return { question: `Where is the ${obj}?`, questionType: 'where is the', answerType: 'other', answer: p, alternatives: [PLACES[rng.int(PLACES.length)]!, `in ${p}`] };
  }
  // A long tail of object answers: a Zipf-like pick from a large synthetic vocabulary, so the
  // answer vocabulary has thousands of classes as in VQA v2 (3,129 kept of ~22k raw answers).
  const rank = Math.floor(Math.exp(rng.next() * Math.log(20000)));
  const answer = rank < OBJECTS.length ? OBJECTS[rank]! : `${OBJECTS[rank % OBJECTS.length]} ${rank}`;
  return { question: `What is next to the ${obj}?`, questionType: 'what is', answerType: 'other', answer, alternatives: [OBJECTS[rng.int(OBJECTS.length)]!] };
}

/** A raw (un-normalised) surface form as annotators type it: case, number words, articles, stray spaces. */
function rawForm(answer: string, rng: Prng): string {
  const r = rng.next();
  if (/^\d+$/.test(answer) && Number(answer) <= 10 && r < 0.15) return NUMBER_WORDS[Number(answer)]!;
  if (r < 0.1) return answer[0]!.toUpperCase() + answer.slice(1);
  if (r < 0.13) return `${answer} `;
  if (r < 0.16 && !/^\d/.test(answer) && answer !== 'yes' && answer !== 'no') return `a ${answer}`;
  return answer;
}

/** Ten annotators: most agree, some give an alternative (VQA v2 agreement is high but not unanimous). */
function annotate(d: QuestionDraft, rng: Prng): { answers: { answer: string; answer_confidence: string; answer_id: number }[]; multipleChoice: string } {
  const agree = 0.55 + 0.45 * rng.next(); // per-question agreement level
  const answers = Array.from({ length: 10 }, (_, k) => {
    const base = rng.next() < agree ? d.answer : d.alternatives[rng.int(d.alternatives.length)]!;
    const conf = rng.next();
    return { answer: rawForm(base, rng), answer_confidence: conf < 0.8 ? 'yes' : conf < 0.95 ? 'maybe' : 'no', answer_id: k + 1 };
  });
  // multiple_choice_answer: the most frequent raw answer (the release's definition), first wins ties.
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a.answer, (counts.get(a.answer) ?? 0) + 1);
  let multipleChoice = answers[0]!.answer;
  for (const [a, n] of counts) if (n > counts.get(multipleChoice)!) multipleChoice = a;
  return { answers, multipleChoice };
}

/** A photo-like picture: smooth gradient background, a few shaded blobs, sensor noise. RGB `[h, w, 3]` as RGBA for jpeg-js. */
function renderPicture(width: number, height: number, rng: Prng): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  const bg = [rng.int(256), rng.int(256), rng.int(256)];
  const bg2 = [rng.int(256), rng.int(256), rng.int(256)];
  const blobs = Array.from({ length: 3 + rng.int(6) }, () => ({
    x: rng.next() * width,
    y: rng.next() * height,
    r: 30 + rng.next() * 150,
    c: [rng.int(256), rng.int(256), rng.int(256)],
    stripe: rng.next() < 0.5 ? 4 + rng.int(20) : 0,
  }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x / width + y / height) / 2;
      let rgb = [0, 1, 2].map((c) => bg[c]! * (1 - t) + bg2[c]! * t);
      for (const b of blobs) {
        const d = Math.hypot(x - b.x, y - b.y);
        if (d < b.r) {
          const shade = 1 - 0.5 * (d / b.r);
          const stripe = b.stripe && Math.floor((x + y) / b.stripe) % 2 ? 0.8 : 1;
          rgb = b.c.map((v) => v * shade * stripe);
        }
      }
      const o = (y * width + x) * 4;
      for (let c = 0; c < 3; c++) data[o + c] = Math.max(0, Math.min(255, rgb[c]! + (rng.next() - 0.5) * 28));
      data[o + 3] = 255;
    }
  }
  return data;
}

const COCO_SIZES: readonly [number, number][] = [
  [640, 480],
  [480, 640],
  [640, 427],
];

/** Distinct COCO-like image ids in the COCO 2014 range (up to 581,929), in increasing order. */
function imageIds(n: number, taken: Set<number>, rng: Prng): number[] {
  const ids: number[] = [];
  while (ids.length < n) {
    const id = 1 + rng.int(581_929);
    if (taken.has(id)) continue;
    taken.add(id);
    ids.push(id);
  }
  return ids.sort((a, b) => a - b);
}

/** Writes a JSON object `{...head, [key]: [items…]}` item by item, so its size is not bounded by memory. */
async function writeJsonStream(file: string, head: Record<string, unknown>, key: string, items: Iterable<unknown>): Promise<number> {
  const out = createWriteStream(file);
  let bytes = 0;
  const write = async (s: string) => {
    bytes += Buffer.byteLength(s);
    if (!out.write(s)) await once(out, 'drain');
  };
  await write(JSON.stringify(head).slice(0, -1) + (Object.keys(head).length ? ',' : '') + `${JSON.stringify(key)}:[`);
  let first = true;
  for (const item of items) {
    await write((first ? '' : ',') + JSON.stringify(item));
    first = false;
  }
  await write(']}');
  out.end();
  await once(out, 'finish');
  return bytes;
}

/** Writes the corpus; deterministic for a given (fraction, seed, distinctImages, quality). */
export async function generateVqaV2Corpus(opts: VqaV2CorpusOptions): Promise<VqaV2Corpus> {
  const { dir, fraction, seed = 0, distinctImages = 256, quality = 90 } = opts;
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`generateVqaV2Corpus: fraction must be in (0, 1], got ${fraction}`);
  if (!(distinctImages >= 1)) throw new RangeError(`generateVqaV2Corpus: distinctImages must be ≥ 1, got ${distinctImages}`);
  const rng = new Prng(seed);
  const counts = {
    train: { images: Math.max(1, Math.round(VQA_V2_COUNTS.train.images * fraction)), questions: 0 },
    val: { images: Math.max(1, Math.round(VQA_V2_COUNTS.val.images * fraction)), questions: 0 },
  };
  counts.train.questions = Math.max(counts.train.images, Math.round(VQA_V2_COUNTS.train.questions * fraction));
  counts.val.questions = Math.max(counts.val.images, Math.round(VQA_V2_COUNTS.val.questions * fraction));
  mkdirSync(path.join(dir, 'Questions'), { recursive: true });
  mkdirSync(path.join(dir, 'Annotations'), { recursive: true });

  const pool: Buffer[] = [];
  const total = counts.train.images + counts.val.images;
  let written = 0;
  const bytes = { images: 0, json: 0 };
  const taken = new Set<number>();
  const source: VqaV2SourceInput = {
    format: 'vqa-v2',
    questions: { train: '', val: '' },
    annotations: { train: '', val: '' },
    images: { train: '', val: '' },
  };
  for (const split of ['train', 'val'] as const) {
    const sub = `${split}2014`;
    const imgDir = path.join(dir, sub);
    mkdirSync(imgDir, { recursive: true });
    const ids = imageIds(counts[split].images, taken, rng);
    // Questions per image: floor(Q / I) each, one more for a seeded choice of (Q mod I) images.
    const perImage = new Array<number>(ids.length).fill(Math.floor(counts[split].questions / ids.length));
    const extra = Array.from({ length: ids.length }, (_, i) => i);
    rng.shuffle(extra);
    for (let k = 0; k < counts[split].questions % ids.length; k++) perImage[extra[k]!]!++;

    for (const id of ids) {
      const which = Number.isFinite(distinctImages) ? written % distinctImages : written;
      let body = pool[which];
      if (!body) {
        const [w, h] = COCO_SIZES[which % COCO_SIZES.length]!;
        const pictureRng = new Prng(seed * 1_000_003 + which);
        body = Buffer.from(jpeg.encode({ data: renderPicture(w, h, pictureRng), width: w, height: h }, quality).data);
        if (Number.isFinite(distinctImages)) pool[which] = body;
      }
      writeFileSync(path.join(imgDir, `COCO_${sub}_${String(id).padStart(12, '0')}.jpg`), body);
      bytes.images += body.length;
      opts.onProgress?.(++written, total);
    }

    // One pass draws every question and its annotation (same rng order for both files).
    const questions: { image_id: number; question: string; question_id: number }[] = [];
    const annotations: unknown[] = [];
    ids.forEach((imageId, i) => {
      for (let k = 0; k < perImage[i]!; k++) {
        const d = draftQuestion(rng);
        const questionId = imageId * 1000 + k;
        const { answers, multipleChoice } = annotate(d, rng);
        questions.push({ image_id: imageId, question: d.question, question_id: questionId });
        annotations.push({
          question_type: d.questionType,
          multiple_choice_answer: multipleChoice,
          answers,
          image_id: imageId,
          answer_type: d.answerType,
          question_id: questionId,
        });
      }
    });
    const info = { description: 'Synthetic corpus in the VQA v2 layout (amad-distill bench/vqa-v2-corpus.ts)', version: '2.0', year: 2017, fraction, seed };
    const license = { url: 'http://creativecommons.org/licenses/by/4.0/', name: 'Creative Commons Attribution 4.0 International License' };
    const qFile = path.join(dir, 'Questions', `v2_OpenEnded_mscoco_${sub}_questions.json`);
    const aFile = path.join(dir, 'Annotations', `v2_mscoco_${sub}_annotations.json`);
    bytes.json += await writeJsonStream(qFile, { info, task_type: 'Open-Ended', data_type: 'mscoco', license, data_subtype: sub }, 'questions', questions);
    bytes.json += await writeJsonStream(aFile, { info, license, data_subtype: sub }, 'annotations', annotations);
    (source.questions as Record<string, string>)[split] = qFile;
    (source.annotations as Record<string, string>)[split] = aFile;
    (source.images as Record<string, string>)[split] = imgDir;
  }
  return { dir, source, counts, bytes };
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

export async function run(args: string[]): Promise<void> {
  const dir = flag(args, 'dir');
  if (!dir) throw new Error('usage: bench/run vqa-v2-corpus --dir <folder> [--fraction 0.01] [--seed 0] [--distinct-images 256]');
  const distinct = flag(args, 'distinct-images');
  const corpus = await generateVqaV2Corpus({
    dir,
    fraction: Number(flag(args, 'fraction') ?? 0.01),
    seed: Number(flag(args, 'seed') ?? 0),
    distinctImages: distinct === 'all' ? Infinity : Number(distinct ?? 256),
    onProgress: (done, total) => {
      if (done % 500 === 0 || done === total) process.stderr.write(`images ${done}/${total}\n`);
    },
  });
  process.stdout.write(JSON.stringify({ dir: corpus.dir, counts: corpus.counts, bytes: corpus.bytes, source: corpus.source }, null, 2) + '\n');
}
