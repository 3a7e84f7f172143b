/**
 * VQA v2 layout (Goyal et al. 2017, visualqa.org): per split a questions file
 * `{questions: [{image_id, question, question_id}]}`, an annotations file
 * `{annotations: [{question_id, image_id, multiple_choice_answer, answers: [{answer}×10]}]}` and a
 * COCO image folder (`COCO_<split>2014_<12-digit id>.jpg`). Answers are handed on as the
 * annotators wrote them (whitespace cleaned only, as the official scorer does): preparation
 * normalises them for classes and soft scores, and keeps them raw as evaluation references.
 *
 * Both files are read as streams (json-stream.ts), one element at a time: the annotations of
 * the train split are ~330 MB of JSON, far more than the objects kept from them (the question
 * text and ten short answers, interned). Memory is O(questions), not O(file bytes).
 */
import { z } from 'zod';
import { joinUri, toUri } from '../../../contract/storage';
import { DataError } from '../errors';
import { ownString, streamJsonArray } from '../json-stream';
import type { SplitName, VqaV2Source } from '../source';
import { cleanWhitespace } from '../vqa-normalize';
import { imageFileName } from './images';
import { parseLayoutItem } from './parse-file';
import { ImageGrouper, type LoadedSource, type SourceImage } from './types';

const QuestionSchema = z.looseObject({ image_id: z.number().int(), question: z.string(), question_id: z.number().int() });
const AnnotationSchema = z.looseObject({
  question_id: z.number().int(),
  image_id: z.number().int(),
  multiple_choice_answer: z.string().optional(),
  answers: z.array(z.looseObject({ answer: z.string() })).min(1),
});

const sample = (ids: readonly number[]) => ids.slice(0, 5).join(', ') + (ids.length > 5 ? ', …' : '');

/** Answers repeat a lot (VQA v2 has ~22k distinct raw answers for 4.4M): keep one copy of each. */
class Interner {
  private readonly pool = new Map<string, string>();
  get(s: string): string {
    let v = this.pool.get(s);
    if (v === undefined) {
      v = ownString(s);
      this.pool.set(v, v);
    }
    return v;
  }
}

async function loadSplit(source: VqaV2Source, split: SplitName, interner: Interner): Promise<SourceImage[]> {
  const qPath = source.questions[split];
  const aPath = source.annotations[split];
  const imgDir = source.images[split];
  if (!qPath || !aPath || !imgDir) {
    const missing = [!qPath && `questions.${split}`, !aPath && `annotations.${split}`, !imgDir && `images.${split}`].filter(Boolean);
    throw new DataError('bad-input', `vqa-v2 source: the ${split} split needs questions, annotations and images; missing ${missing.join(', ')}`);
  }
  const qUri = toUri(qPath);
  const aUri = toUri(aPath);
  // Questions first (the smaller file): text and image per question id, in file order.
  const questions: { id: number; imageId: number; text: string }[] = [];
  const questionIndex = new Map<number, number>();
  for await (const { index, value } of streamJsonArray(qUri, 'questions')) {
    const q = parseLayoutItem(QuestionSchema, value, qUri, `questions.${index}`);
    questionIndex.set(q.question_id, questions.length);
    questions.push({ id: q.question_id, imageId: q.image_id, text: ownString(q.question) });
  }
  // Then the annotations, streamed: only the answers (as written) and the label are kept.
  const answers: (string[] | undefined)[] = new Array(questions.length);
  const labels: (string | undefined)[] = new Array(questions.length);
  const orphans: number[] = [];
  const otherImage: number[] = [];
  for await (const { index, value } of streamJsonArray(aUri, 'annotations')) {
    const a = parseLayoutItem(AnnotationSchema, value, aUri, `annotations.${index}`);
    const at = questionIndex.get(a.question_id);
    if (at === undefined) {
      orphans.push(a.question_id);
      continue;
    }
    if (questions[at]!.imageId !== a.image_id) otherImage.push(a.question_id);
    answers[at] = a.answers.map((x) => interner.get(cleanWhitespace(x.answer)));
    if (a.multiple_choice_answer !== undefined) labels[at] = interner.get(cleanWhitespace(a.multiple_choice_answer));
  }
  const unanswered = questions.filter((_, i) => answers[i] === undefined).map((q) => q.id);
  if (unanswered.length || orphans.length || otherImage.length) {
    const parts = [
      unanswered.length && `${unanswered.length} question id(s) have no annotation (${sample(unanswered)})`,
      orphans.length && `${orphans.length} annotation(s) have no question (${sample(orphans)})`,
      otherImage.length && `${otherImage.length} question(s) name another image_id than their annotation (${sample(otherImage)})`,
    ].filter(Boolean);
    throw new DataError('id-mismatch', `${qUri} and ${aUri} do not match: ${parts.join('; ')}. Pair the questions and annotations files of the same split.`);
  }
  const dir = toUri(imgDir);
  const grouper = new ImageGrouper();
  questions.forEach((q, i) => {
    const id = String(q.id);
    grouper.add(String(q.imageId), joinUri(dir, imageFileName(source.imagePattern, split, q.imageId)), () => `question ${id} (image ${q.imageId})`, {
      id,
      text: q.text,
      targets: [],
      answers: answers[i]!,
      ...(labels[i] !== undefined ? { label: labels[i] } : {}),
    });
  });
  return grouper.images();
}

export async function loadVqaV2(source: VqaV2Source): Promise<LoadedSource> {
  const hasTest = source.questions.test !== undefined || source.annotations.test !== undefined;
  const interner = new Interner();
  return {
    task: 'vqa',
    train: await loadSplit(source, 'train', interner),
    val: await loadSplit(source, 'val', interner),
    test: hasTest ? await loadSplit(source, 'test', interner) : 'val',
    description: { format: 'vqa-v2', questions: source.questions, annotations: source.annotations, images: source.images, imagePattern: source.imagePattern },
  };
}
