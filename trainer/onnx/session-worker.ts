/**
 * ONNX Runtime sessions on their own thread: every session of this process lives in one shared
 * worker thread; the stages hold a `WorkerSession` proxy with the session's interface (`run`,
 * `release`, input/output names).
 *
 * Why a thread:
 * - Overlap. onnxruntime-node runs a session synchronously on the calling thread (its `run` only
 *   defers to `setImmediate`), so on the JavaScript thread nothing else happens during a forward
 *   pass. From a worker, the stage reads and decodes the next batch, and encodes and writes the
 *   last one's cache records, while the forward pass runs (trainer/inference/pipeline.ts).
 * - Denormals. The attention softmax of a padded sequence yields denormal probabilities (ONNX
 *   Runtime's exp clamps a masked score of −1e9 to about −104, where e^x is denormal in float32),
 *   and each operation on a denormal costs a slow path on x86: ONNX Runtime's
 *   `session.set_denormal_as_zero` removes that cost (docs/BENCHMARKS.md: onnx-graph `--daz`).
 *   It sets the flush-to-zero mode of the thread that creates the session, i.e. for the whole
 *   thread — on the JavaScript thread that would also flush TensorFlow.js (wasm) arithmetic and
 *   bias its latency. In the worker it changes only ONNX Runtime's own results, and only values
 *   below 1.2e-38 (float32's smallest normal) that become 0. ONNX Runtime applies the setting
 *   once per process, from the first session created, to the thread creating it
 *   (inference_session.cc, a `std::call_once`): so the worker must create the process's first
 *   session — the stages open every model's main session here before any session on the calling
 *   thread (runtime.ts `thread: 'caller'`: decoding steps, and the latency pass, which times
 *   `session.run` as a serving process calls it). A worker restarted after a crash runs
 *   without the flush: same results, slower.
 *
 * Inputs cross the thread boundary as copies ({type, data, dims}: the caller may still use its
 * batch), outputs are moved (transferred: the worker keeps no reference); the proxy returns ONNX
 * Runtime `Tensor`s built on the main thread, so callers see the same objects as from a session.
 * The worker is unref'd while no call is pending (it never keeps a process alive) and is
 * restarted after a crash; a crash rejects every pending call with the worker's error.
 */
import { Worker } from 'node:worker_threads';
import type * as OrtModule from 'onnxruntime-node';

type Ort = typeof OrtModule;
type OrtTensor = OrtModule.Tensor;

/** A tensor as it crosses the thread boundary. */
interface WireTensor {
  readonly type: OrtTensor['type'];
  readonly data: OrtTensor['data'];
  readonly dims: readonly number[];
}

/** An input's declared name, kind and shape (ONNX Runtime's ValueMetadata, cloneable). */
export interface SessionValueInfo {
  readonly name: string;
  readonly isTensor: boolean;
  readonly shape: readonly (number | string)[];
}

/** What the stages use of a session. */
export interface OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly SessionValueInfo[];
  run(feeds: Readonly<Record<string, OrtTensor>>, fetches: readonly string[]): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

/** ONNX Runtime SessionOptions (cloneable: they cross to the worker). */
export type OrtSessionOptions = OrtModule.InferenceSession.SessionOptions;

/**
 * The worker's code, plain CommonJS so it runs the same from TypeScript sources (tsx, jest), the
 * compiled dist/ and a Lambda bundle. It loads the same onnxruntime-node file the main thread
 * loaded (its resolved path comes in workerData).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const sessions = new Map();
let nextId = 1;
const wire = (t) => ({ type: t.type, data: t.data, dims: Array.from(t.dims, Number) });
async function handle(m) {
  if (m.op === 'create') {
    const session = await ort.InferenceSession.create(m.model, m.options);
    const id = nextId++;
    sessions.set(id, session);
    const info = (v) => ({ name: v.name, isTensor: !!v.isTensor, shape: v.isTensor ? Array.from(v.shape) : [] });
    return { value: { session: id, inputNames: session.inputNames, outputNames: session.outputNames, inputMetadata: (session.inputMetadata || []).map(info) }, transfer: [] };
  }
  const session = sessions.get(m.session);
  if (!session) throw new Error('ONNX Runtime session ' + m.session + ' is not open (released already?)');
  if (m.op === 'run') {
    const feeds = {};
    for (const [name, t] of Object.entries(m.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    const out = await session.run(feeds, m.fetches);
    const result = {};
    const transfer = new Set();
    for (const name of m.fetches) {
      if (!out[name]) continue;
      result[name] = wire(out[name]);
      // Moved, not copied: an output owns its whole buffer and the worker keeps nothing of it.
      const d = out[name].data;
      if (ArrayBuffer.isView(d) && d.byteOffset === 0 && d.byteLength === d.buffer.byteLength && d.buffer instanceof ArrayBuffer) transfer.add(d.buffer);
    }
    return { value: result, transfer: [...transfer] };
  }
  if (m.op === 'release') {
    sessions.delete(m.session);
    await session.release();
    return { value: null, transfer: [] };
  }
  throw new Error('unknown request ' + m.op);
}
// handle() resolves to { value, transfer }: the reply and the buffers it moves.
function reply(id, { value, transfer }) {
  try {
    parentPort.postMessage({ id, ok: true, value }, transfer);
  } catch (e) {
    parentPort.postMessage({ id, ok: true, value }); // a buffer that cannot move is copied
  }
}
parentPort.on('message', (m) => {
  handle(m).then(
    (r) => reply(m.id, r),
    (e) => parentPort.postMessage({ id: m.id, ok: false, error: String(e && e.stack ? e.stack : e) }),
  );
});
`;

type Request = { op: 'create'; model: Uint8Array; options: OrtSessionOptions } | { op: 'run'; session: number; feeds: Record<string, WireTensor>; fetches: readonly string[] } | { op: 'release'; session: number };

/** One worker thread and its pending calls. */
class SessionWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failure: Error | null = null;

  constructor(ortPath: string) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath } });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const call = this.pending.get(m.id);
      if (!call) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.ok) call.resolve(m.value);
      else call.reject(new Error(`ONNX Runtime (session worker): ${m.error}`));
    });
    const fail = (e: Error) => {
      this.failure = e;
      for (const call of this.pending.values()) call.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', (e) => fail(new Error(`the ONNX Runtime session worker crashed: ${e.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`the ONNX Runtime session worker exited (code ${code})`)));
  }

  /** True once the worker crashed or exited: the next session starts a new worker. */
  get failed(): boolean {
    return this.failure !== null;
  }

  call<T>(request: Request): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.ref();
      this.worker.postMessage({ id, ...request });
    });
  }
}

