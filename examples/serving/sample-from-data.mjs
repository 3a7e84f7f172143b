#!/usr/bin/env node
/**
 * Writes one example of a prepared dataset as a PNG and prints its text (VQA question,
 * translation source; empty for captioning) and its label (the answer class, or the reference
 * target), to try the serving examples on a real input (docs/SERVING.md):
 *
 *   npm run build
 *   node examples/serving/sample-from-data.mjs <data dir> <split> <index> <out.png>
 *
 * The PNG holds the stored pixels at their stored size, so the example's resize is the
 * identity and the model sees exactly what evaluation fed it.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import pngjs from 'pngjs';

const require = createRequire(import.meta.url);
const { openDataset } = require('../../dist/trainer/data/dataset.js');
const { toUri } = require('../../dist/contract/storage.js');

const [dataDir, split, index, out] = process.argv.slice(2);
if (!dataDir || !split || index === undefined || !out) {
  process.stderr.write('usage: node examples/serving/sample-from-data.mjs <data dir> <train|val|test> <index> <out.png>\n');
  process.exit(2);
}
const data = await openDataset(toUri(dataDir));
const record = await data.split(split).record(Number(index));
const S = data.manifest.imageSize;
const png = new pngjs.PNG({ width: S, height: S });
for (let i = 0; i < S * S; i++) {
  png.data[i * 4] = record.image[i * 3];
  png.data[i * 4 + 1] = record.image[i * 3 + 1];
  png.data[i * 4 + 2] = record.image[i * 3 + 2];
  png.data[i * 4 + 3] = 255;
}
writeFileSync(out, pngjs.PNG.sync.write(png));
const text = data.tokenizer.decode(record.text);
const label =
  data.manifest.task === 'vqa' ? { answer: record.answerLabel >= 0 ? data.answerVocab[record.answerLabel] : '(no answer class)' } : { target: data.tokenizer.decode(record.target) };
process.stdout.write(JSON.stringify({ id: record.id, task: data.manifest.task, text, ...label, png: out }) + '\n');
