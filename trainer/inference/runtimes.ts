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

export { onnxThreads };
