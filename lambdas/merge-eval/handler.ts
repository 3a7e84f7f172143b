/**
 * MergeEval: merges each model's per-shard results into `eval/<model>.json`. A model with a
 * missing shard result (failed student) is listed in `missing` with the reason instead.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { fingerprint, isStageComplete, outputsFingerprint, runLayout, runStageOnce, Stage } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { readRunSpec } from '../../contract/plan';
import { mergeEvaluations } from '../../trainer/stages';
import { MergeEvalEventSchema, type MergeEvalEvent, type MergeEvalResult } from './schema';
import { initInferenceRuntimes } from '../../trainer/inference/runtimes';

const logger = new Logger({ serviceName: 'amad-merge-eval' });
// Cold start loads the tfjs backend and ONNX Runtime and logs which came up (a fallback is never silent).
const runtimes = initInferenceRuntimes();
runtimes.catch(() => undefined); // the handler awaits it and fails with the reason

/** Why a model has no complete set of shard results. */
function missingReason(e: MergeEvalEvent, modelId: string): string {
  const student = e.students.find((s) => s.modelId === modelId && s.status === 'FAILED');
  if (student) return `training failed: ${student.error?.Error ?? 'unknown error'}`;
  return 'not every evaluation shard has a result';
}

export async function handler(event: unknown, context?: Context): Promise<MergeEvalResult> {
  if (context) logger.addContext(context);
  await runtimes;
  const e = parseEvent(MergeEvalEventSchema, event, 'MergeEval event');
  const layout = runLayout(e.runUri);
  // Inputs: every shard result present now and every student's outcome. A student that failed
  // before and trained on resume changes both, so the merge runs again.
  const parts = await Promise.all(e.models.flatMap((m) => e.evalShards.map((_, i) => outputsFingerprint(e.runUri, Stage.evaluate(m.modelId, i)))));
  const inputHash = fingerprint({ parts, students: e.students.map((s) => [s.modelId, s.status]) });
  const { result, skipped } = await runStageOnce(e.runUri, Stage.mergeEval, async () => {
    const spec = await readRunSpec(e.specUri);
    const evalFiles: Record<string, string> = {};
    const missing: { modelId: string; reason: string }[] = [];
    const outputs: string[] = [];
    for (const model of e.models) {
      const shardIndices = e.evalShards.map((_, i) => i);
      const complete = await Promise.all(shardIndices.map((i) => isStageComplete(e.runUri, Stage.evaluate(model.modelId, i), { verify: 'size' })));
      if (!complete.every(Boolean) || shardIndices.length === 0) {
        missing.push({ modelId: model.modelId, reason: shardIndices.length === 0 ? 'the evaluation split has no shards' : missingReason(e, model.modelId) });
        continue;
      }
      const outUri = layout.evalFile(model.modelId);
      const merged = await mergeEvaluations({ runUri: e.runUri, spec, modelId: model.modelId, partUris: shardIndices.map((i) => layout.evalPart(model.modelId, i)), outUri });
      outputs.push(...(merged.outputs.length ? merged.outputs : [outUri]));
      evalFiles[model.modelId] = outUri;
    }
    if (outputs.length === 0) throw new Error(`MergeEval: no model of run ${e.runId} has evaluation results (${missing.map((m) => `${m.modelId}: ${m.reason}`).join('; ')})`);
    return { outputs, result: { evalFiles, missing } };
  }, { inputHash });
  logger.info('Evaluations merged', { runId: e.runId, models: Object.keys(result.evalFiles).length, missing: result.missing.length, skipped });
  return result;
}
