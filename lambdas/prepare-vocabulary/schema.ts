/**
 * PrepareVocabulary's event: the run reference (pipeline; the dataset is `runs/<id>/data/`) or
 * `{runId, outUri}` (direct). The plan step must have run on the same folder.
 */
import { z } from 'zod';
import { RunRefSchema } from '../../contract/events';
import { RunIdSchema } from '../../contract/spec';

export const PrepareVocabularyRunEventSchema = RunRefSchema;
export const PrepareVocabularyDirectEventSchema = z.strictObject({
  runId: RunIdSchema,
  outUri: z.string().min(1, 'outUri must be the folder the plan step wrote'),
});
export const isDirectEvent = (event: unknown): boolean => typeof event === 'object' && event !== null && 'outUri' in event;
