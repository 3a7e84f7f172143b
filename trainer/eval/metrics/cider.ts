/**
 * CIDEr (Vedantam et al., CVPR 2015) as the COCO caption evaluation code computes it.
 *
 * `ciderD` is pycocoevalcap's `Cider` scorer, which is CIDEr-D (vrama91's changes): per n-gram
 * order n = 1..4, TF-IDF vectors with document frequencies counted over the references of THIS
 * corpus (df = number of images whose reference set contains the n-gram; idf = log(#images) −
 * log(max(1, df))), the hypothesis weight clipped at the reference weight, cosine-normalised,
 * times a Gaussian length penalty exp(−δ²/2σ²) with σ = 6; summed over references, averaged over
 * n, divided by the number of references, ×10. `cider` is the original CIDEr (vrama91's
 * `Cider`): the same without clipping and without the length penalty.
 *
 * Quirk kept on purpose: the scorer's "length" is counted while walking n-grams at index
 * `n == 1`, i.e. it is the number of BIGRAMS (len − 1 for a non-empty sentence), not words.
 * It only ever enters as a difference, so it differs from word counts only for empty strings.
 */
import { alignCorpus, ngramCounts, ngramOrder, splitTokens, type Hypotheses, type References } from './corpus';

const MAX_N = 4;
/** σ of the length penalty in pycocoevalcap's Cider(sigma=6.0). */
const SIGMA = 6;

export interface CiderResult {
  /** Corpus score: mean of the per-image scores. */
  readonly score: number;
  /** Per-image score, keyed by id (reference key order). */
  readonly perImage: Record<string, number>;
}

/** CIDEr-D as pycocoevalcap `Cider().compute_score(gts, res)`. */
export function ciderD(hyps: Hypotheses, refs: References): CiderResult {
  return scoreCider('ciderD', hyps, refs, { clip: true, lengthPenalty: true });
}

/** Original CIDEr (no clipping, no length penalty; otherwise identical to ciderD). */
export function cider(hyps: Hypotheses, refs: References): CiderResult {
  return scoreCider('cider', hyps, refs, { clip: false, lengthPenalty: false });
}

interface CiderVariant {
  readonly clip: boolean;
  readonly lengthPenalty: boolean;
}

/** TF-IDF vector per n-gram order, its L2 norm per order, and the scorer's bigram "length". */
interface TfIdf {
  readonly vec: Map<string, number>[];
  readonly norm: number[];
  readonly length: number;
}

function scoreCider(metric: string, hyps: Hypotheses, refs: References, variant: CiderVariant): CiderResult {
  const examples = alignCorpus(metric, hyps, refs);
  const refCounts = examples.map((ex) => ex.refs.map((r) => ngramCounts(splitTokens(r), MAX_N)));

  // Document frequency: in how many images' reference SETS each n-gram occurs.
  const df = new Map<string, number>();
  for (const imageRefs of refCounts) {
    const seen = new Set<string>();
    for (const counts of imageRefs) for (const gram of counts.keys()) seen.add(gram);
    for (const gram of seen) df.set(gram, (df.get(gram) ?? 0) + 1);
  }
  const logNumImages = Math.log(examples.length);

  const toTfIdf = (counts: Map<string, number>): TfIdf => {
    const vec = Array.from({ length: MAX_N }, () => new Map<string, number>());
    const sq = new Array<number>(MAX_N).fill(0);
    let length = 0;
    for (const [gram, tf] of counts) {
      const k = ngramOrder(gram) - 1;
      // An n-gram absent from every reference gets df 1 (idf = log #images).
      const w = tf * (logNumImages - Math.log(Math.max(1, df.get(gram) ?? 0)));
      vec[k]!.set(gram, w);
      sq[k]! += w * w;
      if (k === 1) length += tf;
    }
    return { vec, norm: sq.map(Math.sqrt), length };
  };

  const perImage: Record<string, number> = {};
  let total = 0;
  examples.forEach((ex, i) => {
    const hyp = toTfIdf(ngramCounts(splitTokens(ex.hyp), MAX_N));
    const sumOverRefs = new Array<number>(MAX_N).fill(0);
    for (const counts of refCounts[i]!) {
      const ref = toTfIdf(counts);
      const delta = hyp.length - ref.length;
      const penalty = variant.lengthPenalty ? Math.exp(-(delta * delta) / (2 * SIGMA * SIGMA)) : 1;
      for (let k = 0; k < MAX_N; k++) {
        let dot = 0;
        for (const [gram, wh] of hyp.vec[k]!) {
          const wr = ref.vec[k]!.get(gram) ?? 0;
          dot += (variant.clip ? Math.min(wh, wr) : wh) * wr;
        }
        if (hyp.norm[k] !== 0 && ref.norm[k] !== 0) dot /= hyp.norm[k]! * ref.norm[k]!;
        sumOverRefs[k]! += dot * penalty;
      }
    }
    const meanOverN = sumOverRefs.reduce((a, b) => a + b, 0) / MAX_N;
    const score = (meanOverN / ex.refs.length) * 10;
    perImage[ex.id] = score;
    total += score;
  });
  return { score: total / examples.length, perImage };
}
