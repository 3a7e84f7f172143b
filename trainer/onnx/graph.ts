/**
 * A small ONNX graph builder: nodes, initializers, graph inputs/outputs with symbolic
 * dimensions, opset import and metadata, serialised with onnx-proto's protobufjs types.
 *
 * Why our own: the exporter builds the graph from the model config and weights (there is no
 * traced framework graph to convert), and only a handful of standard operators are needed.
 * Every value is a name (a string); `op` returns the name of the node's output.
 */
import { onnx } from 'onnx-proto';

export const ElemType = onnx.TensorProto.DataType;
export type ElemType = onnx.TensorProto.DataType;

/** A dimension: a fixed size or a symbolic name (dynamic, e.g. "batch"). */
export type Dim = number | string;

/** An attribute value; numbers are INT unless wrapped by `float()` (1e-5 and 1.0 look alike otherwise). */
export type AttrValue = number | number[] | string | { readonly float: number };

export function float(value: number): { readonly float: number } {
  return { float: value };
}

/** The IR version that goes with an opset (onnx/helper.py VERSION_TABLE): readers check it. */
const IR_VERSION_FOR_OPSET: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10, 23: 11 };

export function irVersionForOpset(opset: number): number {
  const ir = IR_VERSION_FOR_OPSET[opset];
  if (ir === undefined) throw new Error(`no IR version known for opset ${opset} (known: ${Object.keys(IR_VERSION_FOR_OPSET).join(', ')})`);
  return ir;
}

function valueInfo(name: string, elemType: ElemType, dims: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    if (!v.every(Number.isInteger)) throw new Error(`attribute ${name}: integer lists only, got [${v}]`);
    return { name, type: T.INTS, ints: v };
  }
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer; wrap floats in float()`);
    return { name, type: T.INT, i: v };
  }
  return { name, type: T.FLOAT, f: v.float };
}

export class OnnxGraph {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly names = new Set<string>();
  /** Constants by content, so equal small constants (shapes, axes) are stored once. */
  private readonly constants = new Map<string, string>();
  private counter = 0;
  /** Values renamed by `output()`: old name → output name. */
  private readonly renamed = new Map<string, string>();

  constructor(readonly name: string) {}

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`;
    while (this.names.has(n));
    this.names.add(n);
    return n;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX graph ${this.name}: value "${name}" is defined twice`);
    this.names.add(name);
    return name;
  }

  input(name: string, elemType: ElemType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), elemType, dims));
    return name;
  }

  /**
   * Declares `value` a graph output named `name`. A value computed by a node is renamed in
   * place (the node writes `name`, its consumers read `name`): an Identity would copy the whole
   * tensor on every run, even when the caller does not fetch that output (ONNX Runtime runs
   * every node), and the attention maps are the largest tensors of the graph. An Identity is
   * used only for a graph input, an initializer, or a value already declared as an output.
   * @returns `name`; the old value name is gone afterwards (nodes added later must use `name`).
   */
  output(value: string, name: string, elemType: ElemType, dims: readonly Dim[]): string {
    const current = this.renamed.get(value) ?? value;
    const producer = this.nodes.find((n) => n.output!.includes(current));
    const declared = this.outputs.some((o) => o.name === current);
    let out: string;
    if (current === name) out = name;
    else if (producer && !declared) {
      this.claim(name);
      for (const n of this.nodes) {
        n.input = n.input!.map((i) => (i === current ? name : i));
        n.output = n.output!.map((o) => (o === current ? name : o));
      }
      this.renamed.set(value, name);
      out = name;
    } else out = this.op('Identity', [current], {}, name);
    this.outputs.push(valueInfo(out, elemType, dims));
    return out;
  }

  /** A float32 initializer (weights), stored as raw little-endian bytes. */
  floatInit(name: string, data: Float32Array, dims: readonly number[]): string {
    checkSize(name, data.length, dims);
    this.initializers.push({ name: this.claim(name), dataType: ElemType.FLOAT, dims: [...dims], rawData: littleEndian(data) });
    return name;
  }

  /** A small int64 constant (shapes, axes, indices), deduplicated. */
  int64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i64:${dims.join(',')}:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    checkSize('int64 constant', values.length, dims);
    const name = this.fresh('const_i64');
    this.initializers.push({ name, dataType: ElemType.INT64, dims: [...dims], rawData: littleEndian(BigInt64Array.from(values.map((v) => BigInt(v)))) });
    this.constants.set(key, name);
    return name;
  }

  /** A small float32 constant (scalars, masks), deduplicated. */
  float32(values: readonly number[], dims: readonly number[] = []): string {
    const key = `f32:${dims.join(',')}:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = this.fresh('const_f32');
    this.floatInitUnclaimed(name, Float32Array.from(values), dims);
    this.constants.set(key, name);
    return name;
  }

  private floatInitUnclaimed(name: string, data: Float32Array, dims: readonly number[]): void {
    checkSize(name, data.length, dims);
    this.initializers.push({ name, dataType: ElemType.FLOAT, dims: [...dims], rawData: littleEndian(data) });
  }

  /** Adds one node; returns its (first) output's name. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, outputName?: string): string {
    const out = outputName ? this.claim(outputName) : this.fresh(opType.toLowerCase());
    this.nodes.push({
      opType,
      name: `${opType}_${this.nodes.length}`,
      input: [...inputs],
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /**
   * Every node reads only graph inputs, initializers and outputs of earlier nodes (ONNX wants
   * the nodes in topological order), and every graph output is defined.
   * @throws Error naming the first node input or output that is not
   */
  private checkDefined(): void {
    const known = new Set<string>(['', ...this.inputs.map((i) => i.name!), ...this.initializers.map((i) => i.name!)]);
    for (const n of this.nodes) {
      for (const i of n.input!) if (!known.has(i)) throw new Error(`ONNX graph ${this.name}: node ${n.name} (${n.opType}) reads "${i}", which no earlier node, input or initializer defines`);
      for (const o of n.output!) known.add(o);
    }
    for (const o of this.outputs) if (!known.has(o.name!)) throw new Error(`ONNX graph ${this.name}: output "${o.name}" is not computed`);
  }

  /** The model proto: this graph, the standard-domain opset, metadata (string → string). */
  toModel(opts: { opset: number; producer: string; producerVersion: string; docString?: string; metadata?: Record<string, string> }): onnx.ModelProto {
    this.checkDefined();
    return onnx.ModelProto.create({
      irVersion: irVersionForOpset(opts.opset),
      opsetImport: [{ domain: '', version: opts.opset }],
      producerName: opts.producer,
      producerVersion: opts.producerVersion,
      docString: opts.docString ?? '',
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
  }
}

/** The serialised model bytes. */
export function encodeModel(model: onnx.ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** Parses model bytes (tests, `amad export` checks). */
export function decodeModel(bytes: Uint8Array): onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

function checkSize(what: string, length: number, dims: readonly number[]): void {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== length) throw new Error(`ONNX initializer ${what}: ${length} values for dims [${dims}] (${size})`);
}

/** Raw tensor bytes are little-endian (onnx.proto TensorProto.raw_data). */
function littleEndian(data: Float32Array | BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] === 1) return bytes.slice();
  // Big-endian host: swap each element's bytes.
  const out = new Uint8Array(bytes.length);
  const w = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += w) for (let j = 0; j < w; j++) out[i + j] = bytes[i + w - 1 - j];
  return out;
}
