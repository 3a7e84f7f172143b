/**
 * Tiny hand-built ONNX "teachers" (onnx-proto), for the cases a real export does not produce:
 * constant logits and constant attention maps broadcast to the batch. With `rowValue = 1 / K`
 * the maps are row-stochastic (a valid teacher); any other value is not.
 *
 * Graph: B = Shape(input_ids)[0]; logits = Expand(zeros[1, A], [B, A]);
 *        attn.fusionSelf.<l> = Expand(full[1, H, Q, K], [B, H, Q, K]).
 * pixel_values and attention_mask are declared inputs the graph does not read (ORT accepts that).
 */
import { onnx } from 'onnx-proto';

export interface TinyTeacherOptions {
  readonly imageSize: number;
  readonly textLength: number;
  readonly answers: number;
  readonly heads: number;
  readonly queries: number;
  readonly keys: number;
  readonly layers: number;
  /** Value of every map entry. */
  readonly rowValue: number;
}

const F = onnx.TensorProto.DataType.FLOAT;
const I64 = onnx.TensorProto.DataType.INT64;

function valueInfo(name: string, type: number, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: type, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function floatTensor(name: string, dims: number[], value: number): onnx.ITensorProto {
  const n = dims.reduce((a, b) => a * b, 1);
  return { name, dims, dataType: F, floatData: new Array<number>(n).fill(value) };
}

function int64Tensor(name: string, values: number[]): onnx.ITensorProto {
  return { name, dims: [values.length], dataType: I64, int64Data: values };
}

/** The serialised model. */
export function tinyTeacherOnnx(o: TinyTeacherOptions): Uint8Array {
  const nodes: onnx.INodeProto[] = [
    { opType: 'Shape', input: ['input_ids'], output: ['ids_shape'] },
    { opType: 'Gather', input: ['ids_shape', 'zero'], output: ['batch'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
    { opType: 'Concat', input: ['batch', 'answers_dim'], output: ['logits_shape'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
    { opType: 'Expand', input: ['logits_const', 'logits_shape'], output: ['logits'] },
    { opType: 'Concat', input: ['batch', 'map_dims'], output: ['map_shape'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
  ];
  const outputs = [valueInfo('logits', F, ['batch', o.answers])];
  for (let l = 0; l < o.layers; l++) {
    nodes.push({ opType: 'Expand', input: ['map_const', 'map_shape'], output: [`attn.fusionSelf.${l}`] });
    outputs.push(valueInfo(`attn.fusionSelf.${l}`, F, ['batch', o.heads, o.queries, o.keys]));
  }
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 14 }],
    producerName: 'amad-distill tests',
    graph: {
      name: 'tiny-teacher',
      node: nodes,
      initializer: [
        int64Tensor('zero', [0]),
        int64Tensor('answers_dim', [o.answers]),
        int64Tensor('map_dims', [o.heads, o.queries, o.keys]),
        floatTensor('logits_const', [1, o.answers], 0),
        floatTensor('map_const', [1, o.heads, o.queries, o.keys], o.rowValue),
      ],
      input: [
        valueInfo('pixel_values', F, ['batch', 3, o.imageSize, o.imageSize]),
        valueInfo('input_ids', I64, ['batch', o.textLength]),
        valueInfo('attention_mask', I64, ['batch', o.textLength]),
      ],
      output: outputs,
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
