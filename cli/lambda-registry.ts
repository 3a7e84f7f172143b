/**
 * The in-process Lambda handlers of a local run: the same handler modules the Lambda functions
 * deploy, keyed by the Task state names of the definition.
 */
import type { Context } from 'aws-lambda';
import { TaskState } from '../contract/state-machine';
import type { LambdaHandler, LambdaRegistry } from './local-executor';

type AwsHandler = (event: unknown, context?: Context) => Promise<unknown>;

/** A Context for in-process calls (Powertools reads the function name and request id from it). */
function localContext(functionName: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '0',
    awsRequestId: `local-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 900_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Loads `lambdas/<dir>/handler` on first call (the ML stages load tfjs; a CLI `status` should not). */
function lazyHandler(dir: string): LambdaHandler {
  let fn: AwsHandler | undefined;
  return async (input) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    fn ??= (require(`../lambdas/${dir}/handler`) as { handler: AwsHandler }).handler;
    return fn(input, localContext(`amad-${dir}`));
  };
}

/** Handlers of every Lambda Task state; `overrides` replaces some (tests, experiments). */
export function defaultLambdaRegistry(overrides: Partial<Record<string, LambdaHandler>> = {}): LambdaRegistry {
  const registry: Record<string, LambdaHandler> = {
    [TaskState.validate]: lazyHandler('validate'),
    [TaskState.prepareData]: lazyHandler('prepare-data'),
    [TaskState.preparePlan]: lazyHandler('prepare-plan'),
    [TaskState.prepareVocabulary]: lazyHandler('prepare-vocabulary'),
    [TaskState.prepareChunk]: lazyHandler('prepare-chunk'),
    [TaskState.cacheTeacherShard]: lazyHandler('cache-teacher'),
    [TaskState.evaluateShard]: lazyHandler('evaluate'),
    [TaskState.mergeEval]: lazyHandler('merge-eval'),
    [TaskState.evaluateCandidateShard]: lazyHandler('evaluate'),
    [TaskState.selectCandidates]: lazyHandler('select-candidates'),
    [TaskState.report]: lazyHandler('report'),
    [TaskState.recordFailure]: lazyHandler('failure'),
  };
  for (const [name, fn] of Object.entries(overrides)) if (fn) registry[name] = fn;
  return registry;
}
