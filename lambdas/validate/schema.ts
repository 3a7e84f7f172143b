/** Validate's event: the execution input (run id, artifact root, the submitted spec). */
import { ExecutionInputSchema, RunPlanSchema } from '../../contract/events';

export const ValidateEventSchema = ExecutionInputSchema;
export const ValidateResultSchema = RunPlanSchema;
export type { ExecutionInput as ValidateEvent, RunPlan as ValidateResult } from '../../contract/events';

