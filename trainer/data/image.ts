/**
 * Image files → the stored form: RGB uint8 `[S, S, 3]`. JPEG via jpeg-js, PNG via pngjs (the
 * format is recognised by its magic bytes, not the file name); grayscale (and gray+alpha) become
 * three equal channels, alpha is dropped; the centred square crop is resized to S.
 *
 * Resizing is bilinear as PIL does it: a separable triangle filter on half-pixel centres whose
 * support widens by the scale factor when shrinking, so every source pixel contributes (a plain
 * 2-tap bilinear sample of a 640-pixel photo at 32 pixels would alias badly). Upscaling reduces
 * to ordinary bilinear interpolation.
 */
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataError } from './errors';

export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  /** Interleaved channels per pixel (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA). */
  readonly channels: number;
  readonly data: Uint8Array;
}

const isJpeg = (b: Uint8Array) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
const isPng = (b: Uint8Array) => b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;

/** Decodes a JPEG or PNG file. `what` (id and path) names it in errors. */
export function decodeImage(bytes: Uint8Array, what: string): DecodedImage {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    if (isJpeg(bytes)) img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
    else if (isPng(bytes)) img = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    else throw new Error(`not a JPEG or PNG file (first bytes ${Buffer.from(bytes.subarray(0, 4)).toString('hex') || 'none: empty file'})`);
  } catch (e) {
    throw new DataError('bad-image', `cannot decode the image for ${what}: ${(e as Error).message}`);
  }
  const pixels = img.width * img.height;
  const channels = pixels > 0 ? img.data.length / pixels : 0;
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) {
    throw new DataError('bad-image', `cannot decode the image for ${what}: ${img.width}×${img.height} with ${img.data.length} bytes of pixels`);
  }
  return { width: img.width, height: img.height, channels, data: img.data };
}

/** Contributions of input pixels [first, first + weights.length) to each output pixel. */
interface Taps {
  readonly first: Int32Array;
  readonly count: Int32Array;
  readonly weights: Float32Array; // [out, maxTaps]
  readonly maxTaps: number;
}

/** PIL-style triangle-filter taps mapping `inSize` pixels onto `outSize`. */
function triangleTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // triangle support 1, widened when shrinking
  const maxTaps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize, Math.ceil(center + support));
    let total = 0;
    let n = 0;
    for (let i = lo; i < hi && n < maxTaps; i++, n++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - center) / filterScale));
      weights[o * maxTaps + n] = w;
      total += w;
    }
    for (let k = 0; k < n; k++) weights[o * maxTaps + k]! /= total || 1;
    first[o] = lo;
    count[o] = n;
  }
  return { first, count, weights, maxTaps };
}

/**
 * Centre-crops to a square and resizes to `size`, giving RGB uint8 `[size, size, 3]`.
 * Gray (1–2 channels) is replicated to RGB; alpha (2nd or 4th channel) is dropped.
 */
export function toSquareRgb(img: DecodedImage, size: number): Uint8Array {
  const side = Math.min(img.width, img.height);
  const x0 = Math.floor((img.width - side) / 2);
  const y0 = Math.floor((img.height - side) / 2);
  const ch = img.channels;
  const colour = ch >= 3;
  const tx = triangleTaps(side, size);
  const ty = triangleTaps(side, size);
  // Horizontal pass over the cropped rows: [side, size, 3] floats.
  const mid = new Float32Array(side * size * 3);
  for (let y = 0; y < side; y++) {
    const row = ((y0 + y) * img.width + x0) * ch;
    for (let o = 0; o < size; o++) {
      let r = 0, g = 0, b = 0;
      const f = tx.first[o]!;
      for (let k = 0; k < tx.count[o]!; k++) {
        const w = tx.weights[o * tx.maxTaps + k]!;
        const p = row + (f + k) * ch;
        r += w * img.data[p]!;
        g += w * img.data[colour ? p + 1 : p]!;
        b += w * img.data[colour ? p + 2 : p]!;
      }
      const m = (y * size + o) * 3;
      mid[m] = r;
      mid[m + 1] = g;
      mid[m + 2] = b;
    }
  }
  // Vertical pass: [size, size, 3] bytes.
  const out = new Uint8ClampedArray(size * size * 3);
  for (let o = 0; o < size; o++) {
    const f = ty.first[o]!;
    for (let x = 0; x < size; x++) {
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < ty.count[o]!; k++) {
        const w = ty.weights[o * ty.maxTaps + k]!;
        const m = ((f + k) * size + x) * 3;
        r += w * mid[m]!;
        g += w * mid[m + 1]!;
        b += w * mid[m + 2]!;
      }
      const q = (o * size + x) * 3;
      out[q] = r; // Uint8ClampedArray rounds and clamps on store
      out[q + 1] = g;
      out[q + 2] = b;
    }
  }
  return new Uint8Array(out.buffer);
}
