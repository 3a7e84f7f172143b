/**
 * VQA accuracy exactly as the official VQA v2 evaluation (vqaEval.py `VQAEval.evaluate`):
 * for each question, every one of the N human answers is left out in turn (the 10-choose-9
 * subsets for N = 10) and the prediction scores min(#matches among the other N−1 / 3, 1);
 * the question's accuracy is the mean over the N subsets, the corpus accuracy the mean over
 * questions (the official code also rounds ×100 to 2 decimals; we return the unrounded
 * fraction in [0, 1]).
 *
 * Official quirk kept: answers are always whitespace-cleaned, but the punctuation/number/article
 * normalisation is applied (to the prediction and the human answers) only when the human answers
 * are not all identical.
 *
 * With ONE reference per question this leave-one-out definition always gives 0 (the only answer
 * is left out); single-answer data needs `plainAccuracy`.
 */
import { alignCorpus, type Hypotheses, type References } from './corpus';
import { cleanWhitespace, normalizeVqaAnswer } from './vqa-normalize';

export interface AccuracyResult {
  /** Mean over questions, in [0, 1]. */
  readonly score: number;
  /** Per-question accuracy in [0, 1], keyed by question id. */
  readonly perQuestion: Record<string, number>;
}

/** Official VQA v2 accuracy of one prediction against its human answers. */
export function vqaAccuracyOne(prediction: string, humanAnswers: readonly string[]): number {
  if (humanAnswers.length === 0) throw new RangeError('vqaAccuracyOne: humanAnswers is empty; every question needs its human answers');
  let gt = humanAnswers.map(cleanWhitespace);
  let res = cleanWhitespace(prediction);
  if (new Set(gt).size > 1) {
    gt = gt.map(normalizeVqaAnswer);
    res = normalizeVqaAnswer(res);
  }
  const totalMatches = gt.filter((a) => a === res).length;
  let sum = 0;
  for (const left of gt) {
    const matchesAmongOthers = totalMatches - (left === res ? 1 : 0);
    sum += Math.min(1, matchesAmongOthers / 3);
  }
  return sum / gt.length;
}

/** Corpus VQA accuracy (official leave-one-out definition), see the module comment. */
export function vqaAccuracy(hyps: Hypotheses, refs: References): AccuracyResult {
  const examples = alignCorpus('vqaAccuracy', hyps, refs);
  const perQuestion: Record<string, number> = {};
  let total = 0;
  for (const ex of examples) {
    const acc = vqaAccuracyOne(ex.hyp, ex.refs);
    perQuestion[ex.id] = acc;
    total += acc;
  }
  return { score: total / examples.length, perQuestion };
}

export interface PlainAccuracyOptions {
  /** Apply the official VQA answer normalisation to both sides before comparing. @default true */
  readonly normalize?: boolean;
}

/**
 * Plain accuracy for single-answer data: 1 when the prediction equals the (first and only)
 * reference, else 0. With several references, matching any of them counts.
 */
export function plainAccuracy(hyps: Hypotheses, refs: References, options: PlainAccuracyOptions = {}): AccuracyResult {
  const norm = options.normalize ?? true ? normalizeVqaAnswer : cleanWhitespace;
  const examples = alignCorpus('plainAccuracy', hyps, refs);
  const perQuestion: Record<string, number> = {};
  let total = 0;
  for (const ex of examples) {
    const res = norm(ex.hyp);
    const acc = ex.refs.some((r) => norm(r) === res) ? 1 : 0;
    perQuestion[ex.id] = acc;
    total += acc;
  }
  return { score: total / examples.length, perQuestion };
}
