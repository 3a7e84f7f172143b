/** VLModel on the default test backend (wasm): shapes, attention-map invariants, masks, dropout, memory, config errors. */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../trainer/backend';
import { ConfigError, ModelInputError, VLModel, attentionLayerCounts, numPatches, type AttentionKind, type ModelOutputs } from '../../../trainer/model';
import { disposeInputs, tinyConfig, tinyInputs, type Fusion } from './fixtures';

beforeAll(async () => {
  await initBackend();
});

const cases: [Fusion, boolean][] = [
  ['single-stream', false],
  ['single-stream', true],
  ['two-stream', false],
  ['two-stream', true],
];

describe.each(cases)('VLModel %s, decoder %s', (fusion, withDecoder) => {
  const config = tinyConfig(fusion, withDecoder);
  let model: VLModel;
  beforeAll(() => {
    model = new VLModel(config, { seed: 3, name: `shapes-${fusion}-${withDecoder}` });
  });
  afterAll(() => model.dispose());

  it('returns every output with the documented dtype and shape', () => {
    const inputs = tinyInputs(config);
    tf.tidy(() => {
      const out = model.apply(inputs, { training: false, returnAttention: true, returnQKV: true });
      const B = 2;
      const P = numPatches(config);
      const Lt = config.maxTextLength;
      const Ld = config.maxTargetLength;
      const T = P + Lt;
      const d = config.width;
      expect(out.answerLogits!.dtype).toBe('float32');
      expect(out.answerLogits!.shape).toEqual([B, config.numAnswers]);
      expect(out.encoderOutput.shape).toEqual([B, T, d]);
      if (withDecoder) expect(out.lmLogits!.shape).toEqual([B, Ld, config.vocabSize]);
      else expect(out.lmLogits).toBeUndefined();

      const counts = attentionLayerCounts(config);
      const { vision, fusion: hf, decoder: hd } = config.heads;
      const expected: Record<AttentionKind, [number, number, number]> =
        fusion === 'single-stream'
          ? { visionSelf: [vision, P, P], fusionSelf: [hf, T, T], crossImage: [0, 0, 0], decoderSelf: [hd, Ld, Ld], decoderCross: [hd, Ld, T] }
          : { visionSelf: [vision, P, P], fusionSelf: [hf, Lt, Lt], crossImage: [hf, Lt, P], decoderSelf: [hd, Ld, Ld], decoderCross: [hd, Ld, T] };
      for (const kind of Object.keys(counts) as AttentionKind[]) {
        const maps = out.attention[kind] ?? [];
        expect({ kind, layers: maps.length }).toEqual({ kind, layers: counts[kind] });
        const [h, q, k] = expected[kind];
        for (const m of maps) expect(m.shape).toEqual([B, h, q, k]);
        if (counts[kind] > 0) expect(out.queryMask[kind]!.shape).toEqual([B, q]);
        else expect(out.queryMask[kind]).toBeUndefined();
        const isSelf = kind !== 'crossImage' && kind !== 'decoderCross';
        const qkv = out.qkv[kind] ?? [];
        expect(qkv.length).toBe(isSelf ? counts[kind] : 0);
        for (const { q: qq, k: kk, v } of qkv) {
          expect(qq.shape).toEqual([B, q, d]);
          expect(kk.shape).toEqual([B, k, d]);
          expect(v.shape).toEqual([B, k, d]);
        }
      }
      expect(counts.decoderSelf).toBe(withDecoder ? 1 : 0);
    });
    disposeInputs(inputs);
  });

  it('returns no maps or projections unless asked', () => {
    const inputs = tinyInputs(config);
    tf.tidy(() => {
      const out = model.apply(inputs, { training: false });
      expect(out.attention).toEqual({});
      expect(out.qkv).toEqual({});
    });
    disposeInputs(inputs);
  });

  it('maps are row-stochastic over valid keys, exactly 0 on padded keys, causal in the decoder', () => {
    const inputs = tinyInputs(config);
    const textValid = (inputs.text.arraySync() as number[][]).map((r) => r.map((t) => t !== 0));
    const decValid = withDecoder ? (inputs.decoderInput!.arraySync() as number[][]).map((r) => r.map((t) => t !== 0)) : [];
    const P = numPatches(config);
    const encValid = textValid.map((r) => [...Array(P).fill(true), ...r]);
    const keyValidity: Record<AttentionKind, boolean[][]> = {
      visionSelf: [Array(P).fill(true), Array(P).fill(true)],
      fusionSelf: fusion === 'single-stream' ? encValid : textValid,
      crossImage: [Array(P).fill(true), Array(P).fill(true)],
      decoderSelf: decValid,
      decoderCross: encValid,
    };
    const out = model.apply(inputs, { training: true, dropoutSeed: 5, returnAttention: true });
    let checked = 0;
    for (const [kind, maps] of Object.entries(out.attention) as [AttentionKind, tf.Tensor4D[]][]) {
      for (const m of maps) {
        const a = m.arraySync();
        a.forEach((heads, b) =>
          heads.forEach((rows) =>
            rows.forEach((row, q) => {
              let sum = 0;
              row.forEach((p, k) => {
                const valid = keyValidity[kind][b][k] && (kind !== 'decoderSelf' || k <= q);
                if (valid) sum += p;
                else expect({ kind, b, q, k, p }).toEqual({ kind, b, q, k, p: 0 });
                expect(p).toBeGreaterThanOrEqual(0);
              });
              expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
              checked++;
            }),
          ),
        );
      }
    }
    expect(checked).toBeGreaterThan(0);
    tf.dispose(out as unknown as tf.TensorContainer);
    disposeInputs(inputs);
  });

  it('query masks mark real query rows', () => {
    const inputs = tinyInputs(config);
    const text = inputs.text.arraySync() as number[][];
    const out = model.apply(inputs, { training: false });
    const textMask = text.map((r) => r.map((t) => (t !== 0 ? 1 : 0)));
    const P = numPatches(config);
    if (fusion === 'single-stream') {
      expect(out.queryMask.fusionSelf!.arraySync()).toEqual(textMask.map((r) => [...Array(P).fill(1), ...r]));
    } else {
      expect(out.queryMask.fusionSelf!.arraySync()).toEqual(textMask);
      expect(out.queryMask.crossImage!.arraySync()).toEqual(textMask);
    }
    expect(out.queryMask.visionSelf!.arraySync()).toEqual([Array(P).fill(1), Array(P).fill(1)]);
    if (withDecoder) {
      const decMask = (inputs.decoderInput!.arraySync() as number[][]).map((r) => r.map((t) => (t !== 0 ? 1 : 0)));
      expect(out.queryMask.decoderSelf!.arraySync()).toEqual(decMask);
      expect(out.queryMask.decoderCross!.arraySync()).toEqual(decMask);
    }
    tf.dispose(out as unknown as tf.TensorContainer);
    disposeInputs(inputs);
  });
});

