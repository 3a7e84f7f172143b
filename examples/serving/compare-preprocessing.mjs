#!/usr/bin/env node
/**
 * Compares the Python example's preprocessing (serve_vqa.py: PIL + numpy) with the project's
 * own (trainer/data/image.ts, tokenizer.ts) on given images and a question, without ONNX
 * Runtime (the Python module is imported with `onnxruntime` stubbed out), so it runs where
 * only Pillow and numpy are installed:
 *
 *   npm run build
 *   node examples/serving/compare-preprocessing.mjs <model.onnx> "<question>" <image>… [--python /usr/bin/python3]
 *
 * Prints, per image, the largest difference in 0–255 levels and how many values differ by more
 * than half a level, and whether the token ids agree.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { decodeImage, toSquareRgb } = require('../../dist/trainer/data/image.js');
const { tokenizerFromJson } = require('../../dist/trainer/data/tokenizer.js');

const args = process.argv.slice(2);
const pyAt = args.indexOf('--python');
const python = pyAt >= 0 ? args.splice(pyAt, 2)[1] : 'python3';
const [model, question, ...images] = args;
if (!model || question === undefined || images.length === 0) {
  process.stderr.write('usage: node examples/serving/compare-preprocessing.mjs <model.onnx> "<question>" <image>… [--python /usr/bin/python3]\n');
  process.exit(2);
}
const sidecar = JSON.parse(readFileSync(`${model}.json`, 'utf8'));
const tokenizerFile = path.join(path.dirname(model), sidecar.tokenizer.file);
const here = path.dirname(fileURLToPath(import.meta.url));
const script = `
import sys, types, json
sys.dont_write_bytecode = True
sys.modules['onnxruntime'] = types.ModuleType('onnxruntime')
sys.path.insert(0, ${JSON.stringify(here)})
import serve_vqa
side, tok, question, images = json.loads(sys.argv[1])
ids, mask, _ = serve_vqa.text_inputs(question, side['text'], tok)
print(json.dumps({'ids': ids[0].tolist(), 'mask': mask[0].tolist(), 'pixels': [serve_vqa.pixel_values(f, side['image']).reshape(-1).tolist() for f in images]}))
`;
const py = JSON.parse(execFileSync(python, ['-c', script, JSON.stringify([sidecar, tokenizerFile, question, images])], { encoding: 'utf8', maxBuffer: 1 << 28 }));

const { mean, std, size, layout } = sidecar.image;
if (layout !== 'NHWC') throw new Error('this check reads NHWC models');
images.forEach((file, k) => {
  const rgb = toSquareRgb(decodeImage(readFileSync(file), file), size);
  let max = 0;
  let differing = 0;
  rgb.forEach((p, i) => {
    const c = i % 3;
    const d = Math.abs((py.pixels[k][i] * std[c] + mean[c]) * 255 - p);
    max = Math.max(max, d);
    if (d > 0.5) differing++;
  });
  process.stdout.write(`${file}: max |python − project| = ${max.toFixed(2)} levels of 255; ${differing} of ${rgb.length} values differ by more than half a level\n`);
});
const tok = tokenizerFromJson(JSON.parse(readFileSync(tokenizerFile, 'utf8')), tokenizerFile);
const ids = Array.from(tok.encode(question, { length: sidecar.text.maxLength }).ids);
const same = JSON.stringify(ids) === JSON.stringify(py.ids) && JSON.stringify(ids.map((v) => (v === sidecar.text.padId ? 0 : 1))) === JSON.stringify(py.mask);
process.stdout.write(`token ids and mask ${same ? 'agree' : `DIFFER: project ${ids}, python ${py.ids}`}\n`);
