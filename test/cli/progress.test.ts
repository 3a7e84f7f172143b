import { PassThrough } from 'node:stream';
import { parseTrainerProgress, type PipelineEvent } from '../../cli/pipeline-events';
import { createProgressReporter } from '../../cli/progress';
import { Semaphore } from '../../cli/semaphore';

function capture(tty: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY: tty, columns: 160 });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

const events: PipelineEvent[] = [
  { type: 'run-started', runId: 'r', runUri: 'file:///r' },
  { type: 'state-entered', state: 'CacheTeacher', total: 4 },
  { type: 'map-item-finished', state: 'CacheTeacher', index: 0, ok: true },
  { type: 'map-item-finished', state: 'CacheTeacher', index: 1, ok: true },
  { type: 'job-started', jobName: 'r-amad-seed0', pid: 42, logFile: '/tmp/x.log' },
  ...Array.from({ length: 25 }, (_, i): PipelineEvent => ({ type: 'job-progress', jobName: 'r-amad-seed0', step: i + 1, steps: 25, loss: 1 / (i + 1) })),
  { type: 'job-finished', jobName: 'r-amad-seed0', exitCode: 0, signal: null },
  { type: 'run-finished', runId: 'r', status: 'SUCCEEDED' },
];

test('without a terminal: one JSON line per event, step progress thinned to every 10th and the last', () => {
  const out = capture(false);
  const p = createProgressReporter({ stream: out.stream });
  events.forEach(p.onEvent);
  p.stop();
  const lines = out.text().trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.filter((l) => l.event === 'job-progress').map((l) => l.step)).toEqual([10, 20, 25]);
  expect(lines.map((l) => l.event)).toEqual(expect.arrayContaining(['run-started', 'state-entered', 'map-item-finished', 'job-started', 'job-finished', 'run-finished']));
  expect(lines.find((l) => l.event === 'state-entered')).toMatchObject({ state: 'CacheTeacher', total: 4, service: 'amad-run' });
});

test('in a terminal: a bar per stage and per training job with counts', () => {
  const out = capture(true);
  const p = createProgressReporter({ stream: out.stream });
  events.forEach(p.onEvent);
  p.stop();
  const text = out.text();
  expect(text).toMatch(/CacheTeacher .*2\/4 items/);
  expect(text).toMatch(/r-amad-seed0 .*25\/25 steps/);
});

test('trainer progress lines: JSON objects with numeric step and steps', () => {
  expect(parseTrainerProgress('{"msg":"step","step":3,"steps":10,"loss":0.5}')).toEqual({ step: 3, steps: 10, loss: 0.5 });
  expect(parseTrainerProgress('{"step":3}')).toBeNull();
  expect(parseTrainerProgress('step 3/10')).toBeNull();
  expect(parseTrainerProgress('{not json')).toBeNull();
});

test('the semaphore never lets more than its limit run, and a raised limit admits waiters', async () => {
  const sem = new Semaphore(2);
  let active = 0;
  let peak = 0;
  const gates: (() => void)[] = [];
  const task = () =>
    sem.use(async () => {
      peak = Math.max(peak, ++active);
      await new Promise<void>((r) => gates.push(r));
      active--;
    });
  const all = Promise.all([task(), task(), task(), task()]);
  await new Promise((r) => setImmediate(r));
  expect(sem.inUse).toBe(2);
  sem.setLimit(3);
  await new Promise((r) => setImmediate(r));
  expect(sem.inUse).toBe(3);
  while (gates.length) {
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
  }
  await all;
  expect(peak).toBe(3);
  expect(() => new Semaphore(0)).toThrow(/≥ 1/);
});
