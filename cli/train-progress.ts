/**
 * Progress of one training run in a terminal: a bar with ETA, loss and the latest validation
 * score. Without a terminal (CI, logs) it writes a JSON line every few seconds instead.
 */
import { SingleBar, Presets } from 'cli-progress';
import type { StepInfo } from '../trainer/train/loop';

export function trainProgress(title: string): { onStep: (s: StepInfo) => void; stop: () => void } {
  if (!process.stderr.isTTY) {
    let last = 0;
    return {
      onStep: (s) => {
        if (Date.now() - last < 5000 && s.step !== s.steps && !s.val) return;
        last = Date.now();
        process.stderr.write(JSON.stringify({ msg: 'progress', job: title, step: s.step, steps: s.steps, loss: +s.loss.toFixed(4), msPerStep: Math.round(s.msPerStep), val: s.val }) + '\n');
      },
      stop: () => undefined,
    };
  }
  const bar = new SingleBar(
    { format: `${title} |{bar}| {value}/{total} steps | loss {loss} | val {val} | {ms} ms/step | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true },
    Presets.shades_classic,
  );
  let started = false;
  let val = '–';
  return {
    onStep: (s) => {
      if (!started) {
        bar.start(s.steps, s.step - 1, { loss: '–', val, ms: '–' });
        started = true;
      }
      if (s.val) val = Object.entries(s.val).map(([k, v]) => `${k} ${v.toFixed(3)}`)[0] ?? val;
      bar.update(s.step, { loss: s.loss.toFixed(4), val, ms: Math.round(s.msPerStep) });
    },
    stop: () => started && bar.stop(),
  };
}
