/** PrepareVocabulary: the tokenizer and VQA answer classes from the training split (trainer/data buildVocabulary). */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { runLayout } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { readRunSpec } from '../../contract/plan';
import { buildVocabulary, type VocabularySummary } from '../../trainer/data/prep/vocabulary';
import { vocabularyForTeacher } from '../../trainer/data/prepare';
import { teacherDataContract } from '../../trainer/onnx/teacher-data';
import { isDirectEvent, PrepareVocabularyDirectEventSchema, PrepareVocabularyRunEventSchema } from './schema';

const logger = new Logger({ serviceName: 'amad-prepare-vocabulary' });

export async function handler(event: unknown, context?: Context): Promise<VocabularySummary> {
  if (context) logger.addContext(context);
  let summary: VocabularySummary;
  if (isDirectEvent(event)) {
    summary = await buildVocabulary(parseEvent(PrepareVocabularyDirectEventSchema, event, 'PrepareVocabulary event').outUri);
  } else {
    const e = parseEvent(PrepareVocabularyRunEventSchema, event, 'PrepareVocabulary event');
    // An ONNX teacher brings its tokenizer and answer classes (in its logit order).
    const teacher = await teacherDataContract(await readRunSpec(e.specUri));
    summary = await buildVocabulary(runLayout(e.runUri).data, vocabularyForTeacher(undefined, teacher));
  }
  logger.info('Vocabulary built', { ...summary });
  return summary;
}
