/**
 * Test helper: reads shapes back from rendered pixels, knowing only the colour palette and the
 * shape geometry (no access to the scene). It finds the pixels of a colour, then picks the
 * shape/size whose rasterised mask, centred near the pixels' bounding box, overlaps best.
 */
import { COLOUR_RGB, COLOURS, RADIUS, SHAPES, SIZES, type Colour, type Shape } from '../../../trainer/data/synthetic/world';
import { insideShape } from '../../../trainer/data/synthetic/raster';

const TOLERANCE = 8; // > the renderer's ±6 noise, far below the distance between palette colours
// Math builtins are very slow inside jest's sandbox; these loops run millions of times.
const abs = (v: number) => (v < 0 ? -v : v);
const clampFloor = (v: number, hi: number) => (v <= 0 ? 0 : v >= hi ? hi : v | 0);

/** 1 where the pixel has `colour` (within the noise tolerance), `[size·size]`. */
export function colourMask(px: Uint8Array, size: number, colour: Colour): Uint8Array {
  const [r, g, b] = COLOUR_RGB[colour];
  const m = new Uint8Array(size * size);
  for (let p = 0; p < size * size; p++) {
    const i = p * 3;
    if (abs(px[i]! - r) <= TOLERANCE && abs(px[i + 1]! - g) <= TOLERANCE && abs(px[i + 2]! - b) <= TOLERANCE) m[p] = 1;
  }
  return m;
}

const count = (m: Uint8Array) => m.reduce((a, v) => a + v, 0);

/** Colours present in the image (at least 4 pixels). */
export function coloursIn(px: Uint8Array, size: number): Colour[] {
  return COLOURS.filter((c) => count(colourMask(px, size, c)) >= 4);
}

/** The shape drawn in `colour` (assumes one object of that colour), or null if absent. */
export function readShape(px: Uint8Array, size: number, colour: Colour): Shape | null {
  const m = colourMask(px, size, colour);
  const n = count(m);
  if (n === 0) return null;
  let x0 = size, x1 = -1, y0 = size, y1 = -1;
  for (let p = 0; p < m.length; p++) {
    if (!m[p]) continue;
    const x = p % size, y = (p / size) | 0;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  let best: Shape | null = null;
  let bestIou = -1;
  for (const shape of SHAPES) {
    for (const s of SIZES) {
      const r = RADIUS[s] * size;
      for (const dx of [-0.5, -0.25, 0, 0.25, 0.5]) {
        for (const dy of [-0.5, -0.25, 0, 0.25, 0.5]) {
          const cx = (x0 + x1 + 1) / 2 + dx;
          const cy = (y0 + y1 + 1) / 2 + dy;
          let inter = 0, total = 0;
          const ya = clampFloor(cy - r, size - 1), yb = clampFloor(cy + r + 1, size - 1);
          const xa = clampFloor(cx - r, size - 1), xb = clampFloor(cx + r + 1, size - 1);
          for (let y = ya; y <= yb; y++) {
            for (let x = xa; x <= xb; x++) {
              if (!insideShape(shape, (x + 0.5 - cx) / r, (y + 0.5 - cy) / r)) continue;
              total++;
              inter += m[y * size + x]!;
            }
          }
          const iou = inter / (n + total - inter);
          if (iou > bestIou) [bestIou, best] = [iou, shape];
        }
      }
    }
  }
  return best;
}