describe.each(['single-stream', 'two-stream'] as const)('VLModel.encode + decodeFrom, %s', (fusion) => {
  const config = tinyConfig(fusion, true);
  let model: VLModel;
  beforeAll(() => {
    model = new VLModel(config, { seed: 5, name: `encode-${fusion}` });
  });
  afterAll(() => model.dispose());

  const close = (a: tf.Tensor, b: tf.Tensor) => {
    expect(a.shape).toEqual(b.shape);
    const x = a.dataSync();
    const y = b.dataSync();
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    expect(worst).toBeLessThan(1e-5);
  };

  it('gives the logits of apply (training off), for the whole batch and for gathered rows', () => {
    const inputs = tinyInputs(config);
    tf.tidy(() => {
      const full = model.apply(inputs, { training: false });
      const encoded = model.encode(inputs);
      close(encoded.states, full.encoderOutput);
      close(model.decodeFrom(encoded, inputs.decoderInput!), full.lmLogits!);
      // Rows gathered from the encoding (as beam search does: example 1 twice, then example 0) with shorter prefixes.
      const rows = tf.tensor1d([1, 1, 0], 'int32');
      const prefix = inputs.decoderInput!.slice([0, 0], [-1, 3]);
      const gathered = { states: tf.gather(encoded.states, rows) as tf.Tensor3D, valid: tf.gather(encoded.valid, rows) as tf.Tensor2D };
      const expected = model.apply({ images: tf.gather(inputs.images, rows) as tf.Tensor4D, text: tf.gather(inputs.text, rows) as tf.Tensor2D, decoderInput: tf.gather(prefix, rows) as tf.Tensor2D }, { training: false });
      close(model.decodeFrom(gathered, tf.gather(prefix, rows) as tf.Tensor2D), expected.lmLogits!);
    });
    disposeInputs(inputs);
  });

  it('refuses an encoding of another width and a malformed decoder input, naming them', () => {
    const inputs = tinyInputs(config);
    tf.tidy(() => {
      const encoded = model.encode(inputs);
      const wrongWidth = { states: tf.zeros([2, encoded.states.shape[1], config.width + 1]) as tf.Tensor3D, valid: encoded.valid };
      expect(() => model.decodeFrom(wrongWidth, inputs.decoderInput!)).toThrow(/encoded must be .*states \[B, T, 16\]/);
      expect(() => model.decodeFrom(encoded, tf.zeros([2, 3]) as tf.Tensor2D)).toThrow(ModelInputError);
      expect(() => model.decodeFrom(encoded, tf.zeros([2, config.maxTargetLength + 1], 'int32') as tf.Tensor2D)).toThrow(/maxTargetLength/);
    });
    disposeInputs(inputs);
  });
});

