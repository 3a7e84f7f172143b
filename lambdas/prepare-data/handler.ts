/**
 * PrepareData: the last step of the fanned-out preparation (PreparePlan → PrepareVocabulary →
 * PrepareChunks → PrepareData): merges the chunks into the manifest and commits the stage
 * (trainer/data completePreparation). Run on its own — a run folder without a plan, or the
 * direct form `{runId, source, outUri}` — it prepares everything in one invocation, as before.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { assertDirectPrepareAllowed } from '../../contract/deployment-policy';
import { deploymentPolicyFromEnv } from '../deployment-env';
import type { Context } from 'aws-lambda';
import { runLayout, runStageOnce, Stage } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { readRunSpec } from '../../contract/plan';
import { joinUri, storageFor } from '../../contract/storage';
import { PLAN_FILE } from '../../trainer/data/prep/files';
import { completePreparation, prepareData, type PrepareSummary } from '../../trainer/data/prepare';
import { teacherDataContract } from '../../trainer/onnx/teacher-data';
import { isDirectEvent, PrepareDataDirectEventSchema, PrepareDataRunEventSchema, type PrepareDataResult } from './schema';

const logger = new Logger({ serviceName: 'amad-prepare-data' });

const toResult = (summary: PrepareSummary): PrepareDataResult => ({ manifestUri: summary.manifestUri, shards: summary.shardUris, summary });

export async function handler(event: unknown, context?: Context): Promise<PrepareDataResult> {
  if (context) logger.addContext(context);
  if (isDirectEvent(event)) {
    const e = parseEvent(PrepareDataDirectEventSchema, event, 'PrepareData event');
    // No spec and no Validate here: on a deployment, the same read rule applies to the event.
    const policy = deploymentPolicyFromEnv();
    if (policy) assertDirectPrepareAllowed(e.source, e.outUri, policy);
    const result = toResult(await prepareData(e.source, e.outUri));
    logger.info('Data prepared', { runId: e.runId, outUri: e.outUri, splits: result.summary.splits, skipped: result.summary.skipped });
    return result;
  }
  const e = parseEvent(PrepareDataRunEventSchema, event, 'PrepareData event');
  const { result, skipped } = await runStageOnce(e.runUri, Stage.prepareData, async () => {
    const out = runLayout(e.runUri).data;
    const spec = await readRunSpec(e.specUri);
    // An ONNX teacher fixes tokenizer, image size, normalisation and answer classes (the plan and
    // vocabulary steps applied the first ones; the merge records its normalisation).
    const teacher = await teacherDataContract(spec);
    const planned = await storageFor(out).exists(joinUri(out, PLAN_FILE));
    const summary = planned ? await completePreparation(out, { teacher }) : await prepareData(spec.data, out, { teacher });
    return { outputs: ['data/'], result: toResult(summary) };
  });
  logger.info('Data prepared', { runId: e.runId, skipped, splits: result.summary.splits, skipped_items: result.summary.skipped });
  return result;
}
