/**
 * The official VQA answer normalisation, as data preparation uses it (answer vocabulary, soft
 * scores). One implementation serves preparation and evaluation so that a class and a scored
 * prediction always mean the same string: it lives with the VQA metric
 * (trainer/eval/metrics/vqa-normalize.ts, a faithful port of vqaEval.py) and is re-exported here.
 */
export { normalizeVqaAnswer, processPunctuation, processDigitArticle, cleanWhitespace } from '../eval/metrics/vqa-normalize';
