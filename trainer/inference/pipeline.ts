/**
 * A stage's loop over batches with its three steps overlapped: while batch i's forward pass
 * runs (on ONNX Runtime's session worker: onnx/session-worker.ts), batch i+1 is read and
 * decoded and batch i−1's result is consumed (cache records encoded and written, predictions
 * scored). With TensorFlow.js the forward pass runs on this thread and the steps simply take
 * turns; results are the same either way, consumed in batch order.
 *
 *     await pipelineBatches(exampleIndices, 32,
 *       (slice) => split.batch(slice),             // read (32 indices at a time, the last fewer)
 *       (batch) => runner.forward(batch),         // forward
 *       (batch, out) => writeRecords(batch, out)); // consume, in order
 *
 * One forward pass runs at a time; at most two batches and two results are held at once. The
 * first failure of any step stops the loop and is thrown; no step's rejection goes unhandled
 * while another is awaited.
 */

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A promise that never rejects (so it may wait unobserved), and the way back to its value. */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

async function unwrap<T>(p: Promise<Settled<T>>): Promise<T> {
  const s = await p;
  if (!s.ok) throw s.error;
  return s.value;
}

export async function pipelineBatches<B, O>(
  indices: readonly number[],
  batchSize: number,
  read: (slice: number[], i: number) => Promise<B>,
  forward: (batch: B) => Promise<O>,
  consume: (batch: B, out: O, i: number) => Promise<void> | void,
): Promise<void> {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new RangeError(`pipelineBatches: batchSize must be a positive integer, got ${batchSize}`);
  const count = Math.ceil(indices.length / batchSize);
  const readBatch = (i: number) => settle(read(indices.slice(i * batchSize, (i + 1) * batchSize), i));
  let next = count > 0 ? readBatch(0) : null;
  let running: Promise<Settled<{ batch: B; out: O }>> | null = null;
  for (let i = 0; i < count; i++) {
    const batch = await unwrap(next!);
    // One forward pass at a time: batch i starts when batch i−1's is done …
    const previous = running ? await unwrap(running) : null;
    running = settle(forward(batch).then((out) => ({ batch, out })));
    // … and while it runs, batch i+1 is read and result i−1 consumed.
    next = i + 1 < count ? readBatch(i + 1) : null;
    if (previous) await consume(previous.batch, previous.out, i - 1);
  }
  if (running) {
    const last = await unwrap(running);
    await consume(last.batch, last.out, count - 1);
  }
}
