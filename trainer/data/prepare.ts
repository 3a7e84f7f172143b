/**
 * prepareData: a data source → tokenizer, image and example shards, references and manifest
 * under `outUri`, in one process. It runs the four steps of the fanned-out preparation
 * (trainer/data/prep) in order — the pipeline runs the same steps as separate invocations, the
 * chunks in parallel:
 *
 *   1. planPreparation: delete any old manifest.json (from here until step 4 the folder is "not
 *      prepared"); read the layout (large JSON streamed), group examples by image, cut each
 *      split into chunks of whole images; write each chunk's input and plan.json;
 *   2. buildVocabulary: the tokenizer (or the WordPiece vocab) from the training texts only;
 *      VQA: the answer classes from the training labels;
 *   3. prepareChunk, per chunk: decode its images, write them once to an image shard and its
 *      examples to example shards; its statistics to its result file (the chunk's commit);
 *   4. mergePreparation: tokenizer.json, references.json, then manifest.json LAST, with every
 *      file's sha256.
 * A prepare that dies anywhere before 4 leaves no manifest, so it never looks complete.
 * A given teacher (`PrepareOptions.teacher`) fixes the plan's image size and text length, the
 * vocabulary's tokenizer and answer classes, and the merge's pixel normalisation.
 * prepareData redoes every chunk (the images may have changed); the pipeline's steps, and
 * completePreparation, resume: a chunk committed for the same plan and vocabulary is skipped.
 */
import { joinUri, toUri } from '../../contract/storage';
import { DataError } from './errors';
import { readPlan, readPrepFile, VOCABULARY_FILE, VocabularySchema } from './prep/files';
import { prepareChunk, type ChunkOptions } from './prep/chunk';
import { mergePreparation, type MergeOptions, type PrepareSummary } from './prep/merge';
import { planPreparation } from './prep/plan';
import { buildVocabulary, type GivenVocabulary } from './prep/vocabulary';
import { parseDataSource, type DataSource, type DataSourceInput, type SplitName } from './source';
import type { Tokenizer } from './tokenizer';

export type { PrepareSummary } from './prep/merge';
export { loadSource } from './prep/plan';

export interface PrepareOptions extends Omit<ChunkOptions, 'onProgress'> {
  /** Progress per split (images of the split's chunks done so far). */
  readonly onProgress?: (p: { split: SplitName; done: number; total: number }) => void;
  /** A tokenizer and/or answer classes to use instead of building them (e.g. a foreign teacher's). */
  readonly vocabulary?: GivenVocabulary;
  /** Keep chunks an interrupted preparation of the same plan committed (default: prepareData redoes all, completePreparation keeps them). */
  readonly resume?: boolean;
  /**
   * Prepare the data for a given teacher (an ONNX teacher, trainer/onnx/teacher-data.ts): its
   * image size and text length fix the plan, its tokenizer and answer classes the vocabulary,
   * its pixel normalisation the manifest, so the cached teacher logits line up with the
   * students' classes. The pipeline's steps apply it with the same helpers below.
   */
  readonly teacher?: TeacherDataContract;
}

/** What a given teacher fixes about the data it reads. */
export interface TeacherDataContract {
  readonly tokenizer: Tokenizer;
  readonly imageSize: number;
  readonly maxTextLength: number;
  readonly pixelStats: { readonly mean: [number, number, number]; readonly std: [number, number, number] };
  /** VQA: the teacher's answer classes in logit order. */
  readonly answers?: readonly string[];
}

/** Plan step: the source with the teacher's image size and text length. */
export function sourceForTeacher(sourceInput: DataSourceInput | DataSource, teacher: TeacherDataContract | undefined): DataSourceInput | DataSource {
  if (!teacher) return sourceInput;
  return { ...parseDataSource(sourceInput), imageSize: teacher.imageSize, maxTextLength: teacher.maxTextLength };
}

/** Vocabulary step: the teacher's tokenizer and answer classes over any given vocabulary. */
export function vocabularyForTeacher(given: GivenVocabulary | undefined, teacher: TeacherDataContract | undefined): GivenVocabulary | undefined {
  if (!teacher) return given;
  return { ...given, tokenizer: teacher.tokenizer, ...(teacher.answers ? { answers: teacher.answers } : {}) };
}

/** Merge step: the teacher's pixel normalisation replaces the training images' statistics. */
export const mergeOptionsForTeacher = (teacher: TeacherDataContract | undefined): MergeOptions => (teacher ? { pixelStats: teacher.pixelStats } : {});

export async function prepareData(sourceInput: DataSourceInput | DataSource, outUri: string, options: PrepareOptions = {}): Promise<PrepareSummary> {
  const out = toUri(outUri);
  await planPreparation(sourceForTeacher(sourceInput, options.teacher), out);
  await buildVocabulary(out, vocabularyForTeacher(options.vocabulary, options.teacher));
  return completePreparation(out, { resume: false, ...options });
}

/** True when the folder's vocabulary file belongs to its current plan. */
async function vocabularyCurrent(out: string, planId: string): Promise<boolean> {
  try {
    return (await readPrepFile(joinUri(out, VOCABULARY_FILE), VocabularySchema, 'buildVocabulary')).value.planId === planId;
  } catch (e) {
    if (e instanceof DataError) return false;
    throw e;
  }
}

/**
 * Finishes a planned preparation: builds the vocabulary if the plan has none, prepares every
 * chunk not yet committed (committed ones are skipped), then merges. In the pipeline the Map has
 * done every chunk and this only merges; run alone on a planned folder, it does the rest.
 */
export async function completePreparation(outUri: string, options: PrepareOptions = {}): Promise<PrepareSummary> {
  const out = toUri(outUri);
  const plan = await readPlan(out);
  if (!(await vocabularyCurrent(out, plan.id))) await buildVocabulary(out, vocabularyForTeacher(options.vocabulary, options.teacher));
  const doneBefore: Partial<Record<SplitName, number>> = {};
  for (let i = 0; i < plan.chunks.length; i++) {
    await prepareChunk(out, i, {
      ...options,
      force: options.resume === false,
      onProgress: (p) => {
        const split = p.split as SplitName;
        const total = plan.splits[split]?.images ?? p.total;
        options.onProgress?.({ split, done: (doneBefore[split] ?? 0) + p.done, total });
        if (p.done === p.total) doneBefore[split] = (doneBefore[split] ?? 0) + p.total;
      },
    });
  }
  return mergePreparation(out, mergeOptionsForTeacher(options.teacher));
}
