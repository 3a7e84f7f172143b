/** Report: builds `report/index.html`, `report/metrics.json` and `report/summary.md`. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { fingerprint, outputsFingerprint, runLayout, runStageOnce, Stage } from '../../contract/layout';
import { parseEvent } from '../../contract/parse-event';
import { readRunSpec } from '../../contract/plan';
import { bareRow, notificationText } from '../../trainer/report/runs-index';
import { buildReport } from '../../trainer/stages';
import { rowFromRunRecords, storeRunRow } from '../../trainer/stages/runs-index';
import { ReportEventSchema, type ReportResult } from './schema';
import { initInferenceRuntimes } from '../../trainer/inference/runtimes';

const logger = new Logger({ serviceName: 'amad-report' });
// Cold start loads the tfjs backend and ONNX Runtime and logs which came up (a fallback is never silent).
const runtimes = initInferenceRuntimes();
runtimes.catch(() => undefined); // the handler awaits it and fails with the reason

export async function handler(event: unknown, context?: Context): Promise<ReportResult> {
  if (context) logger.addContext(context);
  await runtimes;
  const e = parseEvent(ReportEventSchema, event, 'Report event');
  const layout = runLayout(e.runUri);
  const inputHash = fingerprint({
    evaluation: await outputsFingerprint(e.runUri, Stage.mergeEval),
    missing: e.evaluation.missing,
    students: e.students.map((s) => [s.modelId, s.status]),
  });
  const { result, skipped } = await runStageOnce(e.runUri, Stage.report, async () => {
    const spec = await readRunSpec(e.specUri);
    const { outputs } = await buildReport({
      runUri: e.runUri,
      spec,
      evalFiles: e.evaluation.evalFiles,
      missing: e.evaluation.missing,
      students: e.students,
      reportDir: layout.reportDir,
    });
    const expected = [layout.reportIndex, layout.reportMetrics, layout.reportSummary];
    return { outputs: [...new Set([...expected, ...outputs])], result: { reportUri: layout.reportIndex, metricsUri: layout.reportMetrics, summaryUri: layout.reportSummary } };
  }, { inputHash });
  logger.info('Report built', { runId: e.runId, reportUri: result.reportUri, skipped });
  // Outside the stage: a resumed run's marker holds an older result, the index and the
  // notification must describe this finish.
  // The runs index is a convenience: the report is written, so the run succeeds even when the
  // index cannot be updated (the notification then names the run without its numbers).
  let row = bareRow(e.runId, 'succeeded', new Date());
  try {
    row = await rowFromRunRecords(e.runUri, 'succeeded', new Date());
  } catch (err) {
    logger.warn('Could not read the run records for the runs index', { runId: e.runId, error: (err as Error).message });
  }
  try {
    await storeRunRow(e.runUri, row);
  } catch (err) {
    logger.warn('Could not update the runs index', { runId: e.runId, error: (err as Error).message });
  }
  return { ...result, notification: notificationText(row) };
}
