/**
 * BLEU, two standard definitions that differ in small but score-changing ways:
 *
 * - `cocoBleu`: the COCO caption evaluation code (pycocoevalcap `Bleu(4)`, bleu_scorer.py by
 *   Tsung-Yi Lin after Chiang's bleu.py). Per-sentence clipped n-gram counts against the max
 *   count over references; candidate n-gram totals are `max(0, len − n + 1)` (no floor at 1);
 *   the reference length per sentence is the "closest" one (ties → the shorter); everything is
 *   summed over the corpus; precisions are smoothed by tiny = 1e-15 / small = 1e-9 so a zero
 *   count gives ~0 rather than NaN; brevity penalty exp(1 − r/c) when c < r.
 * - `corpusBleu`: NLTK 3.8 `corpus_bleu` (uniform weights, BLEU-4). Per-sentence precision
 *   denominators are floored at 1; zero corpus unigram matches → 0; a zero higher-order
 *   precision is replaced by `sys.float_info.min` (method0, "no smoothing") or by
 *   ε/denominator with ε = 0.1 (method1); brevity penalty 1 if c > r, 0 if c = 0.
 *
 * Tokens are whitespace-separated (both scorers call `str.split()` on already tokenised,
 * lower-cased text; the COCO pipeline's PTB tokenizer is Java and not reproduced here).
 */
import { alignCorpus, ngramCounts, ngramOrder, splitTokens, type Hypotheses, type References } from './corpus';

const MAX_N = 4;
/** bleu_scorer.py's guards: `tiny` keeps a zero-match precision at ~0, `small` avoids 0/0. */
const COCO_TINY = 1e-15;
const COCO_SMALL = 1e-9;
/** Python's `sys.float_info.min` (smallest normal double), NLTK method0's stand-in for 0. */
const PY_FLOAT_MIN = 2.2250738585072014e-308;
/** NLTK SmoothingFunction epsilon (method1). */
const NLTK_EPSILON = 0.1;

/** BLEU-1..4 as pycocoevalcap's `Bleu(4).compute_score` returns them. */
export function cocoBleu(hyps: Hypotheses, refs: References): [number, number, number, number] {
  const examples = alignCorpus('cocoBleu', hyps, refs);
  const guess = new Array<number>(MAX_N).fill(0);
  const correct = new Array<number>(MAX_N).fill(0);
  let testLen = 0;
  let refLen = 0;
  for (const ex of examples) {
    const words = splitTokens(ex.hyp);
    const refWords = ex.refs.map(splitTokens);
    const maxRefCounts = maxCounts(refWords.map((w) => ngramCounts(w, MAX_N)));
    testLen += words.length;
    refLen += closestRefLength(refWords.map((w) => w.length), words.length);
    for (let k = 1; k <= MAX_N; k++) guess[k - 1]! += Math.max(0, words.length - k + 1);
    for (const [gram, count] of ngramCounts(words, MAX_N)) {
      correct[ngramOrder(gram) - 1]! += Math.min(maxRefCounts.get(gram) ?? 0, count);
    }
  }
  const bleus: number[] = [];
  let product = 1;
  for (let k = 0; k < MAX_N; k++) {
    // Cumulative product of precisions, then its (k+1)-th root: BLEU-k is a geometric mean.
    product *= (correct[k]! + COCO_TINY) / (guess[k]! + COCO_SMALL);
    bleus.push(product ** (1 / (k + 1)));
  }
  const ratio = (testLen + COCO_TINY) / (refLen + COCO_SMALL);
  const brevity = ratio < 1 ? Math.exp(1 - 1 / ratio) : 1;
  return bleus.map((b) => b * brevity) as [number, number, number, number];
}

export interface CorpusBleuOptions {
  /** `none` = NLTK method0; `method1` adds ε = 0.1 to zero numerators. @default "none" */
  readonly smoothing?: 'none' | 'method1';
}

/** BLEU-4 as NLTK 3.8 `corpus_bleu(list_of_references, hypotheses)` computes it. */
export function corpusBleu(hyps: Hypotheses, refs: References, options: CorpusBleuOptions = {}): number {
  const smoothing = options.smoothing ?? 'none';
  if (smoothing !== 'none' && smoothing !== 'method1') {
    throw new RangeError(`corpusBleu: options.smoothing must be "none" or "method1", got ${JSON.stringify(smoothing)}`);
  }
  const examples = alignCorpus('corpusBleu', hyps, refs);
  const numerators = new Array<number>(MAX_N).fill(0);
  const denominators = new Array<number>(MAX_N).fill(0);
  let hypLengths = 0;
  let refLengths = 0;
  for (const ex of examples) {
    const words = splitTokens(ex.hyp);
    const refWords = ex.refs.map(splitTokens);
    const hypCounts = ngramCounts(words, MAX_N);
    const maxRefCounts = maxCounts(refWords.map((w) => ngramCounts(w, MAX_N)));
    const clipped = new Array<number>(MAX_N).fill(0);
    const total = new Array<number>(MAX_N).fill(0);
    for (const [gram, count] of hypCounts) {
      const k = ngramOrder(gram) - 1;
      clipped[k]! += Math.min(count, maxRefCounts.get(gram) ?? 0);
      total[k]! += count;
    }
    for (let k = 0; k < MAX_N; k++) {
      numerators[k]! += clipped[k]!;
      // modified_precision floors each sentence's denominator at 1.
      denominators[k]! += Math.max(1, total[k]!);
    }
    hypLengths += words.length;
    refLengths += closestRefLength(refWords.map((w) => w.length), words.length);
  }
  if (numerators[0] === 0) return 0;
  const brevity = hypLengths > refLengths ? 1 : hypLengths === 0 ? 0 : Math.exp(1 - refLengths / hypLengths);
  let logSum = 0;
  for (let k = 0; k < MAX_N; k++) {
    const p =
      numerators[k]! !== 0
        ? numerators[k]! / denominators[k]!
        : smoothing === 'method1'
          ? NLTK_EPSILON / denominators[k]!
          : PY_FLOAT_MIN;
    logSum += 0.25 * Math.log(p);
  }
  return brevity * Math.exp(logSum);
}

/** Per n-gram, the largest count in any one reference (the clipping ceiling). */
function maxCounts(refCounts: readonly Map<string, number>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const counts of refCounts) {
    for (const [gram, c] of counts) if (c > (out.get(gram) ?? 0)) out.set(gram, c);
  }
  return out;
}

/** The reference length closest to the hypothesis length; ties go to the shorter reference. */
function closestRefLength(refLengths: readonly number[], hypLength: number): number {
  let best = refLengths[0]!;
  for (const l of refLengths) {
    const d = Math.abs(l - hypLength);
    const bestD = Math.abs(best - hypLength);
    if (d < bestD || (d === bestD && l < best)) best = l;
  }
  return best;
}
