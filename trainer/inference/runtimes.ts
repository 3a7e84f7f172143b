/**
 * Both inference runtimes a model-running process initialises: the TensorFlow.js backend
 * (trainer/backend.ts: training, and the fallback) and ONNX Runtime (trainer/onnx/runtime.ts:
 * the inference stages when it loads). Lambda handlers start this at module load, so the cold
 * start does the native loading and logs which runtimes came up before the first event; the
 * bundle test (test/infra/bundle-runtimes.test.ts) requires each handler bundle from its own
 * folder and reads those log lines.
 */
import { initBackend, type BackendName } from '../backend';
import { loadOnnxRuntime, onnxThreads, type OnnxRuntimeStatus } from '../onnx/runtime';

export interface InferenceRuntimes {
  /** The TensorFlow.js backend in use. */
  readonly tfjs: BackendName;
  /** ONNX Runtime, or why it is not used. */
  readonly onnx: OnnxRuntimeStatus;
}

/** What the report states about the runtime a figure came from. */
export interface RuntimeDescription {
  /** `onnxruntime` or `tfjs-<backend>`. */
  readonly runtime: string;
  /** ONNX Runtime's version, or the tfjs backend name. */
  readonly detail: string;
  /** Intra-op threads (ONNX Runtime); 1 for tfjs wasm under Node (single-threaded there). */
  readonly threads: number | null;
}

let ready: Promise<InferenceRuntimes> | undefined;

/** Initialises both runtimes once (idempotent); each logs its choice as one JSON line. */
export function initInferenceRuntimes(): Promise<InferenceRuntimes> {
  ready ??= (async () => {
    const tfjs = await initBackend();
    const onnx = loadOnnxRuntime();
    return { tfjs, onnx };
  })();
  return ready;
}

/** The description of ONNX Runtime with `threads`, or of a tfjs backend. */
export function describeRuntime(r: { kind: 'onnxruntime'; version: string; threads: number } | { kind: 'tfjs'; backend: string }): RuntimeDescription {
  if (r.kind === 'onnxruntime') return { runtime: 'onnxruntime', detail: r.version, threads: r.threads };
  // tfjs-node uses its own thread pool (unknown count); wasm and cpu run on one thread under Node.
  return { runtime: `tfjs-${r.backend}`, detail: r.backend, threads: r.backend === 'wasm' || r.backend === 'cpu' ? 1 : null };
}

export { onnxThreads };