let shared: SessionWorker | undefined;

function ownBuffer<T extends OrtTensor['data']>(data: T): T {
  if (typeof data === 'string' || !ArrayBuffer.isView(data) || data.byteLength === data.buffer.byteLength) return data;
  return (data as unknown as { slice(): T }).slice();
}

function workerFor(ortPath: string): SessionWorker {
  if (!shared || shared.failed) shared = new SessionWorker(ortPath);
  return shared;
}

/** A session living in the worker. */
class WorkerSession implements OnnxSession {
  private released = false;

  constructor(
    private readonly worker: SessionWorker,
    private readonly ort: Ort,
    private readonly id: number,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    readonly inputMetadata: readonly SessionValueInfo[],
  ) {}

  async run(feeds: Readonly<Record<string, OrtTensor>>, fetches: readonly string[]): Promise<Record<string, OrtTensor>> {
    const wire: Record<string, WireTensor> = {};
    // A view is cloned with its whole buffer: send views of larger buffers as copies of their bytes.
    for (const [name, t] of Object.entries(feeds)) wire[name] = { type: t.type, data: ownBuffer(t.data), dims: [...t.dims] };
    const out = await this.worker.call<Record<string, WireTensor>>({ op: 'run', session: this.id, feeds: wire, fetches: [...fetches] });
    const result: Record<string, OrtTensor> = {};
    for (const [name, t] of Object.entries(out)) result[name] = new this.ort.Tensor(t.type as 'float32', t.data as Float32Array, [...t.dims]);
    return result;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    // A crashed worker took its sessions with it: nothing left to release.
    if (!this.worker.failed) await this.worker.call({ op: 'release', session: this.id });
  }
}

/** A session on the calling thread, for many small calls where a thread hop costs more than it overlaps (decoding steps). */
class CallerSession implements OnnxSession {
  readonly inputMetadata: readonly SessionValueInfo[];

  constructor(private readonly session: OrtModule.InferenceSession) {
    this.inputMetadata = session.inputMetadata.map((v) => ({ name: v.name, isTensor: v.isTensor, shape: v.isTensor ? [...v.shape] : [] }));
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  run(feeds: Readonly<Record<string, OrtTensor>>, fetches: readonly string[]): Promise<Record<string, OrtTensor>> {
    return this.session.run(feeds, [...fetches]) as Promise<Record<string, OrtTensor>>;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/**
 * Creates a session on the calling thread. `options` must not flush denormals
 * (`session.set_denormal_as_zero`): that would change this whole thread's arithmetic.
 */
export async function createCallerSession(ort: Ort, model: Uint8Array, options: OrtSessionOptions): Promise<OnnxSession> {
  return new CallerSession(await ort.InferenceSession.create(model, options));
}

/**
 * Creates a session in the shared worker.
 * @param ortPath the resolved file of the onnxruntime-node package the main thread loaded
 */
export async function createWorkerSession(ort: Ort, ortPath: string, model: Uint8Array, options: OrtSessionOptions): Promise<OnnxSession> {
  const worker = workerFor(ortPath);
  const made = await worker.call<{ session: number; inputNames: string[]; outputNames: string[]; inputMetadata: SessionValueInfo[] }>({ op: 'create', model, options });
  return new WorkerSession(worker, ort, made.session, made.inputNames, made.outputNames, made.inputMetadata);
}
