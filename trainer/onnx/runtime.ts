/**
 * ONNX Runtime for the inference stages (teacher cache, evaluation, latency): loads
 * onnxruntime-node lazily, once, and creates sessions with an explicit intra-op thread count.
 *
 * Lazy `require` (not `import`): the package is a native addon; where its binary for this
 * platform/arch is missing (a bundle built for another architecture, an install that skipped
 * it) the require throws, and the stages fall back to TensorFlow.js instead of failing to start.
 * The choice is logged once, as one JSON line on stderr, with the reason for any fallback, so a
 * silent fallback (what the report Lambda had with wasm: issue 13 item 6) cannot happen.
 *
 * Environment:
 *   AMAD_INFERENCE_RUNTIME  `onnxruntime` (require it: fail when it cannot load), `tfjs` (never
 *                           load it), unset = ONNX Runtime when it loads, else TensorFlow.js.
 *   AMAD_ORT_THREADS        intra-op threads per session (a positive integer); default: the
 *                           CPUs this process may use (`os.availableParallelism()`) but one,
 *                           at least 1 — see `onnxThreads`.
 *
 *     const rt = loadOnnxRuntime();
 *     if (rt.available) {
 *       const session = await createOnnxSession(rt, modelBytes);   // threads from AMAD_ORT_THREADS
 *       const out = await session.session.run(feeds, ['logits']);   // on the session worker
 *     }
 */
import * as os from 'node:os';
import type * as OrtModule from 'onnxruntime-node';
import { createCallerSession, createWorkerSession, type OnnxSession } from './session-worker';

export type { OnnxSession } from './session-worker';

export type Ort = typeof OrtModule;

/** Which runtime the inference stages use, and why. */
export type OnnxRuntimeStatus =
  | { readonly available: true; readonly ort: Ort; readonly version: string; readonly reason: 'env' | 'auto'; /** The package's resolved entry file (the session worker loads the same one). */ readonly path: string }
  | { readonly available: false; readonly reason: string };

/** Thrown for a bad runtime setting; the message names the variable and the fix. */
export class OnnxRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxRuntimeError';
  }
}

const RUNTIME_ENV = 'AMAD_INFERENCE_RUNTIME';
const ORT_PACKAGE: string = ['onnxruntime', 'node'].join('-');
const THREADS_ENV = 'AMAD_ORT_THREADS';

let status: OnnxRuntimeStatus | undefined;

const stderrLine = (line: string) => process.stderr.write(line + '\n');

/**
 * Loads onnxruntime-node (idempotent: the first call decides, later calls return the same
 * status) and logs the outcome once.
 * @throws OnnxRuntimeError when AMAD_INFERENCE_RUNTIME is not a known value, or is `onnxruntime`
 *   and the package cannot load.
 */
export function loadOnnxRuntime(log: (line: string) => void = stderrLine): OnnxRuntimeStatus {
  if (status) return status;
  const forced = process.env[RUNTIME_ENV]?.trim();
  if (forced && forced !== 'onnxruntime' && forced !== 'tfjs') {
    throw new OnnxRuntimeError(`${RUNTIME_ENV}="${forced}" is not a runtime; use "onnxruntime" or "tfjs", or unset it to use ONNX Runtime when it loads`);
  }
  if (forced === 'tfjs') {
    status = { available: false, reason: `${RUNTIME_ENV}=tfjs` };
  } else {
    try {
      // A computed name: bundlers leave it to run time (the addon cannot be bundled; Lambda
      // bundles carry the package in their own node_modules: infra/functions/model-runtimes.ts).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const ort = require(ORT_PACKAGE) as Ort;
      status = { available: true, ort, version: ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown', reason: forced ? 'env' : 'auto', path: require.resolve(ORT_PACKAGE) };
    } catch (e) {
      const why = `onnxruntime-node could not be loaded on ${process.platform}-${process.arch}: ${firstLine(e)}`;
      if (forced === 'onnxruntime') throw new OnnxRuntimeError(`${RUNTIME_ENV}=onnxruntime but ${why}; install onnxruntime-node for this platform or unset ${RUNTIME_ENV}`);
      status = { available: false, reason: why };
    }
  }
  if (process.env.AMAD_QUIET_BACKEND !== '1') {
    log(
      JSON.stringify(
        status.available
          ? { level: 'info', msg: 'inference runtime selected', runtime: 'onnxruntime', version: status.version, reason: status.reason, threads: onnxThreads() }
          : { level: status.reason.startsWith(RUNTIME_ENV) ? 'info' : 'warn', msg: 'inference runtime selected', runtime: 'tfjs', reason: `fallback: ${status.reason}` },
      ),
    );
  }
  return status;
}

/** Forgets the loaded status (tests that change AMAD_INFERENCE_RUNTIME). */
export function resetOnnxRuntimeForTests(): void {
  status = undefined;
}

/**
 * Intra-op threads per session: AMAD_ORT_THREADS, else every CPU this process may use but one
 * (at least 1). The stages keep their JavaScript thread busy while a forward pass runs on the
 * session worker — reading the next batch, converting and writing the last one's cache records
 * (trainer/inference/pipeline.ts) — so a pool as wide as the machine would have its threads and
 * that thread take turns on the same cores (docs/BENCHMARKS.md, "Inference stages": one thread
 * against two on the 2-core VM). The latency pass uses the same count, so the report's latency
 * is that of the configuration that evaluated. Explicit, never ONNX Runtime's own default, so
 * the report can state it.
 * @param cpus the CPUs this process may use (tests)
 * @throws OnnxRuntimeError when AMAD_ORT_THREADS is not a positive integer.
 */
export function onnxThreads(cpus: number = os.availableParallelism()): number {
  const raw = process.env[THREADS_ENV]?.trim();
  if (!raw) return Math.max(1, cpus - 1);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new OnnxRuntimeError(`${THREADS_ENV}="${raw}" must be a positive integer (threads per ONNX Runtime session); unset it to use every CPU but one`);
  return n;
}

/** A session with the thread count it was created with. */
export interface OnnxSessionHandle {
  readonly session: OnnxSession;
  readonly threads: number;
  readonly ortVersion: string;
}

/**
 * Creates a CPU session from model bytes. Sequential execution with an explicit intra-op
 * thread count and one inter-op thread: the whole budget goes to each operator, and the number
 * the report states is the number that ran.
 *
 * `thread` (default 'worker') says where it runs: 'worker' is the session worker
 * (session-worker.ts: the stage's own work overlaps the forward pass, and denormals are flushed
 * to zero on ONNX Runtime's threads only); 'caller' is this thread, with IEEE denormals, for
 * decoding steps, which are too small to pay for a thread hop each.
 */
export async function createOnnxSession(
  rt: Extract<OnnxRuntimeStatus, { available: true }>,
  model: Uint8Array,
  opts: { threads?: number; thread?: 'worker' | 'caller' } = {},
): Promise<OnnxSessionHandle> {
  const threads = opts.threads ?? onnxThreads();
  if (!Number.isInteger(threads) || threads < 1) throw new OnnxRuntimeError(`createOnnxSession: threads must be a positive integer, got ${threads}`);
  const options = { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' } as const;
  const session =
    opts.thread === 'caller'
      ? await createCallerSession(rt.ort, model, options)
      : await createWorkerSession(rt.ort, rt.path, model, { ...options, extra: { session: { set_denormal_as_zero: '1' } } });
  return { session, threads, ortVersion: rt.version };
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0]!;
}
