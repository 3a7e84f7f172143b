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
export { planPreparation, type PlanSummary } from './prep/plan';
export { buildVocabulary, type GivenVocabulary, type VocabularySummary } from './prep/vocabulary';
export { prepareChunk, type ChunkOptions, type ChunkSummary } from './prep/chunk';
export { mergePreparation } from './prep/merge';
export { openDataset, imageIdOf, recordsToBatch, PreparedDataset, SplitReader, DEFAULT_CACHE_BYTES, type ExampleRecord, type StreamOptions } from './dataset';
export { ManifestSchema, MANIFEST_FILE, MANIFEST_VERSION, TOKENIZER_FILE, type Manifest, type MajorityBaseline } from './manifest';
export {
  Tokenizer, WordTokenizer, WordPieceTokenizer, buildWordTokenizer, loadWordPieceVocab, tokenizerFromJson, splitWords,
  type EncodeOptions, type Encoded, type TokenizerJson,
} from './tokenizer';
export { softScores, encodeAnswers, buildAnswerVocab, mostFrequentAnswer } from './vqa-answers';
export { normalizeVqaAnswer } from './vqa-normalize';
