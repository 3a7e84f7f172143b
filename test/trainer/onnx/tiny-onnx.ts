/**
 * A hand-built ONNX model that follows contract/onnx-model.ts, small enough to check the
 * runtime plumbing against values computed here in plain JS (the exporter's parity tests check
 * real models):
 *   logits          [B, 4] = per-channel mean of pixel_values (3) ‖ Σ input_ids (1)
 *   attn.fusionSelf.0  [B, 1, 1, L] = softmax over L of attention_mask
 */
import { onnx } from 'onnx-proto';
import type { OnnxSidecarInput } from '../../../contract/onnx-model';

const F32 = onnx.TensorProto.DataType.FLOAT;
const I64 = onnx.TensorProto.DataType.INT64;

function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

const ints = (name: string, values: number[]) => ({ name, dataType: I64, dims: [values.length], int64Data: values });

/** The model bytes for images of side S in `layout` and texts of L tokens. */
export function tinyOnnxModel(S: number, L: number, layout: 'NHWC' | 'NCHW'): Uint8Array {
  const spatial = layout === 'NHWC' ? [1, 2] : [2, 3];
  const graph = {
    name: 'tiny',
    input: [
      valueInfo('pixel_values', F32, layout === 'NHWC' ? ['B', S, S, 3] : ['B', 3, S, S]),
      valueInfo('input_ids', I64, ['B', L]),
      valueInfo('attention_mask', I64, ['B', L]),
    ],
    output: [valueInfo('logits', F32, ['B', 4]), valueInfo('attn.fusionSelf.0', F32, ['B', 1, 1, L])],
    initializer: [ints('axis1', [1]), ints('axes12', [1, 2])],
    node: [
      { opType: 'ReduceMean', input: ['pixel_values'], output: ['chan'], attribute: [{ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: spatial }, { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
      { opType: 'Cast', input: ['input_ids'], output: ['idsF'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: F32 }] },
      { opType: 'ReduceSum', input: ['idsF', 'axis1'], output: ['idSum'], attribute: [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
      { opType: 'Concat', input: ['chan', 'idSum'], output: ['logits'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
      { opType: 'Cast', input: ['attention_mask'], output: ['maskF'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: F32 }] },
      { opType: 'Unsqueeze', input: ['maskF', 'axes12'], output: ['mask4'] },
      { opType: 'Softmax', input: ['mask4'], output: ['attn.fusionSelf.0'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }] },
    ],
  };
  const model = onnx.ModelProto.fromObject({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], producerName: 'amad-test', graph });
  return onnx.ModelProto.encode(model).finish();
}

export function tinySidecar(S: number, L: number, layout: 'NHWC' | 'NCHW', mean = [0.5, 0.5, 0.5], std = [0.25, 0.25, 0.25]): OnnxSidecarInput {
  return {
    format: 'amad-onnx/1',
    task: 'vqa',
    image: { layout, size: S, mean: mean as [number, number, number], std: std as [number, number, number] },
    text: { maxLength: L },
    attention: [{ output: 'attn.fusionSelf.0', kind: 'fusionSelf', layer: 0, heads: 1 }],
    tokenizer: { file: 'tokenizer.json', kind: 'amad-json' },
    answers: ['a', 'b', 'c', 'd'],
  };
}
