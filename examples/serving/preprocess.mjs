/**
 * Preprocessing for the serving examples (serve-vqa.mjs, caption.mjs), driven by a model's
 * sidecar (model.onnx.json, docs/SERVING.md) and equal to the training pipeline's
 * (trainer/data/image.ts, trainer/data/tokenizer.ts):
 *   image  decode → centre square crop → PIL-style bilinear resize to image.size → RGB/255 →
 *          (x − mean[c]) / std[c] → NHWC (or NCHW when the sidecar says so)
 *   text   the project's word tokenizer (tokenizer.json kind "word"): lower-case, split into
 *          letter/digit runs (inner apostrophes kept) and single symbols, unknown → [UNK] (1),
 *          padded with padId to text.maxLength; attention_mask = 1 for real tokens.
 * Needs only onnxruntime-node, jpeg-js and pngjs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';

const UNK = 1;

/** Thrown for inputs the examples cannot use; the message says why. */
export class InputError extends Error {}

// --- image ------------------------------------------------------------------------------------

/** JPEG or PNG bytes → { width, height, channels, data } (channels 1–4, interleaved). */
export function decodeImage(bytes, file) {
  let img;
  if (bytes[0] === 0xff && bytes[1] === 0xd8) img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  else if (bytes[0] === 0x89 && bytes[1] === 0x50) img = pngjs.PNG.sync.read(bytes);
  else throw new InputError(`${file} is not a JPEG or PNG file`);
  return { width: img.width, height: img.height, channels: img.data.length / (img.width * img.height), data: img.data };
}

/** PIL-style bilinear (triangle filter, widened when shrinking) taps of `inSize` → `outSize`. */
function taps(inSize, outSize) {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  return Array.from({ length: outSize }, (_, o) => {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize, Math.ceil(center + support));
    // Same arithmetic as the training code: raw weights summed in double, stored as float32.
    const raw = [];
    for (let i = lo; i < hi && raw.length < Math.ceil(support) * 2 + 1; i++) raw.push(Math.max(0, 1 - Math.abs((i + 0.5 - center) / support)));
    const total = raw.reduce((a, b) => a + b, 0) || 1;
    return { first: lo, weights: raw.map((x) => Math.fround(Math.fround(x) / total)) };
  });
}

/** Centre square crop resized to `size`: RGB bytes `[size, size, 3]` (gray replicated, alpha dropped). */
export function squareRgb(img, size) {
  const side = Math.min(img.width, img.height);
  const x0 = Math.floor((img.width - side) / 2);
  const y0 = Math.floor((img.height - side) / 2);
  const ch = img.channels;
  const channel = (p, c) => img.data[ch >= 3 ? p + c : p];
  const tx = taps(side, size);
  const ty = taps(side, size);
  const mid = new Float32Array(side * size * 3); // horizontal pass
  for (let y = 0; y < side; y++) {
    const row = ((y0 + y) * img.width + x0) * ch;
    for (let o = 0; o < size; o++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        tx[o].weights.forEach((w, k) => (acc += w * channel(row + (tx[o].first + k) * ch, c)));
        mid[(y * size + o) * 3 + c] = acc;
      }
    }
  }
  const out = new Uint8ClampedArray(size * size * 3); // vertical pass; rounds and clamps on store
  for (let o = 0; o < size; o++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        ty[o].weights.forEach((w, k) => (acc += w * mid[((ty[o].first + k) * size + x) * 3 + c]));
        out[(o * size + x) * 3 + c] = acc;
      }
    }
  }
  return out;
}

/** The `pixel_values` tensor of one image, per the sidecar's `image` block. */
export function pixelTensor(file, image) {
  const { size: S, mean, std, layout } = image;
  const rgb = squareRgb(decodeImage(readFileSync(file), file), S);
  // (p / 255 − mean) / std, written p · scale + shift as the training data reader computes it.
  const scale = std.map((s) => 1 / (255 * s));
  const shift = mean.map((m, c) => -m / std[c]);
  const x = new Float32Array(S * S * 3);
  for (let i = 0; i < S * S; i++) {
    for (let c = 0; c < 3; c++) {
      const v = rgb[i * 3 + c] * scale[c] + shift[c];
      x[layout === 'NCHW' ? c * S * S + i : i * 3 + c] = v;
    }
  }
  return new ort.Tensor('float32', x, layout === 'NCHW' ? [1, 3, S, S] : [1, S, S, 3]);
}

// --- text -------------------------------------------------------------------------------------

const WORD_OR_SYMBOL = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]/gu;

/** `input_ids` and `attention_mask` of one question, per the sidecar's `text` and `tokenizer` blocks. */
export function textTensors(question, text, tokenizerFile) {
  const tok = JSON.parse(readFileSync(tokenizerFile, 'utf8'));
  if (tok.kind !== 'word') throw new InputError(`${tokenizerFile} is a "${tok.kind}" tokenizer: this example implements the word tokenizer only (see trainer/data/tokenizer.ts for WordPiece)`);
  const index = new Map();
  tok.vocab.forEach((t, i) => index.has(t) || index.set(t, i));
  const words = (tok.lowercase ? question.toLowerCase() : question).match(WORD_OR_SYMBOL) ?? [];
  const ids = new Array(text.maxLength).fill(text.padId);
  words.slice(0, text.maxLength).forEach((w, i) => (ids[i] = index.get(w) ?? UNK));
  const make = (values) => (text.idType === 'int32' ? new ort.Tensor('int32', Int32Array.from(values), [1, values.length]) : new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]));
  return { ids: make(ids), mask: make(ids.map((id) => (id === text.padId ? 0 : 1))), words, unknown: words.filter((w) => !index.has(w)) };
}

/** The sidecar of `<model>.onnx` and the path of its tokenizer file. */
export function readSidecar(modelFile) {
  const sidecar = JSON.parse(readFileSync(`${modelFile}.json`, 'utf8'));
  return { sidecar, tokenizerFile: path.join(path.dirname(modelFile), sidecar.tokenizer.file) };
}

/** Token strings of generated ids as text: stops at EOS, drops PAD/BOS, glues WordPiece "##" pieces. */
export function decodeIds(ids, tokenizerFile, special) {
  const tok = JSON.parse(readFileSync(tokenizerFile, 'utf8'));
  let text = '';
  for (const id of ids) {
    if (id === special.eosId) break;
    if (id === special.padId || id === special.bosId) continue;
    const t = tok.vocab[id] ?? '[UNK]';
    text += t.startsWith('##') && tok.kind === 'wordpiece' ? t.slice(2) : (text ? ' ' : '') + t;
  }
  return text;
}
