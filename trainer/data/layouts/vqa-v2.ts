/**
 * VQA v2 layout (Goyal et al. 2017, visualqa.org): per split a questions file
 * `{questions: [{image_id, question, question_id}]}`, an annotations file
 * `{annotations: [{question_id, image_id, multiple_choice_answer, answers: [{answer}×10]}]}` and a
 * COCO image folder (`COCO_<split>2014_<12-digit id>.jpg`). Answers are handed on as the
 * annotators wrote them (whitespace cleaned only, as the official scorer does): prepareData
 * normalises them for classes and soft scores, and keeps them raw as evaluation references.
 */
import { z } from 'zod';
import { joinUri, toUri } from '../../../contract/storage';
import { DataError } from '../errors';
import { readJson } from '../json';
import type { SplitName, VqaV2Source } from '../source';
import { cleanWhitespace } from '../vqa-normalize';
import { imageFileLoader, imageFileName } from './images';
import { parseLayoutFile } from './parse-file';
import type { LoadedSource, RawExample } from './types';

const QuestionsFileSchema = z.looseObject({
  questions: z.array(z.looseObject({ image_id: z.number().int(), question: z.string(), question_id: z.number().int() })),
});
const AnnotationsFileSchema = z.looseObject({
  annotations: z.array(
    z.looseObject({
      question_id: z.number().int(),
      image_id: z.number().int(),
      multiple_choice_answer: z.string().optional(),
      answers: z.array(z.looseObject({ answer: z.string() })).min(1),
    }),
  ),
});

const sample = (ids: readonly number[]) => ids.slice(0, 5).join(', ') + (ids.length > 5 ? ', …' : '');

async function loadSplit(source: VqaV2Source, split: SplitName): Promise<RawExample[]> {
  const qPath = source.questions[split];
  const aPath = source.annotations[split];
  const imgDir = source.images[split];
  if (!qPath || !aPath || !imgDir) {
    const missing = [!qPath && `questions.${split}`, !aPath && `annotations.${split}`, !imgDir && `images.${split}`].filter(Boolean);
    throw new DataError('bad-input', `vqa-v2 source: the ${split} split needs questions, annotations and images; missing ${missing.join(', ')}`);
  }
  const qUri = toUri(qPath);
  const aUri = toUri(aPath);
  const questions = parseLayoutFile(QuestionsFileSchema, await readJson(qUri), qUri).questions;
  const annotations = parseLayoutFile(AnnotationsFileSchema, await readJson(aUri), aUri).annotations;
  const byQuestion = new Map(annotations.map((a) => [a.question_id, a]));
  const questionIds = new Set(questions.map((q) => q.question_id));
  const unanswered = questions.filter((q) => !byQuestion.has(q.question_id)).map((q) => q.question_id);
  const orphans = annotations.filter((a) => !questionIds.has(a.question_id)).map((a) => a.question_id);
  const otherImage = questions.filter((q) => byQuestion.has(q.question_id) && byQuestion.get(q.question_id)!.image_id !== q.image_id).map((q) => q.question_id);
  if (unanswered.length || orphans.length || otherImage.length) {
    const parts = [
      unanswered.length && `${unanswered.length} question id(s) have no annotation (${sample(unanswered)})`,
      orphans.length && `${orphans.length} annotation(s) have no question (${sample(orphans)})`,
      otherImage.length && `${otherImage.length} question(s) name another image_id than their annotation (${sample(otherImage)})`,
    ].filter(Boolean);
    throw new DataError('id-mismatch', `${qUri} and ${aUri} do not match: ${parts.join('; ')}. Pair the questions and annotations files of the same split.`);
  }
  const dir = toUri(imgDir);
  return questions.map((q) => {
    const ann = byQuestion.get(q.question_id)!;
    const imageUri = joinUri(dir, imageFileName(source.imagePattern, split, q.image_id));
    const id = String(q.question_id);
    return {
      id,
      imageKey: String(q.image_id),
      imageUri,
      text: q.question,
      targets: [],
      answers: ann.answers.map((a) => cleanWhitespace(a.answer)),
      ...(ann.multiple_choice_answer !== undefined ? { label: cleanWhitespace(ann.multiple_choice_answer) } : {}),
      loadImage: imageFileLoader(imageUri, source.imageSize, `question ${id} (image ${q.image_id})`),
    };
  });
}

export async function loadVqaV2(source: VqaV2Source): Promise<LoadedSource> {
  const hasTest = source.questions.test !== undefined || source.annotations.test !== undefined;
  return {
    task: 'vqa',
    train: await loadSplit(source, 'train'),
    val: await loadSplit(source, 'val'),
    test: hasTest ? await loadSplit(source, 'test') : 'val',
    description: { format: 'vqa-v2', questions: source.questions, annotations: source.annotations, images: source.images, imagePattern: source.imagePattern },
  };
}
