/** Layer mapping between teacher and student attention modules (METHOD.md "Layer mapping"). */
import { parseModelConfig, type ModelConfigInput } from '../../../trainer/model/config';
import { LayerMapError, LayerMapSchema, resolveLayerMap, type MappedPair } from '../../../trainer/distill';

const model = (c: ModelConfigInput) => parseModelConfig({ numAnswers: 10, ...c });
const teacherLayersOf = (pairs: MappedPair[], kind: string) => pairs.filter((p) => p.kind === kind).map((p) => [p.studentLayer, p.teacherLayer]);

describe('resolveLayerMap', () => {
  test('uniform (default) pairs j with round(j·(Lt−1)/(Ls−1)) per kind', () => {
    // GIVEN a 6-layer fusion teacher with a 2-layer vision stack, and a 3-layer student
    const teacher = model({ fusionLayers: 6, visionLayers: 2 });
    const student = model({ fusionLayers: 3, visionLayers: 4 });
    // WHEN
    const pairs = resolveLayerMap(teacher, student, {});
    // THEN 2.5 rounds half-up; Hs > Ht depth is fine (teacher layers repeat)
    expect(teacherLayersOf(pairs, 'fusionSelf')).toEqual([[0, 0], [1, 3], [2, 5]]);
    expect(teacherLayersOf(pairs, 'visionSelf')).toEqual([[0, 0], [1, 0], [2, 1], [3, 1]]);
    expect(pairs.map((p) => p.kind)).toEqual([...Array(4).fill('visionSelf'), ...Array(3).fill('fusionSelf')]);
    expect(resolveLayerMap(teacher, student)).toEqual(pairs);
    expect(resolveLayerMap(teacher, student, 'uniform')).toEqual(pairs);
  });

  test('uniform with a one-layer student uses the last teacher layer', () => {
    const pairs = resolveLayerMap(model({ fusionLayers: 5 }), model({ fusionLayers: 1 }));
    expect(pairs).toEqual([{ kind: 'fusionSelf', studentLayer: 0, teacherLayer: 4 }]);
  });

  test('equal depths map layer to layer', () => {
    expect(teacherLayersOf(resolveLayerMap(model({ fusionLayers: 4 }), model({ fusionLayers: 4 })), 'fusionSelf')).toEqual([[0, 0], [1, 1], [2, 2], [3, 3]]);
  });

  test('last, none and explicit pairs', () => {
    const teacher = model({ fusion: 'two-stream', fusionLayers: 4, visionLayers: 3, decoderLayers: 2 });
    const student = model({ fusion: 'two-stream', fusionLayers: 2, visionLayers: 2, decoderLayers: 2 });
    const pairs = resolveLayerMap(teacher, student, { visionSelf: 'none', fusionSelf: 'last', crossImage: [[0, 3], [1, 1]], decoderSelf: 'none' });
    expect(pairs).toEqual([
      { kind: 'fusionSelf', studentLayer: 1, teacherLayer: 3 },
      { kind: 'crossImage', studentLayer: 0, teacherLayer: 3 },
      { kind: 'crossImage', studentLayer: 1, teacherLayer: 1 },
      { kind: 'decoderCross', studentLayer: 0, teacherLayer: 0 },
      { kind: 'decoderCross', studentLayer: 1, teacherLayer: 1 },
    ]);
    expect(resolveLayerMap(teacher, student, 'none')).toEqual([]);
    expect(resolveLayerMap(teacher, student, 'last')).toHaveLength(5);
  });

  test('a kind only one model has is skipped by default', () => {
    const pairs = resolveLayerMap(model({ visionLayers: 2, fusionLayers: 2 }), model({ fusionLayers: 2 }));
    expect(pairs.every((p) => p.kind === 'fusionSelf')).toBe(true);
  });

  test('errors: kind missing in one model but mapped', () => {
    expect(() => resolveLayerMap(model({ visionLayers: 2 }), model({}), { visionSelf: 'uniform' })).toThrow(LayerMapError);
    expect(() => resolveLayerMap(model({ visionLayers: 2 }), model({}), { visionSelf: [[0, 0]] })).toThrow(
      /layerMap.visionSelf: the student has no visionSelf attention layers \(teacher 2, student 0\).*set layerMap.visionSelf to "none"/,
    );
    expect(() => resolveLayerMap(model({}), model({ decoderLayers: 1 }), { decoderCross: 'last' })).toThrow(/the teacher has no decoderCross/);
  });

  test('errors: index out of range names kind, position and range', () => {
    const t = model({ fusionLayers: 4 });
    const s = model({ fusionLayers: 2 });
    expect(() => resolveLayerMap(t, s, { fusionSelf: [[0, 1], [2, 3]] })).toThrow(/layerMap.fusionSelf\[1\]: student layer 2 is out of range; the student has 2 fusionSelf layer\(s\) \(0..1\)/);
    expect(() => resolveLayerMap(t, s, { fusionSelf: [[1, 4]] })).toThrow(/layerMap.fusionSelf\[0\]: teacher layer 4 is out of range; the teacher has 4/);
  });

  test('errors: fusion style mismatch for crossImage', () => {
    const t = model({ fusion: 'two-stream', fusionLayers: 2, visionLayers: 2 });
    const s = model({ fusionLayers: 2 });
    expect(() => resolveLayerMap(t, s, { crossImage: 'uniform' })).toThrow(/teacher is two-stream and the student is single-stream.*"none"/);
    expect(resolveLayerMap(t, s).some((p) => p.kind === 'crossImage')).toBe(false);
  });

  test('LayerMapSchema rejects malformed specs', () => {
    expect(LayerMapSchema.safeParse({ fusionSelf: 'first' }).success).toBe(false);
    expect(LayerMapSchema.safeParse({ fusionSelf: [[0, -1]] }).success).toBe(false);
    expect(LayerMapSchema.safeParse({ encoder: 'last' }).success).toBe(false);
    expect(LayerMapSchema.safeParse({ fusionSelf: [[0, 1]], decoderSelf: 'none' }).success).toBe(true);
    expect(() => resolveLayerMap(model({}), model({}), { fusionSelf: [[0.5, 1]] } as never)).toThrow(/invalid layerMap: fusionSelf.0.0: a layer index must be an integer/);
    expect(() => resolveLayerMap(model({}), model({}), { fusionSelf: 'first' } as never)).toThrow(/invalid layerMap: fusionSelf: must be "uniform", "last", "none"/);
  });
});

