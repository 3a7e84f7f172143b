/**
 * PrepareData's event, in one of two forms:
 * - pipeline: the run reference the state machine passes (`{runId, runUri, specUri}`,
 *   contract/events PrepareDataInput); the data source is the run spec's `data`, the output goes
 *   to `runs/<id>/data/` and the stage commits its marker (a resumed run skips it);
 * - direct: `{runId, source, outUri}` — a data source (trainer/data/source DataSourceSchema) and
 *   where to write, for the CLI and ad-hoc preparation (no stage marker).
 * The form is chosen by the presence of `source`, so an error names the fields of that form.
 */
import { z } from 'zod';
import { PrepareDataInputSchema, type PrepareDataOutput } from '../../contract/events';
import { RunIdSchema } from '../../contract/spec';
import type { PrepareSummary } from '../../trainer/data/prepare';
import { DataSourceSchema } from '../../trainer/data/source';

export const PrepareDataRunEventSchema = PrepareDataInputSchema;

export const PrepareDataDirectEventSchema = z.strictObject({
  runId: RunIdSchema,
  source: DataSourceSchema,
  outUri: z.string().min(1, 'outUri must be a folder path, file:// or s3:// URI'),
});

export type PrepareDataRunEvent = z.infer<typeof PrepareDataRunEventSchema>;
export type PrepareDataDirectEvent = z.input<typeof PrepareDataDirectEventSchema>;

/** Which schema an event is checked against. */
export function isDirectEvent(event: unknown): boolean {
  return typeof event === 'object' && event !== null && 'source' in event;
}

/** The state machine's `$.data` plus what was prepared (counts, vocabulary, skipped items). */
export type PrepareDataResult = PrepareDataOutput & { readonly summary: PrepareSummary };
