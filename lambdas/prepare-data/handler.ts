/** PrepareData: builds the tokenizer, shards and manifest of a run's data (trainer/data prepareData). */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { runLayout, runStageOnce, Stage } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { readRunSpec } from '../../contract/plan';
import { prepareData, type PrepareSummary } from '../../trainer/data/prepare';
import { teacherDataContract } from '../../trainer/onnx/teacher-data';
import { isDirectEvent, PrepareDataDirectEventSchema, PrepareDataRunEventSchema, type PrepareDataResult } from './schema';

const logger = new Logger({ serviceName: 'amad-prepare-data' });

const toResult = (summary: PrepareSummary): PrepareDataResult => ({ manifestUri: summary.manifestUri, shards: summary.shardUris, summary });

export async function handler(event: unknown, context?: Context): Promise<PrepareDataResult> {
  if (context) logger.addContext(context);
  if (isDirectEvent(event)) {
    const e = parseEvent(PrepareDataDirectEventSchema, event, 'PrepareData event');
    const result = toResult(await prepareData(e.source, e.outUri));
    logger.info('Data prepared', { runId: e.runId, outUri: e.outUri, splits: result.summary.splits, skipped: result.summary.skipped });
    return result;
  }
  const e = parseEvent(PrepareDataRunEventSchema, event, 'PrepareData event');
  const { result, skipped } = await runStageOnce(e.runUri, Stage.prepareData, async () => {
    const spec = await readRunSpec(e.specUri);
    // An ONNX teacher fixes tokenizer, image size, normalisation and answer classes.
    const summary = await prepareData(spec.data, runLayout(e.runUri).data, { teacher: await teacherDataContract(spec) });
    return { outputs: ['data/'], result: toResult(summary) };
  });
  logger.info('Data prepared', { runId: e.runId, skipped, splits: result.summary.splits, skipped_items: result.summary.skipped });
  return result;
}
