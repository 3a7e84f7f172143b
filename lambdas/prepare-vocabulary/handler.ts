/** PrepareVocabulary: the tokenizer and VQA answer classes from the training split (trainer/data buildVocabulary). */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { runLayout } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { buildVocabulary, type VocabularySummary } from '../../trainer/data/prep/vocabulary';
import { isDirectEvent, PrepareVocabularyDirectEventSchema, PrepareVocabularyRunEventSchema } from './schema';

const logger = new Logger({ serviceName: 'amad-prepare-vocabulary' });

export async function handler(event: unknown, context?: Context): Promise<VocabularySummary> {
  if (context) logger.addContext(context);
  const out = isDirectEvent(event)
    ? parseEvent(PrepareVocabularyDirectEventSchema, event, 'PrepareVocabulary event').outUri
    : runLayout(parseEvent(PrepareVocabularyRunEventSchema, event, 'PrepareVocabulary event').runUri).data;
  const summary = await buildVocabulary(out);
  logger.info('Vocabulary built', { ...summary });
  return summary;
}
