/**
 * pipelineBatches (trainer/inference/pipeline.ts): the next batch is read and the previous
 * result consumed while a forward pass runs; results are consumed once each, in order; the
 * first failure stops the loop and is thrown, with no rejection left unhandled.
 */
import { pipelineBatches } from '../../../trainer/inference/pipeline';

/** A forward pass that finishes only when the test says so. */
function gatedForward(log: string[]) {
  const gates: (() => void)[] = [];
  const forward = (b: number) =>
    new Promise<number>((resolve) => {
      log.push(`forward ${b} start`);
      gates[b] = () => {
        log.push(`forward ${b} done`);
        resolve(b * 10);
      };
    });
  return { forward, open: (b: number) => gates[b]!() };
}

const tick = () => new Promise((r) => setImmediate(r));

test('reads the next batch and consumes the previous result while a forward pass runs; consumes in order', async () => {
  const log: string[] = [];
  const { forward, open } = gatedForward(log);
  const consumed: [number, number, number][] = [];
  const done = pipelineBatches(
    [0, 1, 2],
    1,
    async ([i]) => (log.push(`read ${i}`), i!),
    forward,
    (b, out, i) => void consumed.push([b, out, i]),
  );
  await tick();
  // Forward 0 runs; batch 1 is already read.
  expect(log).toEqual(['read 0', 'forward 0 start', 'read 1']);
  open(0);
  await tick();
  // Forward 1 started (and batch 2 read) before result 0 was consumed.
  expect(log.slice(3)).toEqual(['forward 0 done', 'forward 1 start', 'read 2']);
  expect(consumed).toEqual([[0, 0, 0]]);
  open(1);
  await tick();
  open(2);
  await done;
  expect(consumed).toEqual([
    [0, 0, 0],
    [1, 10, 1],
    [2, 20, 2],
  ]);
});

test('no batches: nothing is read or run', async () => {
  const read = jest.fn();
  await pipelineBatches([], 4, read, jest.fn(), jest.fn());
  expect(read).not.toHaveBeenCalled();
});

test('reads the indices batchSize at a time, the last batch with the rest', async () => {
  const slices: number[][] = [];
  await pipelineBatches([5, 6, 7, 8, 9], 2, async (slice) => (slices.push(slice), slice.length), async (n) => n, () => {});
  expect(slices).toEqual([[5, 6], [7, 8], [9]]);
  await expect(pipelineBatches([1], 0, async () => 0, async () => 0, () => {})).rejects.toThrow(/batchSize must be a positive integer/);
});

test('a failed forward pass is thrown even while another step is awaited, and nothing after it is consumed', async () => {
  const unhandled = jest.fn();
  process.on('unhandledRejection', unhandled);
  try {
    const consumed: number[] = [];
    let releaseConsume!: () => void;
    const run = pipelineBatches(
      [0, 1, 2],
      1,
      async ([i]) => i!,
      async (b) => {
        if (b === 1) throw new Error('forward 1 failed');
        return b;
      },
      // Consuming result 0 waits: forward 1 fails meanwhile, unobserved.
      (b) => (consumed.push(b), b === 0 ? new Promise<void>((r) => (releaseConsume = r)) : undefined),
    );
    await tick();
    await tick();
    releaseConsume();
    await expect(run).rejects.toThrow('forward 1 failed');
    expect(consumed).toEqual([0]);
    await tick();
    expect(unhandled).not.toHaveBeenCalled();
  } finally {
    process.off('unhandledRejection', unhandled);
  }
});

test('a failed read is thrown', async () => {
  await expect(
    pipelineBatches(
      [0, 1],
      1,
      async ([i]) => {
        if (i === 1) throw new Error('shard corrupt at batch 1');
        return i;
      },
      async (b) => b,
      () => {},
    ),
  ).rejects.toThrow('shard corrupt at batch 1');
});
