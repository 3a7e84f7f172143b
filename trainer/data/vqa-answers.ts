/**
 * VQA answers → classes and soft targets. Each question has (in VQA v2) ten annotator answers;
 * after the official normalisation an answer given by c annotators gets the soft score
 * min(c / 3, 1) (Antol et al. 2015; the target of Teney et al. 2018 "Tips and tricks for VQA"),
 * so three or more agreeing annotators make it fully correct.
 * The answer classes are the K most frequent label answers of the training split.
 *
 * Classes are normalised strings, but predictions are written in a class's SURFACE FORM: the
 * most frequent raw (as-written) form of its answers among the training annotations. The
 * official scorer (vqaEval.py) normalises only when a question's human answers disagree; when
 * they are unanimous it compares the raw strings, so ten "t-shirt" answers give 0 to "t shirt"
 * (the class) and 1 to "t-shirt" (its surface form). Any surface form normalises to its class,
 * so the disagreement case scores the same either way.
 */
import { MAX_ANSWERS } from './shard-format';
import { cleanWhitespace, normalizeVqaAnswer } from './vqa-normalize';

/** Normalised answer → soft score min(count / 3, 1), in first-seen order. */
export function softScores(answers: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  return new Map([...counts].map(([a, c]) => [a, Math.min(c / 3, 1)]));
}

/** The most frequent answer (ties: the alphabetically first, so the choice is deterministic). */
export function mostFrequentAnswer(answers: readonly string[]): string {
  if (answers.length === 0) throw new RangeError('mostFrequentAnswer: no answers');
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  return mostFrequentOf(counts);
}

/**
 * One question's answers and label after the official normalisation: the class strings used for
 * the vocabulary and the soft targets. The label is the layout's own (normalised), else the most
 * frequent normalised answer.
 */
export function normalizeQuestionAnswers(rawAnswers: readonly string[], rawLabel?: string): { answers: string[]; label: string } {
  const answers = rawAnswers.map(normalizeVqaAnswer);
  return { answers, label: rawLabel !== undefined ? normalizeVqaAnswer(rawLabel) : mostFrequentAnswer(answers) };
}

/** The K most frequent labels (ties alphabetical). */
export function buildAnswerVocab(labels: Iterable<string>, k: number): string[] {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, k)
    .map(([a]) => a);
}

export interface EncodedAnswers {
  /** Class of each scored answer, −1 padding. `[MAX_ANSWERS]` */
  readonly answerIndex: Int32Array;
  /** Its soft score. `[MAX_ANSWERS]` */
  readonly answerScore: Float32Array;
  /** Class of the label answer, −1 when it has none. */
  readonly answerLabel: number;
}

/**
 * Sparse soft targets of one question: the in-vocabulary answers with their scores (at most
 * MAX_ANSWERS distinct answers exist among ten annotators; with more annotators the highest
 * scores are kept).
 */
export function encodeAnswers(answers: readonly string[], label: string, classes: ReadonlyMap<string, number>): EncodedAnswers {
  const answerIndex = new Int32Array(MAX_ANSWERS).fill(-1);
  const answerScore = new Float32Array(MAX_ANSWERS);
  const scored = [...softScores(answers)]
    .filter(([a]) => classes.has(a))
    .sort((x, y) => y[1] - x[1])
    .slice(0, MAX_ANSWERS);
  scored.forEach(([a, s], i) => {
    answerIndex[i] = classes.get(a)!;
    answerScore[i] = s;
  });
  return { answerIndex, answerScore, answerLabel: classes.get(label) ?? -1 };
}

/**
 * Counts the raw forms (whitespace cleaned, as vqaEval.py does) of the training annotators'
 * answers per normalised answer, to pick each class's surface form. Fed one question at a time,
 * so a streaming preparation can use it too.
 */
export class SurfaceFormCounter {
  /** Normalised answer → raw form → count. */
  private readonly counts = new Map<string, Map<string, number>>();

  /** Adds one question's answers as the annotators wrote them. */
  add(rawAnswers: Iterable<string>): void {
    for (const answer of rawAnswers) {
      const raw = cleanWhitespace(answer);
      const cls = normalizeVqaAnswer(raw);
      let forms = this.counts.get(cls);
      if (!forms) this.counts.set(cls, (forms = new Map()));
      forms.set(raw, (forms.get(raw) ?? 0) + 1);
    }
  }

  /**
   * The surface form of each class, in vocabulary order: its most frequent raw form (ties: the
   * first in code-unit order, so the choice is deterministic). A class no annotator answer
   * normalises to (it came from a label alone) keeps its own string.
   */
  surfaceForms(vocab: readonly string[]): string[] {
    return vocab.map((cls) => {
      const forms = this.counts.get(cls);
      return forms ? mostFrequentOf(forms) : cls;
    });
  }
}

function mostFrequentOf(counts: ReadonlyMap<string, number>): string {
  let best = '';
  let bestCount = -1;
  for (const [a, c] of counts) if (c > bestCount || (c === bestCount && a < best)) [best, bestCount] = [a, c];
  return best;
}
