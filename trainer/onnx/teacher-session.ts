/**
 * The foreign-teacher code's one view of ONNX Runtime: open a session from bytes, list its
 * inputs/outputs, run it on named arrays. Built on the shared runtime module (runtime.ts: lazy
 * load, thread count, logging), so the teacher check, the cache and the evaluation of an ONNX
 * teacher use the same runtime settings as every other inference stage. Unlike a model this
 * project exports, an ONNX teacher has no TensorFlow.js fallback: ONNX Runtime must load.
 */
import { createOnnxSession, loadOnnxRuntime } from './runtime';

/** A dense tensor crossing the runtime boundary (row-major). */
export interface OnnxArray {
  readonly type: 'float32' | 'int64' | 'int32';
  readonly data: Float32Array | BigInt64Array | Int32Array;
  readonly dims: readonly number[];
}

export interface TeacherSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** e.g. "1.31.1, 2 threads". */
  readonly runtime: string;
  /** Declared shape of each input (numbers = fixed sizes, strings = symbolic, e.g. "batch"); empty when unknown. */
  readonly inputShapes: Readonly<Record<string, readonly (number | string)[]>>;
  /** Runs the model; returns the requested outputs as float32 arrays (the contract's outputs are float). */
  run(feeds: Readonly<Record<string, OnnxArray>>, outputs: readonly string[]): Promise<Record<string, { data: Float32Array; dims: number[] }>>;
  release(): Promise<void>;
}

/** Opens an ONNX model held in memory on the CPU. @throws Error naming why ONNX Runtime is unavailable */
export async function openTeacherSession(model: Uint8Array): Promise<TeacherSession> {
  const rt = loadOnnxRuntime();
  if (!rt.available) throw new Error(`a teacher given as ONNX needs ONNX Runtime, which is unavailable here (${rt.reason}); unset AMAD_INFERENCE_RUNTIME=tfjs or install onnxruntime-node for ${process.platform}-${process.arch}`);
  const { session, threads, ortVersion } = await createOnnxSession(rt, model);
  const ort = rt.ort;
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    runtime: `${ortVersion}, ${threads} thread${threads === 1 ? '' : 's'}`,
    inputShapes: Object.fromEntries(session.inputMetadata.map((m) => [m.name, [...m.shape]])),
    async run(feeds, outputs) {
      const ortFeeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
      for (const [name, a] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(a.type, a.data, [...a.dims]);
      const result = await session.run(ortFeeds, [...outputs]);
      const out: Record<string, { data: Float32Array; dims: number[] }> = {};
      for (const name of outputs) {
        const t = result[name] as InstanceType<typeof ort.Tensor> | undefined;
        if (!t) throw new Error(`the ONNX model returned no output "${name}"`);
        const data = t.type === 'float32' ? (t.data as Float32Array) : Float32Array.from(t.data as ArrayLike<number>, Number);
        out[name] = { data, dims: [...t.dims] };
      }
      return out;
    },
    release: () => session.release(),
  };
}