describe('resolveLayerMap with a teacher that declares its layers (ONNX sidecar)', () => {
  const none = { visionSelf: [], fusionSelf: [], crossImage: [], decoderSelf: [], decoderCross: [] };

  test('all layers declared: the same pairs as a config of that depth', () => {
    // GIVEN a 6-layer teacher described by its declared outputs, and a 3-layer student
    const declared = { declaredLayers: { ...none, fusionSelf: [0, 1, 2, 3, 4, 5] } };
    const student = model({ fusionLayers: 3 });
    // THEN uniform over declared = uniform over depth
    expect(resolveLayerMap(declared, student)).toEqual(resolveLayerMap(model({ fusionLayers: 6 }), student));
  });

  test('a subset declared: uniform spreads over the declared layers, last takes the last declared', () => {
    // GIVEN a deep teacher exporting only layers 1, 4, 7, 10 and 11
    const declared = { declaredLayers: { ...none, fusionSelf: [1, 4, 7, 10, 11] } };
    // WHEN a 3-layer student maps uniformly: indices round(j·4/2) = 0, 2, 4 of the declared list
    expect(teacherLayersOf(resolveLayerMap(declared, model({ fusionLayers: 3 })), 'fusionSelf')).toEqual([[0, 1], [1, 7], [2, 11]]);
    expect(teacherLayersOf(resolveLayerMap(declared, model({ fusionLayers: 2 }), 'last'), 'fusionSelf')).toEqual([[1, 11]]);
    expect(teacherLayersOf(resolveLayerMap(declared, model({ fusionLayers: 1 })), 'fusionSelf')).toEqual([[0, 11]]);
    // AND explicit pairs must name a declared layer (its own layer number)
    expect(teacherLayersOf(resolveLayerMap(declared, model({ fusionLayers: 2 }), { fusionSelf: [[0, 4], [1, 10]] }), 'fusionSelf')).toEqual([[0, 4], [1, 10]]);
    expect(() => resolveLayerMap(declared, model({ fusionLayers: 2 }), { fusionSelf: [[0, 5]] })).toThrow(
      /layerMap\.fusionSelf\[0\]: teacher layer 5 is not among the teacher's declared fusionSelf outputs \(its sidecar declares layer\(s\) 1, 4, 7, 10, 11\)/,
    );
  });

  test('a kind the teacher does not declare is skipped by a strategy and refused when named', () => {
    const declared = { declaredLayers: { ...none, fusionSelf: [0, 1] } };
    const student = model({ fusionLayers: 2, visionLayers: 1 });
    expect(resolveLayerMap(declared, student).map((p) => p.kind)).toEqual(['fusionSelf', 'fusionSelf']);
    expect(() => resolveLayerMap(declared, student, { visionSelf: 'uniform' })).toThrow(/the teacher has no visionSelf attention layers \(teacher 0 declared, student 1\)/);
  });
});
