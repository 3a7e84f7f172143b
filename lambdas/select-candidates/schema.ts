/** SelectCandidates' event and result. */
import { SelectCandidatesInputSchema, SelectCandidatesOutputSchema } from '../../contract/events';

export const SelectCandidatesEventSchema = SelectCandidatesInputSchema;
export const SelectCandidatesResultSchema = SelectCandidatesOutputSchema;
export type { SelectCandidatesInput as SelectCandidatesEvent, SelectCandidatesOutput as SelectCandidatesResult } from '../../contract/events';
