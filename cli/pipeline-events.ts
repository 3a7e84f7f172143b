/**
 * Progress events of a local run, derived from the interpreter's event log and from the training
 * child processes. The terminal display and the JSON log both consume these, nothing else.
 */
export type PipelineEvent =
  | { readonly type: 'run-started'; readonly runId: string; readonly runUri: string }
  | { readonly type: 'state-entered'; readonly state: string; readonly index?: number; readonly total?: number }
  | { readonly type: 'state-succeeded'; readonly state: string; readonly index?: number }
  | { readonly type: 'state-failed'; readonly state: string; readonly index?: number; readonly error: string; readonly cause?: string }
  | { readonly type: 'state-retried'; readonly state: string; readonly index?: number; readonly attempt: number }
  | { readonly type: 'state-caught'; readonly state: string; readonly index?: number }
  | { readonly type: 'map-item-finished'; readonly state: string; readonly index: number; readonly ok: boolean }
  | { readonly type: 'stage-skipped'; readonly state: string; readonly stage: string }
  | { readonly type: 'job-started'; readonly jobName: string; readonly pid: number; readonly logFile: string }
  | { readonly type: 'job-progress'; readonly jobName: string; readonly step: number; readonly steps: number; readonly loss?: number }
  | { readonly type: 'job-finished'; readonly jobName: string; readonly exitCode: number | null; readonly signal: string | null }
  | { readonly type: 'notification'; readonly subject: string; readonly message: string }
  | { readonly type: 'run-finished'; readonly runId: string; readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED'; readonly error?: string };

export type PipelineEventListener = (event: PipelineEvent) => void;

/**
 * A progress line of the trainer (stdout or stderr, one JSON object per line): any object with
 * numeric `step` and `steps` counts, e.g. the pino line `{"msg":"step","step":10,"steps":600,"loss":2.3}`.
 */
export function parseTrainerProgress(line: string): { step: number; steps: number; loss?: number } | null {
  if (!line.startsWith('{')) return null;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    if (typeof o.step === 'number' && typeof o.steps === 'number' && o.steps > 0) {
      return { step: o.step, steps: o.steps, ...(typeof o.loss === 'number' ? { loss: o.loss } : {}) };
    }
  } catch {
    /* not JSON: an ordinary log line */
  }
  return null;
}
