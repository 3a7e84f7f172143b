/**
 * Shows a local run's progress: live bars in a terminal (cli-progress: one bar per stage and per
 * training job, with ETA), one JSON line per event otherwise (pino), so CI logs and pipes get
 * machine-readable output. Both are fed only by PipelineEvents.
 */
import * as cliProgress from 'cli-progress';
import pino from 'pino';
import { TOP_LEVEL_STAGES } from '../contract/state-machine';
import type { PipelineEvent } from './pipeline-events';

export interface ProgressReporter {
  readonly onEvent: (event: PipelineEvent) => void;
  /** Stops the display (restores the cursor); idempotent. */
  readonly stop: () => void;
}

export interface ProgressOptions {
  /** Live bars when true. @default process.stdout.isTTY */
  readonly tty?: boolean;
  /** Where to write. @default process.stdout */
  readonly stream?: NodeJS.WritableStream;
}

/** Top-level stages shown as bars (the Map states count items, the others count 1). */
const STAGE_BARS = new Set<string>(TOP_LEVEL_STAGES);

/** JSON lines: one per event, the event's fields at the top level. */
export function createJsonProgress(stream: NodeJS.WritableStream = process.stdout): ProgressReporter {
  const logger = pino({ base: { service: 'amad-run' }, timestamp: pino.stdTimeFunctions.isoTime }, stream as pino.DestinationStream);
  const write = (e: PipelineEvent) => {
    // Job progress arrives per training step: log every 10th and the last, not thousands of lines.
    if (e.type === 'job-progress' && e.step % 10 !== 0 && e.step !== e.steps) return;
    const level = e.type === 'state-failed' || (e.type === 'run-finished' && e.status !== 'SUCCEEDED') ? 'warn' : 'info';
    logger[level]({ ...e, event: e.type }, e.type);
  };
  return { onEvent: write, stop: () => undefined };
}

/** Terminal bars. */
export function createTerminalProgress(stream: NodeJS.WritableStream = process.stdout): ProgressReporter {
  const multibar = new cliProgress.MultiBar(
    {
      stream: stream as NodeJS.WritableStream & { isTTY: boolean },
      format: '{label} |{bar}| {value}/{total} {unit} | {duration_formatted} elapsed, ETA {eta_formatted} {detail}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      barsize: 24,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  const bar = (key: string, label: string, total: number, unit: string) => {
    let b = bars.get(key);
    if (!b) {
      b = multibar.create(total, 0, { label: label.padEnd(22).slice(0, 22), unit, detail: '' });
      bars.set(key, b);
    }
    return b;
  };
  let stopped = false;
  const onEvent = (e: PipelineEvent) => {
    switch (e.type) {
      case 'state-entered':
        if (e.index === undefined && STAGE_BARS.has(e.state)) bar(e.state, e.state, e.total ?? 1, e.total !== undefined ? 'items' : 'task');
        break;
      case 'map-item-finished':
        bars.get(e.state)?.increment(1, e.ok ? {} : { detail: `(item ${e.index} failed)` });
        break;
      case 'state-succeeded':
        if (e.index === undefined && bars.has(e.state)) {
          const b = bars.get(e.state)!;
          b.update(b.getTotal(), { detail: '✓' });
        }
        break;
      case 'state-failed':
        if (e.index === undefined) bars.get(e.state)?.update({ detail: `✗ ${e.error}` });
        break;
      case 'state-retried':
        bars.get(e.state)?.update({ detail: `retry ${e.attempt}` });
        break;
      case 'stage-skipped':
        bar(`job:${e.stage}`, e.stage.replace(/^train-student\//, ''), 1, 'job').update(1, { detail: 'done earlier (skipped)' });
        break;
      case 'job-started':
        bar(`job:${e.jobName}`, e.jobName, 1, 'steps').update(0, { detail: `pid ${e.pid}` });
        break;
      case 'job-progress': {
        const b = bar(`job:${e.jobName}`, e.jobName, e.steps, 'steps');
        if (b.getTotal() !== e.steps) b.setTotal(e.steps);
        b.update(e.step, { detail: e.loss !== undefined ? `loss ${e.loss.toFixed(4)}` : '' });
        break;
      }
      case 'job-finished':
        bars.get(`job:${e.jobName}`)?.update({ detail: e.exitCode === 0 ? '✓' : `✗ exit ${e.exitCode ?? e.signal}` });
        break;
      case 'notification':
      case 'run-started':
      case 'run-finished':
      case 'state-caught':
        break;
    }
  };
  return {
    onEvent,
    stop: () => {
      if (stopped) return;
      stopped = true;
      multibar.stop();
    },
  };
}

/** Bars on a terminal, JSON lines otherwise. */
export function createProgressReporter(opts: ProgressOptions = {}): ProgressReporter {
  const stream = opts.stream ?? process.stdout;
  const tty = opts.tty ?? Boolean((stream as { isTTY?: boolean }).isTTY);
  return tty ? createTerminalProgress(stream) : createJsonProgress(stream);
}
