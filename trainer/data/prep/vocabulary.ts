/**
 * Step 2 of a fanned-out preparation: one pass over the TRAINING chunks' texts builds the
 * tokenizer (or loads the WordPiece vocab the source names) and, for VQA, the answer classes.
 * Validation and test texts never shape the vocabulary.
 *
 * A caller that already has them (a foreign teacher brings its tokenizer and answer list) passes
 * them in `given`; the pass then only checks and records them, so every chunk encodes with them.
 */
import { joinUri, storageFor, toUri } from '../../../contract/storage';
import { DataError } from '../errors';
import type { DataSource } from '../source';
import { buildWordTokenizer, loadWordPieceVocab, type Tokenizer } from '../tokenizer';
import { buildAnswerVocab, normalizeQuestionAnswers, SurfaceFormCounter } from '../vqa-answers';
import { normalizeVqaAnswer } from '../vqa-normalize';
import { ChunkInputSchema, readPlan, readPrepFile, VOCABULARY_FILE, type Plan, type Vocabulary } from './files';

export interface GivenVocabulary {
  /** Use this tokenizer instead of building one from the training texts. */
  readonly tokenizer?: Tokenizer;
  /** VQA: use these answer classes (index = class) instead of the K most frequent training labels. */
  readonly answers?: readonly string[];
}

export interface VocabularySummary {
  readonly vocabularyUri: string;
  readonly vocabSize: number;
  readonly answerVocabSize?: number;
}

/** The class label of a VQA example: the layout's label, normalised, else the most frequent normalised human answer. */
export const labelOf = (ex: { label?: string; answers?: readonly string[] }): string => normalizeQuestionAnswers(ex.answers ?? [], ex.label).label;

/** Streams the training chunks' examples, one chunk file in memory at a time. */
async function* trainingExamples(out: string, plan: Plan) {
  for (const ref of plan.chunks.filter((c) => c.split === 'train')) {
    const { value, sha256 } = await readPrepFile(joinUri(out, ref.file), ChunkInputSchema, 'planPreparation (the plan step)');
    if (sha256 !== ref.sha256) throw new DataError('bad-input', `${joinUri(out, ref.file)} does not match plan.json (another plan overwrote it?); run the plan step again`);
    for (const img of value.images) yield* img.examples;
  }
}

export async function buildVocabulary(outUri: string, given: GivenVocabulary = {}): Promise<VocabularySummary> {
  const out = toUri(outUri);
  const plan = await readPlan(out);
  const source = plan.source as unknown as DataSource;
  let tokenizer = given.tokenizer;
  const t = source.tokenizer;
  if (!tokenizer && t.wordpieceVocab) {
    const uri = toUri(t.wordpieceVocab);
    tokenizer = loadWordPieceVocab((await storageFor(uri).get(uri)).toString('utf8'), t.lowercase, uri);
  }
  const needTexts = !tokenizer;
  const needLabels = plan.task === 'vqa' && !given.answers;
  // Texts and labels of one chunk at a time; only the strings themselves are collected.
  const texts: string[] = [];
  const labels: string[] = [];
  // Each class is written out in its most frequent raw training form (issue 18: the official
  // scorer compares raw strings when the annotators are unanimous).
  const forms = new SurfaceFormCounter();
  if (needTexts || plan.task === 'vqa') {
    for await (const ex of trainingExamples(out, plan)) {
      if (needTexts) {
        if (ex.text) texts.push(ex.text);
        texts.push(...ex.targets);
      }
      if (plan.task === 'vqa') {
        labels.push(labelOf(ex));
        forms.add(ex.answers ?? []);
      }
    }
  }
  tokenizer ??= buildWordTokenizer(texts, { minCount: t.minCount, maxVocab: t.maxVocab, lowercase: t.lowercase });

  let answers: Vocabulary['answers'];
  if (plan.task === 'vqa') {
    // Given classes stay in their order (a teacher's logit order), normalised like the labels so
    // they match them; each is written out as given (the teacher's own spelling).
    const vocab = needLabels ? buildAnswerVocab(labels, source.answerVocabSize) : given.answers!.map((a) => normalizeVqaAnswer(a));
    if (vocab.length === 0) throw new DataError('vocabulary', 'VQA: the answer vocabulary is empty (no training labels)');
    // The majority-class baseline: the most frequent training label among the classes.
    const counts = new Map<string, number>();
    for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    const majority = needLabels ? vocab[0]! : vocab.reduce((best, a) => ((counts.get(a) ?? 0) > (counts.get(best) ?? 0) ? a : best), vocab[0]!);
    answers = { vocab, surfaceForms: needLabels ? forms.surfaceForms(vocab) : [...given.answers!], majority, trainFraction: (counts.get(majority) ?? 0) / Math.max(1, labels.length) };
  }
  const body: Vocabulary = { planId: plan.id, tokenizer: tokenizer.toJSON(), ...(answers ? { answers } : {}) };
  const uri = joinUri(out, VOCABULARY_FILE);
  await storageFor(uri).put(uri, JSON.stringify(body));
  return { vocabularyUri: uri, vocabSize: tokenizer.vocabSize, ...(answers ? { answerVocabSize: answers.vocab.length } : {}) };
}
