/**
 * Images for the report as PNG data URIs (pngjs), so the HTML needs no network or side files.
 * PNGs are encoded at native resolution (pngjs's encoder is pure JS, so fewer pixels = faster
 * reports) and the page upscales them with `image-rendering: pixelated`; `displayWidth/Height`
 * are the integer-upscaled sizes to put on the <img>, which keep patch boundaries crisp.
 */
import { PNG } from 'pngjs';
import type { Matrix, RgbImage } from './schema';
import { viridisRgb } from './palette';

/** Images narrower than this are upscaled (integer factor) for display. */
const MIN_DISPLAY_PX = 128;
/** Opacity of the attention colour drawn over the image. */
const OVERLAY_ALPHA = 0.6;

export interface PngImage {
  readonly dataUri: string;
  /** Pixel size of the encoded PNG. */
  readonly width: number;
  readonly height: number;
  /** Size to display it at (integer upscale to at least MIN_DISPLAY_PX on the long side). */
  readonly displayWidth: number;
  readonly displayHeight: number;
}

function displayScale(width: number, height: number): number {
  return Math.max(1, Math.ceil(MIN_DISPLAY_PX / Math.max(width, height)));
}

function encode(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): PngImage {
  const s = displayScale(width, height);
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      const o = (y * width + x) * 4;
      png.data[o] = r;
      png.data[o + 1] = g;
      png.data[o + 2] = b;
      png.data[o + 3] = 255;
    }
  }
  return { dataUri: `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`, width, height, displayWidth: width * s, displayHeight: height * s };
}

function rgbAt(bytes: Buffer, image: RgbImage, x: number, y: number): [number, number, number] {
  const o = (y * image.width + x) * 3;
  return [bytes[o]!, bytes[o + 1]!, bytes[o + 2]!];
}

/** The RGB image. */
export function imagePng(image: RgbImage): PngImage {
  const bytes = Buffer.from(image.rgbBase64, 'base64');
  return encode(image.width, image.height, (x, y) => rgbAt(bytes, image, x, y));
}

/** Min and max of a matrix (for colour scaling). */
export function matrixRange(m: Matrix): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const row of m) for (const v of row) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/** Map values scaled to [0, 1] by the map's own maximum (attention weights are ≥ 0). */
function unitScale(m: Matrix): (v: number) => number {
  const { max } = matrixRange(m);
  return (v) => (max > 0 ? v / max : 0);
}

/** A query × key attention matrix coloured with viridis, one pixel per entry. */
export function matrixPng(m: Matrix): PngImage {
  const t = unitScale(m);
  return encode(m[0]!.length, m.length, (x, y) => viridisRgb(t(m[y]![x]!)));
}

/** A patch-grid attention map drawn over the image (same size as imagePng). */
export function overlayPng(image: RgbImage, grid: Matrix): PngImage {
  const bytes = Buffer.from(image.rgbBase64, 'base64');
  const W = image.width;
  const H = image.height;
  const rows = grid.length;
  const cols = grid[0]!.length;
  const t = unitScale(grid);
  return encode(W, H, (x, y) => {
    const base = rgbAt(bytes, image, x, y);
    const heat = viridisRgb(t(grid[Math.floor((y * rows) / H)]![Math.floor((x * cols) / W)]!));
    return [0, 1, 2].map((c) => Math.round(base[c]! * (1 - OVERLAY_ALPHA) + heat[c]! * OVERLAY_ALPHA)) as [number, number, number];
  });
}