describe('VLModel behaviour', () => {
  const config = tinyConfig('single-stream', true);

  it('dropout: same seed → same output, other seed → different, training=false → deterministic and seed-free', () => {
    const model = new VLModel(config, { name: 'dropout' });
    const inputs = tinyInputs(config);
    tf.tidy(() => {
      const run = (training: boolean, seed?: number) => model.apply(inputs, { training, dropoutSeed: seed }).answerLogits!.dataSync();
      expect(Array.from(run(true, 1))).toEqual(Array.from(run(true, 1)));
      expect(Array.from(run(true, 1))).not.toEqual(Array.from(run(true, 2)));
      expect(Array.from(run(false, 1))).toEqual(Array.from(run(false, 2)));
      expect(Array.from(run(true, 1))).not.toEqual(Array.from(run(false)));
    });
    disposeInputs(inputs);
    model.dispose();
  });

  it('leaves no tensor behind across a training step under tidy/minimize', () => {
    const model = new VLModel(config, { name: 'memory' });
    const inputs = tinyInputs(config);
    const labels = tf.oneHot(tf.tensor1d([0, 2], 'int32'), config.numAnswers);
    const optimizer = tf.train.adam(1e-3);
    const step = (seed: number) =>
      tf.tidy(() => {
        optimizer.minimize(() => {
          const out = model.apply(inputs, { training: true, dropoutSeed: seed, returnAttention: true, returnQKV: true });
          return tf.add(tf.losses.softmaxCrossEntropy(labels, out.answerLogits!), tf.mean(out.attention.fusionSelf![0])) as tf.Scalar;
        });
      });
    step(0); // creates the optimizer's slots
    const before = tf.memory().numTensors;
    step(1);
    step(2);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([labels]);
    optimizer.dispose();
    disposeInputs(inputs);
    model.dispose();
  });

  it('computes gradients when the forward pass runs inside an inner tidy (only saved tensors survive it)', () => {
    const model = new VLModel(config, { name: 'inner-tidy' });
    const inputs = tinyInputs(config);
    const labels = tf.oneHot(tf.tensor1d([0, 2], 'int32'), config.numAnswers);
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () =>
          tf.tidy(() => {
            const out = model.apply(inputs, { training: true, dropoutSeed: 1 });
            return tf.add(tf.losses.softmaxCrossEntropy(labels, out.answerLogits!), tf.mean(tf.square(out.lmLogits!))) as tf.Scalar;
          }),
        model.trainableWeights,
      );
      expect(Number.isFinite(value.dataSync()[0])).toBe(true);
      expect(Object.keys(grads)).toHaveLength(model.trainableWeights.length);
      expect(tf.sum(tf.abs(grads[model.trainableWeights[0].name])).dataSync()[0]).toBeGreaterThan(0);
    });
    tf.dispose(labels);
    disposeInputs(inputs);
    model.dispose();
  });

  it('names weights without the instance prefix, identically across instances, and counts parameters', () => {
    const a = new VLModel(config, { name: 'names-a', seed: 1 });
    const b = new VLModel(config, { name: 'names-b', seed: 2 });
    expect(a.namedWeights().map((w) => w.name)).toEqual(b.namedWeights().map((w) => w.name));
    expect(a.namedWeights().every((w) => !w.name.includes('names-a'))).toBe(true);
    expect(a.trainableWeights.map((v) => v.name)).toEqual(a.namedWeights().map((w) => w.tensor.name));
    expect(a.countParams()).toBe(a.trainableWeights.reduce((n, v) => n + v.size, 0));
    expect(new Set(a.namedWeights().map((w) => w.name)).size).toBe(a.trainableWeights.length);
    // same seed → same init; different seed → different init
    const c = new VLModel(config, { name: 'names-c', seed: 1 });
    expect(Array.from(c.trainableWeights[0].dataSync())).toEqual(Array.from(a.trainableWeights[0].dataSync()));
    expect(Array.from(b.trainableWeights[0].dataSync())).not.toEqual(Array.from(a.trainableWeights[0].dataSync()));
    [a, b, c].forEach((m) => m.dispose());
  });

  it('refuses a second live model with the same name, and accepts it after dispose', () => {
    const a = new VLModel(config, { name: 'dup' });
    expect(() => new VLModel(config, { name: 'dup' })).toThrow(/"dup" is already used/);
    a.dispose();
    new VLModel(config, { name: 'dup' }).dispose();
  });

  it.each([
    [{ width: 30, heads: { fusion: 4 }, numAnswers: 2 }, /heads\.fusion/],
    [{ patchSize: 5, numAnswers: 2 }, /patchSize/],
    [{ numAnswers: 0, decoderLayers: 0 }, /numAnswers/],
    [{ widht: 8, numAnswers: 2 }, /widht/],
  ])('throws ConfigError naming the bad field for %j', (bad, field) => {
    expect(() => new VLModel(bad as never)).toThrow(ConfigError);
    expect(() => new VLModel(bad as never)).toThrow(field);
  });

  it('throws ModelInputError naming the bad input', () => {
    const model = new VLModel(config, { name: 'inputs' });
    const inputs = tinyInputs(config);
    tf.tidy(() => {
      expect(() => model.apply({ ...inputs, images: tf.zeros([2, 4, 4, 3]) as tf.Tensor4D }, { training: false })).toThrow(/inputs\.images/);
      expect(() => model.apply({ ...inputs, text: tf.zeros([2, 9], 'int32') as tf.Tensor2D }, { training: false })).toThrow(/maxTextLength/);
      expect(() => model.apply({ ...inputs, text: tf.zeros([2, 3]) as tf.Tensor2D }, { training: false })).toThrow(ModelInputError);
      expect(() => model.apply({ ...inputs, decoderInput: tf.zeros([2, 9], 'int32') as tf.Tensor2D }, { training: false })).toThrow(/maxTargetLength/);
    });
    disposeInputs(inputs);
    model.dispose();
  });

  it('supports shorter text and decoder inputs than the configured maximum', () => {
    const model = new VLModel(config, { name: 'short' });
    tf.tidy(() => {
      const out: ModelOutputs = model.apply(
        { images: tf.zeros([1, 8, 8, 3]) as tf.Tensor4D, text: tf.tensor2d([[5, 6]], [1, 2], 'int32'), decoderInput: tf.tensor2d([[2]], [1, 1], 'int32') },
        { training: false, returnAttention: true },
      );
      expect(out.encoderOutput.shape).toEqual([1, 4 + 2, config.width]);
      expect(out.lmLogits!.shape).toEqual([1, 1, config.vocabSize]);
    });
    model.dispose();
  });
});
