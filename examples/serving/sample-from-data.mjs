#!/usr/bin/env node
/**
 * Writes one example of a prepared VQA dataset as a PNG and prints its question and its
 * label answer, to try the serving examples on a real input (docs/SERVING.md):
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
if (data.manifest.task !== 'vqa') throw new Error(`${dataDir} holds ${data.manifest.task} data: this helper writes VQA examples`);
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
const question = data.tokenizer.decode(record.text);
const label = record.answerLabel >= 0 ? data.answerVocab[record.answerLabel] : '(no answer class)';
process.stdout.write(JSON.stringify({ id: record.id, question, answer: label, png: out }) + '\n');
