/** CacheTeacherShard: runs the teacher over one data shard and caches its attention maps and logits. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { fingerprint, outputsFingerprint, runLayout, runStageOnce, Stage } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { readRunSpec } from '../../contract/plan';
import { cacheTeacherShard } from '../../trainer/stages';
import { CacheTeacherEventSchema, type CacheTeacherResult } from './schema';
import { initInferenceRuntimes } from '../../trainer/inference/runtimes';

const logger = new Logger({ serviceName: 'amad-cache-teacher' });
// Cold start loads the tfjs backend and ONNX Runtime and logs which came up (a fallback is never silent).
const runtimes = initInferenceRuntimes();
runtimes.catch(() => undefined); // the handler awaits it and fails with the reason

export async function handler(event: unknown, context?: Context): Promise<CacheTeacherResult> {
  if (context) logger.addContext(context);
  await runtimes;
  const e = parseEvent(CacheTeacherEventSchema, event, 'CacheTeacherShard event');
  // A retrained teacher (other weights) invalidates the cached shard; a given checkpoint is identified by its URI.
  const teacher = (await outputsFingerprint(e.runUri, Stage.trainTeacher)) ?? e.teacherUri;
  const inputHash = fingerprint({ teacher, shard: e.shardUri });
  const { result, skipped } = await runStageOnce(e.runUri, Stage.cacheTeacherShard(e.shardIndex), async () => {
    const spec = await readRunSpec(e.specUri);
    const { outputs } = await cacheTeacherShard({
      runUri: e.runUri,
      spec,
      teacherUri: e.teacherUri,
      shardUri: e.shardUri,
      shardIndex: e.shardIndex,
      cacheDir: runLayout(e.runUri).cache,
    });
    return { outputs, result: { shardIndex: e.shardIndex, files: outputs.length } };
  }, { inputHash });
  logger.info('Teacher shard cached', { runId: e.runId, shardIndex: e.shardIndex, skipped });
  return { ...result, skipped };
}
