/**
 * Corpus metrics of one model's merged predictions, per task, with a sentence-level score per
 * example (for the report's best/worst samples). Pure functions over strings; the scorers are
 * trainer/eval's re-implementations of the reference code (see trainer/eval/README.md).
 *
 * Text normalisation before scoring (the scorers split on whitespace and expect tokenised,
 * lower-cased text):
 *   - captioning: hypotheses AND references through `cocoCaptionTokenize` (the COCO pipeline's
 *     PTB tokenisation + punctuation removal, approximated in JavaScript);
 *   - translation: both through the data tokenizer's word splitter (`splitWords`: words and
 *     single punctuation marks; lower-cased when the tokenizer lower-cases), so a hypothesis and
 *     its reference are tokenised identically.
 */
import { cider, ciderD, cocoBleu, cocoCaptionTokenize, corpusBleu, plainAccuracy, vqaAccuracy } from '../eval';
import { splitWords } from '../data/tokenizer';

export interface TaskMetrics {
  readonly metrics: Record<string, number>;
  readonly primaryMetric: string;
  readonly metricNotes: Record<string, string>;
  /** Key of the sentence-level score in `perExample`. */
  readonly perExampleMetric: string;
  /** Sentence-level score per example id. */
  readonly perExample: Record<string, number>;
}

export interface VqaInputs {
  readonly predictions: Readonly<Record<string, string>>;
  /** Human answers (`human-answers`) or the label answer (`label`; empty = it has no class). */
  readonly references: Readonly<Record<string, readonly string[]>>;
  readonly referenceKind: 'human-answers' | 'label';
  /** Soft score of the chosen answer per id. */
  readonly softScores: Readonly<Record<string, number>>;
}

/** VQA: official accuracy with human answers, else exact-match accuracy against the label; plus the mean soft score. */
export function vqaMetrics(v: VqaInputs): TaskMetrics {
  const ids = Object.keys(v.predictions);
  const softScore = mean(ids.map((id) => v.softScores[id] ?? 0));
  const softNote = 'mean over questions of the chosen answer\'s soft score min(#annotators giving it / 3, 1), from the answer scores stored with the data';
  if (v.referenceKind === 'human-answers') {
    const r = vqaAccuracy(v.predictions, v.references);
    return {
      metrics: { vqaAccuracy: r.score, softScore },
      primaryMetric: 'vqaAccuracy',
      metricNotes: {
        vqaAccuracy: 'official VQA v2 accuracy (vqaEval.py: leave-one-out over the human answers, min(#matches / 3, 1), answer normalisation)',
        softScore: softNote,
      },
      perExampleMetric: 'vqaAccuracy',
      perExample: r.perQuestion,
    };
  }
  // Label references: a question whose label answer has no class cannot be answered correctly.
  const answerable = ids.filter((id) => (v.references[id]?.length ?? 0) > 0);
  const perExample: Record<string, number> = Object.fromEntries(ids.map((id) => [id, 0]));
  if (answerable.length > 0) {
    const pick = <T>(m: Readonly<Record<string, T>>) => Object.fromEntries(answerable.map((id) => [id, m[id]!]));
    Object.assign(perExample, plainAccuracy(pick(v.predictions), pick(v.references)).perQuestion);
  }
  return {
    metrics: { accuracy: mean(ids.map((id) => perExample[id]!)), softScore },
    primaryMetric: 'accuracy',
    metricNotes: {
      accuracy:
        'exact match (after the official VQA answer normalisation) with the label answer: the data holds no per-annotator answers, ' +
        'so the official leave-one-out VQA accuracy cannot be computed; on single-answer data (synthetic) this is the accuracy',
      softScore: softNote,
    },
    perExampleMetric: 'accuracy',
    perExample,
  };
}

/** Captioning: COCO BLEU-1..4, CIDEr-D (primary) and CIDEr; per-image CIDEr-D. */
export function captioningMetrics(predictions: Readonly<Record<string, string>>, references: Readonly<Record<string, readonly string[]>>): TaskMetrics {
  const hyps = mapValues(predictions, cocoCaptionTokenize);
  const refs = mapValues(references, (rs) => rs.map(cocoCaptionTokenize));
  const [bleu1, bleu2, bleu3, bleu4] = cocoBleu(hyps, refs);
  const d = ciderD(hyps, refs);
  const c = cider(hyps, refs);
  const tok = 'text lower-cased and PTB-tokenised, punctuation dropped (cocoCaptionTokenize)';
  return {
    metrics: { bleu1, bleu2, bleu3, bleu4, ciderD: d.score, cider: c.score },
    primaryMetric: 'ciderD',
    metricNotes: {
      bleu1: `pycocoevalcap Bleu(4), BLEU-1; ${tok}`,
      bleu2: `pycocoevalcap Bleu(4), BLEU-2; ${tok}`,
      bleu3: `pycocoevalcap Bleu(4), BLEU-3; ${tok}`,
      bleu4: `pycocoevalcap Bleu(4), BLEU-4; ${tok}`,
      ciderD: `pycocoevalcap Cider (CIDEr-D, ×10, df over this split's references); ${tok}`,
      cider: `original CIDEr (no clipping, no length penalty); ${tok}`,
    },
    perExampleMetric: 'ciderD',
    perExample: d.perImage,
  };
}

/** Translation: NLTK corpus BLEU-4 without smoothing (primary) and with method1; per-sentence BLEU-4 (method1). */
export function translationMetrics(
  predictions: Readonly<Record<string, string>>,
  references: Readonly<Record<string, readonly string[]>>,
  lowercase: boolean,
): TaskMetrics {
  const norm = (s: string) => splitWords(s, lowercase).join(' ');
  const hyps = mapValues(predictions, norm);
  const refs = mapValues(references, (rs) => rs.map(norm));
  const perExample: Record<string, number> = {};
  // NLTK sentence_bleu(refs, hyp) is corpus_bleu([refs], [hyp]); method1 keeps short sentences from scoring 0.
  for (const id of Object.keys(refs)) perExample[id] = corpusBleu({ [id]: hyps[id]! }, { [id]: refs[id]! }, { smoothing: 'method1' });
  const tok = `text split into words and punctuation by the data tokenizer's splitter${lowercase ? ', lower-cased' : ''}`;
  return {
    metrics: { bleu4: corpusBleu(hyps, refs, { smoothing: 'none' }), bleu4Method1: corpusBleu(hyps, refs, { smoothing: 'method1' }) },
    primaryMetric: 'bleu4',
    metricNotes: {
      bleu4: `NLTK 3.8 corpus_bleu, BLEU-4, no smoothing; ${tok}`,
      bleu4Method1: `NLTK 3.8 corpus_bleu, BLEU-4, smoothing method1 (ε = 0.1); ${tok}`,
    },
    perExampleMetric: 'sentenceBleu4',
    perExample,
  };
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function mapValues<A, B>(m: Readonly<Record<string, A>>, f: (a: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, f(v)]));
}
