/**
 * RecordFailure: writes `runs/<runId>/failure.json`: which state failed, the error, and which
 * stages' outputs were kept (a resume with the same run id starts after them).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import type { FailureRecord } from '../../contract/events';
import { listCommittedStages, runLayout, runUriFor } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { RUN_ID_PATTERN } from '../../contract/spec';
import { storageFor } from '../../contract/storage';
import { failedRow, notificationText } from '../../trainer/report/runs-index';
import { rowFromRunRecords, storeRunRow } from '../../trainer/stages/runs-index';
import { FailureEventSchema, type FailureResult } from './schema';

const logger = new Logger({ serviceName: 'amad-failure' });

/** Step Functions puts the error text in `Cause`, often as JSON (Lambda: errorMessage/errorType). */
function parseCause(cause: unknown): unknown {
  if (typeof cause !== 'string') return cause ?? null;
  try {
    return JSON.parse(cause);
  } catch {
    return cause;
  }
}

export async function handler(event: unknown, context?: Context): Promise<FailureResult> {
  if (context) logger.addContext(context);
  const { state } = parseEvent(FailureEventSchema, event, 'RecordFailure event');
  const runId = state.run?.runId ?? state.runId ?? null;
  const runUri =
    state.run?.runUri ?? (state.runId && state.artifactRoot && RUN_ID_PATTERN.test(state.runId) ? runUriFor(state.artifactRoot, state.runId) : null);
  const failedState = state.failedState ?? null;
  logger.error('Run failed', { runId, failedState, error: state.error.Error });
  if (!runUri) {
    const notification = `amad-distill: a run failed before it had a usable run id (${runId ?? 'none given'}): ${state.error.Error}. Nothing was written; fix the request and submit again.`;
    return { failureUri: null, failedState, keptStages: [], notification };
  }

  const keptStages = await listCommittedStages(runUri);
  const record: FailureRecord = {
    runId,
    failedState,
    error: state.error.Error,
    cause: parseCause(state.error.Cause),
    keptStages,
    failedAt: new Date().toISOString(),
    resumeHint: `fix the cause, then re-submit with runId "${runId}" (and resume: true): the ${keptStages.length} kept stage(s) are skipped`,
  };
  const uri = runLayout(runUri).failure;
  await storageFor(uri).put(uri, JSON.stringify(record, null, 2) + '\n');
  // The record is written: the index and the notification must not lose it to a secondary error.
  let row = failedRow({ runId: runUri.replace(/\/+$/, '').split('/').pop()!, task: null, startedAt: null, now: new Date() }, record);
  try {
    row = await rowFromRunRecords(runUri, 'failed', new Date());
  } catch (err) {
    logger.warn('Could not read the run records for the runs index', { runId, error: (err as Error).message });
  }
  try {
    await storeRunRow(runUri, row);
  } catch (err) {
    logger.warn('Could not update the runs index', { runId, error: (err as Error).message });
  }
  return { failureUri: uri, failedState, keptStages, notification: notificationText(row) };
}
