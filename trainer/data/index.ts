/**
 * The data module's public surface: data sources, preparation, the prepared-dataset reader, the
 * tokenizer and the VQA answer helpers. Deeper modules (shard format, layouts, synthetic world)
 * stay importable for tests and tools.
 */
export type { Batch } from './batch';
export { SPECIAL_TOKENS, SPECIAL_TOKEN_STRINGS } from './batch';
export { DataError, ShardIntegrityError, type DataErrorCode } from './errors';
export {
  DataSourceSchema, TokenizerOptionsSchema, parseDataSource, taskOf, SPLITS,
  type DataSource, type DataSourceInput, type DataTask, type SplitName, type TokenizerOptions,
} from './source';
export { prepareData, type PrepareOptions, type PrepareSummary } from './prepare';
export { openDataset, imageIdOf, recordsToBatch, PreparedDataset, SplitReader, DEFAULT_CACHE_BYTES, type StreamOptions } from './dataset';
export { ManifestSchema, MANIFEST_FILE, TOKENIZER_FILE, type Manifest, type MajorityBaseline } from './manifest';
export {
  Tokenizer, WordTokenizer, WordPieceTokenizer, buildWordTokenizer, loadWordPieceVocab, tokenizerFromJson, splitWords,
  type EncodeOptions, type Encoded, type TokenizerJson,
} from './tokenizer';
export { softScores, encodeAnswers, buildAnswerVocab, mostFrequentAnswer } from './vqa-answers';
export { normalizeVqaAnswer } from './vqa-normalize';
