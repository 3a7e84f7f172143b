/**
 * ONNX export: time to build and serialise model.onnx from a model's weights, and its size
 * (beside model.bin's), at the reference shapes (bench/train-step.ts REFERENCE: width 128, 4
 * single-stream layers, 8 heads, 80 tokens) and the demo's (examples/demo-*.json teachers: width
 * 64, 8 heads, 32 px images, 8 px patches; VQA single-stream 2 layers; captioning 2 vision + 2
 * decoder layers, which also writes encoder.onnx, decoder.onnx and decoder-with-past.onnx).
 *
 * Run: `npx tsx bench/run.ts onnx-export [--repeats 5]` (or `npm run bench -- onnx-export`).
 * Prints a table, then one JSON line per model. Export time = weights read from the tfjs
 * variables + graph built + protobuf encoded (the median of the repeats; no file I/O).
 */
import { parseArgs } from 'node:util';
import { initBackend } from '../trainer/backend';
import { VLModel } from '../trainer/model';
import { parseModelConfig, type ModelConfigInput } from '../trainer/model/config';
import type { ModelTask } from '../trainer/model-io';
import { buildOnnxExport, DEFAULT_OPSET } from '../trainer/onnx/export-model';
import { weightMapOf } from '../trainer/onnx/export-files';
import { REFERENCE } from './train-step';

/** The demo VQA data's sizes (runs/demo-vqa/data/manifest.json: 41-token vocabulary, 16 answers), used for both demo models. */
const DEMO_DATA = { imageSize: 32, maxTextLength: 12, maxTargetLength: 14, vocabSize: 41 };
const DEMO_TEACHER = { width: 64, mlpWidth: 256, patchSize: 8, heads: { vision: 8, fusion: 8, decoder: 8 }, dropout: 0 };

const CASES: { name: string; task: ModelTask; config: ModelConfigInput }[] = [
  { name: 'reference-vqa', task: 'vqa', config: { ...REFERENCE, heads: { vision: 8, fusion: 8, decoder: 8 } } },
  { name: 'demo-vqa-teacher', task: 'vqa', config: { ...DEMO_DATA, ...DEMO_TEACHER, fusionLayers: 2, numAnswers: 16 } },
  { name: 'demo-captioning-teacher', task: 'captioning', config: { ...DEMO_DATA, ...DEMO_TEACHER, visionLayers: 2, fusionLayers: 0, decoderLayers: 2 } },
];

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { repeats: { type: 'string', default: '5' } } });
  const repeats = Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats must be an integer ≥ 1, got "${values.repeats}"`);
  const backend = await initBackend();
  const rows: Record<string, unknown>[] = [];
  for (const c of CASES) {
    const config = parseModelConfig(c.config, c.name);
    const model = new VLModel(config, { seed: 1, name: `bench-onnx-${c.name}` });
    const vocab = ['[PAD]', '[UNK]', '[BOS]', '[EOS]', ...Array.from({ length: config.vocabSize - 4 }, (_, i) => `w${i}`)];
    const meta = {
      task: c.task,
      tokenizer: { kind: 'word', version: 1, lowercase: true, vocab },
      answers: Array.from({ length: config.numAnswers }, (_, i) => `a${i}`),
      pixelStats: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    };
    const times: number[] = [];
    let sizes = { model: 0, encoder: 0, decoder: 0, decoderWithPast: 0 };
    for (let r = 0; r <= repeats; r++) {
      const t0 = performance.now();
      const exp = buildOnnxExport(config, weightMapOf(model), meta);
      const ms = performance.now() - t0;
      if (r > 0) times.push(ms); // the first run warms up (module JIT)
      sizes = { model: exp.model.byteLength, encoder: exp.encoder?.byteLength ?? 0, decoder: exp.decoder?.byteLength ?? 0, decoderWithPast: exp.decoderWithPast?.byteLength ?? 0 };
    }
    times.sort((a, b) => a - b);
    rows.push({
      name: `onnx-export-${c.name}`,
      backend,
      opset: DEFAULT_OPSET,
      params: model.countParams(),
      weightBytes: model.countParams() * 4,
      exportMs: +times[Math.floor(times.length / 2)]!.toFixed(1),
      modelOnnxBytes: sizes.model,
      encoderOnnxBytes: sizes.encoder,
      decoderOnnxBytes: sizes.decoder,
      decoderWithPastOnnxBytes: sizes.decoderWithPast,
    });
    model.dispose();
  }
  console.log(`backend ${backend} (weights read from its variables), opset ${DEFAULT_OPSET}, median of ${repeats} exports after one warm-up`);
  console.table(rows.map((r) => ({ model: r.name, params: r.params, 'export ms': r.exportMs, 'model.onnx bytes': r.modelOnnxBytes, 'weights bytes (f32)': r.weightBytes, 'encoder / decoder / decoder-with-past bytes': r.encoderOnnxBytes ? `${r.encoderOnnxBytes} / ${r.decoderOnnxBytes} / ${r.decoderWithPastOnnxBytes}` : '—' })));
  for (const r of rows) console.log(JSON.stringify(r));
}
