/** EvaluateShard's event: one (model, shard) item of the Evaluate Map. */
import { EvaluateShardInputSchema } from '../../contract/events';

export const EvaluateEventSchema = EvaluateShardInputSchema;
export type { EvaluateShardInput as EvaluateEvent } from '../../contract/events';

export interface EvaluateResult {
  readonly modelId: string;
  readonly shardIndex: number;
  /** Partial results file; null when the model was not trained (skippedReason says why). */
  readonly partUri: string | null;
  readonly skipped: boolean;
  readonly skippedReason?: string;
}
