/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/** The graph builder's outputs: renamed in place (no Identity copy) where they can be, and its definedness check. */
import * as ort from 'onnxruntime-node';
import { ElemType, OnnxGraph, decodeModel, encodeModel } from '../../../trainer/onnx/graph';

const model = (g: OnnxGraph) => g.toModel({ opset: 17, producer: 'test', producerVersion: '1' });

describe('OnnxGraph.output', () => {
  it('renames a node output in place, consumers included, and the graph computes the same', async () => {
    // GIVEN y = x + 1 read by z = y · 2, both declared outputs after z was built
    const g = new OnnxGraph('rename');
    const x = g.input('x', ElemType.FLOAT, ['n']);
    const y = g.op('Add', [x, g.float32([1])]);
    const z = g.op('Mul', [y, g.float32([2])]);
    // WHEN
    expect(g.output(y, 'y_out', ElemType.FLOAT, ['n'])).toBe('y_out');
    expect(g.output(z, 'z_out', ElemType.FLOAT, ['n'])).toBe('z_out');
    // THEN no Identity; the Mul reads the renamed value
    const proto = decodeModel(encodeModel(model(g)));
    expect(proto.graph!.node!.map((n) => n.opType)).toEqual(['Add', 'Mul']);
    expect(proto.graph!.node![1]!.input![0]).toBe('y_out');
    const session = await ort.InferenceSession.create(encodeModel(model(g)));
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2), [2]) });
    await session.release();
    expect(Array.from(out.y_out!.data as Float32Array)).toEqual([2, 3]);
    expect(Array.from(out.z_out!.data as Float32Array)).toEqual([4, 6]);
  });

  it('copies through an Identity a graph input, or a value already declared under another name', () => {
    const g = new OnnxGraph('identity');
    const x = g.input('x', ElemType.FLOAT, ['n']);
    const y = g.op('Neg', [x]);
    g.output(x, 'x_copy', ElemType.FLOAT, ['n']);
    g.output(y, 'first', ElemType.FLOAT, ['n']);
    g.output(y, 'second', ElemType.FLOAT, ['n']); // the caller's old name still works
    const nodes = model(g).graph!.node!;
    expect(nodes.map((n) => [n.opType, n.input, n.output])).toEqual([
      ['Neg', ['x'], ['first']],
      ['Identity', ['x'], ['x_copy']],
      ['Identity', ['first'], ['second']],
    ]);
  });

  it('refuses a name that is taken', () => {
    const g = new OnnxGraph('taken');
    const x = g.input('x', ElemType.FLOAT, ['n']);
    const y = g.op('Neg', [x]);
    expect(() => g.output(y, 'x', ElemType.FLOAT, ['n'])).toThrow(/value "x" is defined twice/);
  });
});

it('toModel refuses a node that reads a value nothing defines before it, naming node and value', () => {
  const g = new OnnxGraph('undefined-input');
  const x = g.input('x', ElemType.FLOAT, ['n']);
  g.op('Add', [x, 'nowhere']);
  expect(() => model(g)).toThrow(/node Add_0 \(Add\) reads "nowhere", which no earlier node, input or initializer defines/);
});
