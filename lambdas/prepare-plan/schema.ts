/**
 * PreparePlan's event (the first step of the fanned-out PrepareData), in one of two forms:
 * - pipeline: the run reference `{runId, runUri, specUri}`; the source is the run spec's `data`,
 *   the dataset goes to `runs/<id>/data/`;
 * - direct: `{runId, source, outUri}`, for ad-hoc preparation.
 * Its result is what the Map needs and no more: the chunk indices (not the chunks' contents).
 */
import { z } from 'zod';
import { RunRefSchema } from '../../contract/events';
import { RunIdSchema } from '../../contract/spec';
import { DataSourceSchema } from '../../trainer/data/source';

export const PreparePlanRunEventSchema = RunRefSchema;
export const PreparePlanDirectEventSchema = z.strictObject({
  runId: RunIdSchema,
  source: DataSourceSchema,
  outUri: z.string().min(1, 'outUri must be a folder path, file:// or s3:// URI'),
});

/** Which schema an event is checked against. */
export const isDirectEvent = (event: unknown): boolean => typeof event === 'object' && event !== null && 'source' in event;

export interface PreparePlanResult {
  /** True when the run's data is already prepared (its stage marker is valid): the fan-out is skipped. */
  readonly complete: boolean;
  /** Chunk indices 0 … n − 1, the items of the PrepareChunks Map (empty when complete). */
  readonly chunks: number[];
  readonly planUri?: string;
}
