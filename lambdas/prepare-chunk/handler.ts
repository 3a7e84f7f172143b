/** PrepareChunk: decodes one chunk's images and writes its image and example shards (trainer/data prepareChunk). */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { runLayout } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { prepareChunk, type ChunkSummary } from '../../trainer/data/prep/chunk';
import { isDirectEvent, PrepareChunkDirectEventSchema, PrepareChunkRunEventSchema } from './schema';

const logger = new Logger({ serviceName: 'amad-prepare-chunk' });

export async function handler(event: unknown, context?: Context): Promise<ChunkSummary> {
  if (context) logger.addContext(context);
  const { out, chunk } = isDirectEvent(event)
    ? (({ outUri, chunk: c }) => ({ out: outUri, chunk: c }))(parseEvent(PrepareChunkDirectEventSchema, event, 'PrepareChunk event'))
    : (({ runUri, chunk: c }) => ({ out: runLayout(runUri).data, chunk: c }))(parseEvent(PrepareChunkRunEventSchema, event, 'PrepareChunk event'));
  const summary = await prepareChunk(out, chunk);
  logger.info(summary.skipped ? 'Chunk already prepared' : 'Chunk prepared', { ...summary });
  return summary;
}
