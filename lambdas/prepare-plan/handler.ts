/** PreparePlan: lists the source and cuts it into chunks of whole images (trainer/data planPreparation). */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { isStageComplete, runLayout, Stage } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { readRunSpec } from '../../contract/plan';
import { planPreparation, type PlanSummary } from '../../trainer/data/prep/plan';
import { sourceForTeacher } from '../../trainer/data/prepare';
import { teacherDataContract } from '../../trainer/onnx/teacher-data';
import { isDirectEvent, PreparePlanDirectEventSchema, PreparePlanRunEventSchema, type PreparePlanResult } from './schema';

const logger = new Logger({ serviceName: 'amad-prepare-plan' });

const toResult = (plan: PlanSummary): PreparePlanResult => ({ complete: false, chunks: Array.from({ length: plan.chunks }, (_, i) => i), planUri: plan.planUri });

export async function handler(event: unknown, context?: Context): Promise<PreparePlanResult> {
  if (context) logger.addContext(context);
  if (isDirectEvent(event)) {
    const e = parseEvent(PreparePlanDirectEventSchema, event, 'PreparePlan event');
    const plan = await planPreparation(e.source, e.outUri);
    logger.info('Preparation planned', { runId: e.runId, chunks: plan.chunks, splits: plan.splits, bounds: plan.bounds });
    return toResult(plan);
  }
  const e = parseEvent(PreparePlanRunEventSchema, event, 'PreparePlan event');
  if (await isStageComplete(e.runUri, Stage.prepareData)) {
    logger.info('Data already prepared: skipping the fan-out', { runId: e.runId });
    return { complete: true, chunks: [] };
  }
  const spec = await readRunSpec(e.specUri);
  // An ONNX teacher fixes the image size and text length the chunks are cut for.
  const plan = await planPreparation(sourceForTeacher(spec.data, await teacherDataContract(spec)), runLayout(e.runUri).data);
  logger.info('Preparation planned', { runId: e.runId, chunks: plan.chunks, splits: plan.splits, bounds: plan.bounds });
  return toResult(plan);
}
