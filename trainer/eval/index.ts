/**
 * Evaluation: corpus metrics (VQA accuracy, COCO BLEU, NLTK corpus BLEU, CIDEr-D / CIDEr),
 * statistics over seeds, and cost helpers (FLOPs from the config, latency percentiles).
 * METEOR and SPICE are not provided: their reference implementations are Java (and SPICE needs
 * the Stanford parser); a JavaScript re-implementation would not match published numbers.
 */
export { alignCorpus, MetricInputError, splitTokens, type Hypotheses, type References } from './metrics/corpus';
export { cocoCaptionTokenize } from './metrics/caption-tokenize';
export { cocoBleu, corpusBleu, type CorpusBleuOptions } from './metrics/bleu';
export { cider, ciderD, type CiderResult } from './metrics/cider';
export { vqaAccuracy, vqaAccuracyOne, plainAccuracy, type AccuracyResult, type PlainAccuracyOptions } from './metrics/vqa';
export { normalizeVqaAnswer, processPunctuation, processDigitArticle, cleanWhitespace } from './metrics/vqa-normalize';
export { summarizeSeeds, pairedComparison, type SeedSummary, type PairedComparison } from './stats/seeds';
export { studentTCdf, studentTTwoSidedP } from './stats/student-t';
export { flopsPerExample, flopsBreakdown, type CostTask, type FlopsBreakdown } from './cost/flops';
export { latencyStats, percentile, type LatencyStats } from './cost/latency';
