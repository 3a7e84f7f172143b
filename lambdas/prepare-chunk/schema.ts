/**
 * PrepareChunk's event, one per item of the PrepareChunks Map: the run reference plus the chunk
 * index (pipeline), or `{runId, outUri, chunk}` (direct). Only the index travels: the chunk's
 * images and texts are in the plan's chunk file.
 */
import { z } from 'zod';
import { RunRefSchema } from '../../contract/events';
import { RunIdSchema } from '../../contract/spec';

const Chunk = z.number().int().nonnegative().describe('index into the plan\'s chunks');
export const PrepareChunkRunEventSchema = RunRefSchema.extend({ chunk: Chunk });
export const PrepareChunkDirectEventSchema = z.strictObject({
  runId: RunIdSchema,
  outUri: z.string().min(1, 'outUri must be the folder the plan step wrote'),
  chunk: Chunk,
});
export const isDirectEvent = (event: unknown): boolean => typeof event === 'object' && event !== null && 'outUri' in event;
