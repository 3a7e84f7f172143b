/** Report's event: merged evaluations and student outcomes. */
import { ReportInputSchema, ReportOutputSchema } from '../../contract/events';

export const ReportEventSchema = ReportInputSchema;
export const ReportResultSchema = ReportOutputSchema;
export type { ReportInput as ReportEvent, ReportOutput as ReportResult } from '../../contract/events';
