/**
 * EvaluateShard: evaluates one model on one shard. A model whose training stage is not complete
 * (its student job failed) is skipped, not failed: the run reports the students that trained.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { fingerprint, isStageComplete, outputsFingerprint, runLayout, runStageOnce, Stage } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { readRunSpec } from '../../contract/plan';
import { evaluateShard } from '../../trainer/stages';
import { EvaluateEventSchema, type EvaluateResult } from './schema';
import { initInferenceRuntimes } from '../../trainer/inference/runtimes';

const logger = new Logger({ serviceName: 'amad-evaluate' });
// Cold start loads the tfjs backend and ONNX Runtime and logs which came up (a fallback is never silent).
const runtimes = initInferenceRuntimes();
runtimes.catch(() => undefined); // the handler awaits it and fails with the reason

export async function handler(event: unknown, context?: Context): Promise<EvaluateResult> {
  if (context) logger.addContext(context);
  await runtimes;
  const e = parseEvent(EvaluateEventSchema, event, 'EvaluateShard event');
  const { modelId } = e.model;
  // Size check only: the model was just verified when its training stage was (re)run or skipped.
  if (e.model.stage && !(await isStageComplete(e.runUri, e.model.stage, { verify: 'size' }))) {
    const skippedReason = `model ${modelId} was not trained (stage ${e.model.stage} incomplete)`;
    logger.warn('Model skipped', { runId: e.runId, modelId, shardIndex: e.shardIndex, reason: skippedReason });
    return { modelId, shardIndex: e.shardIndex, partUri: null, skipped: true, skippedReason };
  }
  const partUri = runLayout(e.runUri).evalPart(modelId, e.shardIndex);
  // Re-evaluate when the model's files changed (retrained), not merely because the run resumed.
  const model = e.model.stage ? await outputsFingerprint(e.runUri, e.model.stage) : e.model.modelUri;
  const inputHash = fingerprint({ model, shard: e.shardUri });
  const { skipped } = await runStageOnce(e.runUri, Stage.evaluate(modelId, e.shardIndex), async () => {
    const spec = await readRunSpec(e.specUri);
    const { outputs } = await evaluateShard({ runUri: e.runUri, spec, model: e.model, shardUri: e.shardUri, shardIndex: e.shardIndex, outUri: partUri });
    return { outputs: outputs.length ? outputs : [partUri], result: { partUri } };
  }, { inputHash });
  logger.info('Shard evaluated', { runId: e.runId, modelId, shardIndex: e.shardIndex, skipped });
  return { modelId, shardIndex: e.shardIndex, partUri, skipped };
}
