/** Tiny public-layout fixtures written by the tests themselves (images made with jpeg-js / pngjs). */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { VqaV2SourceInput } from '../../../trainer/data/source';

export type Rgb = readonly [number, number, number];

/** A solid-colour JPEG of w×h. */
export function solidJpeg(w: number, h: number, rgb: Rgb): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([rgb[0], rgb[1], rgb[2], 255], i * 4);
  return jpeg.encode({ width: w, height: h, data }, 95).data;
}

/** A PNG from a per-pixel colour function (RGBA, opaque). */
export function png(w: number, h: number, colour: (x: number, y: number) => Rgb): Buffer {
  const img = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img.data.set([...colour(x, y), 255], (y * w + x) * 4);
  return PNG.sync.write(img);
}

/** A grayscale (colour type 0) PNG. */
export function grayPng(w: number, h: number, level: (x: number, y: number) => number): Buffer {
  const img = new PNG({ width: w, height: h, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  const data = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = level(x, y);
  (img as unknown as { data: Buffer }).data = data;
  return PNG.sync.write(img, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

export function write(file: string, body: Buffer | string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, body);
  return file;
}

export const cocoName = (split: string, id: number) => `COCO_${split}2014_${String(id).padStart(12, '0')}.jpg`;

export interface VqaFixture {
  readonly root: string;
  readonly source: VqaV2SourceInput & { questions: { train: string; val: string }; annotations: { train: string; val: string } };
}

/**
 * VQA v2 layout: train images 1, 2, 3 (red, green, blue) with two questions each; val images 10,
 * 11 with one question each. Answers include forms the official normalisation merges.
 */
export function writeVqaFixture(root: string): VqaFixture {
  const colours: Record<number, Rgb> = { 1: [255, 0, 0], 2: [0, 255, 0], 3: [0, 0, 255], 10: [255, 255, 0], 11: [255, 255, 255] };
  for (const id of [1, 2, 3]) write(path.join(root, 'train2014', cocoName('train', id)), solidJpeg(12, 8, colours[id]!));
  for (const id of [10, 11]) write(path.join(root, 'val2014', cocoName('val', id)), solidJpeg(8, 8, colours[id]!));
  const ten = (...groups: [string, number][]) => groups.flatMap(([a, n]) => Array.from({ length: n }, () => ({ answer: a, answer_confidence: 'yes' })));
  const train = [
    { qid: 100, img: 1, q: 'What color is it?', mc: 'red', answers: ten(['red', 8], ['Red.', 1], ['orange', 1]) },
    { qid: 101, img: 1, q: 'Is it red?', mc: 'yes', answers: ten(['yes', 7], ['no', 2], ['maybe', 1]) },
    { qid: 200, img: 2, q: 'What color is it?', mc: 'green', answers: ten(['green', 10]) },
    { qid: 201, img: 2, q: 'How many squares?', mc: '2', answers: ten(['2', 2], ['two', 1], ['three', 2], ['a lot', 5]) },
    { qid: 300, img: 3, q: 'What color is it?', mc: 'blue', answers: ten(['blue', 9], ['the blue', 1]) },
    { qid: 301, img: 3, q: 'Is it red?', mc: 'no', answers: ten(['no', 10]) },
  ];
  const val = [
    { qid: 1000, img: 10, q: 'Is it red?', mc: 'no', answers: ten(['no', 6], ['yes', 4]) },
    { qid: 1100, img: 11, q: 'What color is it?', mc: 'white', answers: ten(['white', 10]) },
  ];
  const files = (split: string, items: typeof train) => ({
    questions: write(
      path.join(root, `v2_OpenEnded_mscoco_${split}2014_questions.json`),
      JSON.stringify({ info: {}, task_type: 'Open-Ended', questions: items.map((x) => ({ image_id: x.img, question: x.q, question_id: x.qid })) }),
    ),
    annotations: write(
      path.join(root, `v2_mscoco_${split}2014_annotations.json`),
      JSON.stringify({
        info: {},
        annotations: items.map((x) => ({
          question_id: x.qid, image_id: x.img, multiple_choice_answer: x.mc, question_type: 'what', answer_type: 'other',
          answers: x.answers.map((a, i) => ({ ...a, answer_id: i + 1 })),
        })),
      }),
    ),
  });
  const t = files('train', train);
  const v = files('val', val);
  return {
    root,
    source: {
      format: 'vqa-v2' as const,
      questions: { train: t.questions, val: v.questions },
      annotations: { train: t.annotations, val: v.annotations },
      images: { train: path.join(root, 'train2014'), val: path.join(root, 'val2014') },
      imageSize: 8,
      shardSize: 4,
    },
  };
}
