/** MergeEval's event: the models, the evaluation shards and the student outcomes. */
import { MergeEvalInputSchema, MergeEvalOutputSchema } from '../../contract/events';

export const MergeEvalEventSchema = MergeEvalInputSchema;
export const MergeEvalResultSchema = MergeEvalOutputSchema;
export type { MergeEvalInput as MergeEvalEvent, MergeEvalOutput as MergeEvalResult } from '../../contract/events';
