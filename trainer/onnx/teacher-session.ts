/**
 * The one place the foreign-teacher code touches onnxruntime-node: open a session from bytes,
 * list its input/output names, run it on named tensors. Kept this small on purpose so it can be
 * swapped for the shared runtime module (branch `onnx-runtime`, trainer/onnx) without touching
 * the teacher check, the cache or the evaluation.
 */
import * as ort from 'onnxruntime-node';

/** A dense tensor crossing the runtime boundary (row-major). */
export interface OnnxArray {
  readonly type: 'float32' | 'int64' | 'int32';
  readonly data: Float32Array | BigInt64Array | Int32Array;
  readonly dims: readonly number[];
}

export interface TeacherSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Declared shape of each input (numbers = fixed sizes, strings = symbolic, e.g. "batch"); empty when unknown. */
  readonly inputShapes: Readonly<Record<string, readonly (number | string)[]>>;
  /** Runs the model; returns the requested outputs as float32 arrays (the contract's outputs are float). */
  run(feeds: Readonly<Record<string, OnnxArray>>, outputs: readonly string[]): Promise<Record<string, { data: Float32Array; dims: number[] }>>;
  release(): Promise<void>;
}

/** Opens an ONNX model held in memory (CPU execution provider; one intra-op thread per process keeps parallel stages fair). */
export async function openTeacherSession(model: Uint8Array): Promise<TeacherSession> {
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputShapes: Object.fromEntries(session.inputMetadata.map((m) => [m.name, m.isTensor ? [...m.shape] : []])),
    async run(feeds, outputs) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, a] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(a.type, a.data, [...a.dims]);
      const result = await session.run(ortFeeds, [...outputs]);
      const out: Record<string, { data: Float32Array; dims: number[] }> = {};
      for (const name of outputs) {
        const t = result[name] as ort.Tensor | undefined;
        if (!t) throw new Error(`the ONNX model returned no output "${name}"`);
        const data = t.type === 'float32' ? (t.data as Float32Array) : Float32Array.from(t.data as ArrayLike<number>, Number);
        out[name] = { data, dims: [...t.dims] };
      }
      return out;
    },
    release: () => session.release(),
  };
}
