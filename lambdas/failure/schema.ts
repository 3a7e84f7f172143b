/** RecordFailure's event: the whole state at the failure (see contract/events FailureInputSchema). */
import { z } from 'zod';
import { FailureInputSchema } from '../../contract/events';

export const FailureEventSchema = z.strictObject({ state: FailureInputSchema });
export type FailureEvent = z.infer<typeof FailureEventSchema>;

export interface FailureResult {
  /** Where failure.json was written; null when the run folder is unknown (the run id was invalid). */
  readonly failureUri: string | null;
  readonly failedState: string | null;
  readonly keptStages: readonly string[];
  /** The run notification's text (NotifyFailure publishes it). */
  readonly notification: string;
}
