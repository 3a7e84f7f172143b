#!/usr/bin/env node
/**
 * Caption an image (captioning model) or translate a sentence about it (translation model) with
 * an exported generation model on ONNX Runtime (Node): greedy decoding with encoder.onnx once
 * and decoder-with-past.onnx one token per step (its key/value cache), per the sidecar's
 * `split` (docs/SERVING.md):
 *
 *   node examples/serving/caption.mjs <model.onnx> <image.jpg|png> ["<source sentence>"] [--threads N]
 *
 * Prints the generated text. Greedy = at each step the most probable next token, PAD and BOS
 * excluded, until EOS or decoder.maxLength tokens (trainer/eval/decode.ts greedyDecode).
 */
import path from 'node:path';
import ort from 'onnxruntime-node';
import { InputError, decodeIds, pixelTensor, readSidecar, textTensors } from './preprocess.mjs';

function usage(message) {
  process.stderr.write(`${message}\nusage: node examples/serving/caption.mjs <model.onnx> <image.jpg|png> ["<source sentence>"] [--threads N]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const threadsAt = args.indexOf('--threads');
const threads = threadsAt >= 0 ? Number(args.splice(threadsAt, 2)[1]) : 1;
const [modelFile, imageFile, source = ''] = args;
if (!modelFile || !imageFile) usage('missing arguments');
if (!Number.isInteger(threads) || threads < 1) usage('--threads must be an integer ≥ 1');

const { sidecar, tokenizerFile } = readSidecar(modelFile);
const dec = sidecar.decoder;
const split = sidecar.split;
if (!dec || !split?.decoderWithPast) usage(`${modelFile} has no encoder/decoder-with-past split in its sidecar: export it with amad export (a ${sidecar.task} model)`);
let feeds;
try {
  const { ids, mask } = textTensors(source, sidecar.text, tokenizerFile);
  feeds = { [sidecar.image.input ?? 'pixel_values']: pixelTensor(imageFile, sidecar.image), [sidecar.text.ids ?? 'input_ids']: ids, [sidecar.text.mask ?? 'attention_mask']: mask };
} catch (e) {
  if (e instanceof InputError) usage(e.message);
  throw e;
}

const options = { intraOpNumThreads: threads, interOpNumThreads: 1 };
const dir = path.dirname(modelFile);
const encoder = await ort.InferenceSession.create(path.join(dir, split.encoder), options);
const decoder = await ort.InferenceSession.create(path.join(dir, split.decoderWithPast), options);
const enc = await encoder.run(feeds);

// The cache starts empty (P = 0): one [1, H, 0, dh] key and value per decoder layer.
const layers = decoder.inputNames.filter((n) => n.startsWith('past_key.')).length;
const H = sidecar.attention.find((a) => a.kind === 'decoderSelf').heads;
const dh = enc[split.states].dims[2] / H; // width / heads
let past = { past_valid: new ort.Tensor('float32', new Float32Array(0), [1, 0]) };
for (let i = 0; i < layers; i++) {
  past[`past_key.${i}`] = new ort.Tensor('float32', new Float32Array(0), [1, H, 0, dh]);
  past[`past_value.${i}`] = new ort.Tensor('float32', new Float32Array(0), [1, H, 0, dh]);
}
// What the cached decoder reads from the encoder: the mask and each layer's cross-attention
// keys/values (an export from before those existed: the states and the mask).
const fromEncoder = Object.fromEntries(decoder.inputNames.filter((n) => n in enc).map((n) => [n, enc[n]]));
const generated = [];
let next = dec.bosId;
for (let t = 0; t < dec.maxLength; t++) {
  const out = await decoder.run({ [dec.ids ?? 'decoder_input_ids']: new ort.Tensor('int64', BigInt64Array.of(BigInt(next)), [1, 1]), ...fromEncoder, ...past });
  const logits = out[sidecar.logits ?? 'logits'].data; // [1, 1, V]
  next = -1;
  for (let v = 0; v < logits.length; v++) if (v !== dec.padId && v !== dec.bosId && (next < 0 || logits[v] > logits[next])) next = v;
  generated.push(next);
  if (next === dec.eosId) break;
  past = { past_valid: out.present_valid };
  for (let i = 0; i < layers; i++) {
    past[`past_key.${i}`] = out[`present_key.${i}`];
    past[`past_value.${i}`] = out[`present_value.${i}`];
  }
}
process.stdout.write(decodeIds(generated, tokenizerFile, dec) + '\n');
await encoder.release();
await decoder.release();
