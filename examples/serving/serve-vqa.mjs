#!/usr/bin/env node
/**
 * Answer a question about an image with an exported VQA model on ONNX Runtime (Node), reading
 * everything it needs from the model's sidecar (model.onnx.json, docs/SERVING.md):
 *
 *   node examples/serving/serve-vqa.mjs <model.onnx> <image.jpg|png> "<question>" [--threads N]
 *
 * Prints the answer, its probability and the runner-up answers. Needs only onnxruntime-node,
 * jpeg-js and pngjs (no TensorFlow.js, nothing else from this repository but preprocess.mjs,
 * which prepares image and question exactly as training did).
 */
import ort from 'onnxruntime-node';
import { InputError, pixelTensor, readSidecar, textTensors } from './preprocess.mjs';

function usage(message) {
  process.stderr.write(`${message}\nusage: node examples/serving/serve-vqa.mjs <model.onnx> <image.jpg|png> "<question>" [--threads N]\n`);
  process.exit(2);
}

// --- main -------------------------------------------------------------------------------------

const args = process.argv.slice(2);
const threadsAt = args.indexOf('--threads');
const threads = threadsAt >= 0 ? Number(args.splice(threadsAt, 2)[1]) : 1;
const [modelFile, imageFile, question] = args;
if (!modelFile || !imageFile || question === undefined) usage('missing arguments');
if (!Number.isInteger(threads) || threads < 1) usage('--threads must be an integer ≥ 1');

const { sidecar, tokenizerFile } = readSidecar(modelFile);
if (sidecar.task !== 'vqa') usage(`${modelFile} is a ${sidecar.task} model: this example answers questions (task "vqa"); see caption.mjs`);
let ids, mask, unknown, pixels;
try {
  ({ ids, mask, unknown } = textTensors(question, sidecar.text, tokenizerFile));
  pixels = pixelTensor(imageFile, sidecar.image);
} catch (e) {
  if (e instanceof InputError) usage(e.message);
  throw e;
}
if (unknown.length) process.stderr.write(`note: not in the vocabulary (fed as [UNK]): ${unknown.join(' ')}\n`);

const session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: threads, interOpNumThreads: 1 });
const feeds = { [sidecar.image.input ?? 'pixel_values']: pixels, [sidecar.text.ids ?? 'input_ids']: ids, [sidecar.text.mask ?? 'attention_mask']: mask };
// Fetch only the logits: the attention outputs (for distillation) are not needed to answer.
const logitsName = sidecar.logits ?? 'logits';
const out = await session.run(feeds, [logitsName]);
const logits = out[logitsName].data;
const max = Math.max(...logits);
const exp = Array.from(logits, (v) => Math.exp(v - max));
const total = exp.reduce((a, b) => a + b, 0);
// answerForms: each class as the official VQA scorer rewards it ("t-shirt", not "t shirt"), when exported.
const answerText = sidecar.answerForms ?? sidecar.answers;
const ranked = exp.map((e, i) => ({ answer: answerText[i], p: e / total })).sort((a, b) => b.p - a.p);
process.stdout.write(`${ranked[0].answer}\t${ranked[0].p.toFixed(4)}\n`);
process.stderr.write(`runners-up: ${ranked.slice(1, 4).map((r) => `${r.answer} ${r.p.toFixed(4)}`).join(', ')}\n`);
await session.release();
