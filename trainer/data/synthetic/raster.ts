/**
 * Rasterises a scene by hand into RGB uint8 pixels `[S, S, 3]` (row-major, y downwards).
 * A pixel belongs to a shape when its centre lies inside it (no anti-aliasing: the few edge
 * pixels of a small object stay the object's exact colour, which keeps shapes readable at
 * 32×32). A small seeded noise (±NOISE levels) is added to every pixel so the model cannot key on
 * exact byte values.
 */
import { Prng } from '../prng';
import { BACKGROUND_RGB, COLOUR_RGB, RADIUS, type Scene, type Shape } from './world';

/** Half-width of the uniform per-channel noise, in 0..255 levels. */
export const NOISE = 6;

/** |v| without Math.abs: this runs per pixel, and Math builtins are ~40× slower inside jest's sandbox. */
const abs = (v: number): number => (v < 0 ? -v : v);

/** True when (dx, dy) (offset from the centre, in radii) lies inside the shape. */
export function insideShape(shape: Shape, dx: number, dy: number): boolean {
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= 1;
    case 'square':
      // 0.85 r half-side: the square's area (2.9 r²) stays close to the circle's (3.1 r²).
      return abs(dx) <= 0.85 && abs(dy) <= 0.85;
    case 'diamond':
      return abs(dx) + abs(dy) <= 1;
    case 'triangle':
      // Isosceles, apex up at dy = −1, base at dy = +1 with half-width 1.
      return dy <= 1 && abs(dx) <= (dy + 1) / 2;
  }
}

/** Byte → noise offset in −NOISE..NOISE (⌊b·(2·NOISE+1)/256⌋ − NOISE: each offset from 19 or 20 of the 256 bytes). */
const NOISE_OF_BYTE = Int8Array.from({ length: 256 }, (_, b) => ((b * (2 * NOISE + 1)) >> 8) - NOISE);

/** Renders `scene` at side `size`; `noiseSeed` fixes the noise. Returns `[size, size, 3]` uint8. */
export function renderScene(scene: Scene, size: number, noiseSeed: number): Uint8Array {
  const px = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) {
    px[i * 3] = BACKGROUND_RGB[0];
    px[i * 3 + 1] = BACKGROUND_RGB[1];
    px[i * 3 + 2] = BACKGROUND_RGB[2];
  }
  for (const o of scene.objects) {
    const r = RADIUS[o.size] * size; // radius in pixels
    const [cr, cg, cb] = COLOUR_RGB[o.colour];
    const cx = o.x * size;
    const cy = o.y * size;
    const y0 = Math.max(0, Math.floor(cy - r));
    const y1 = Math.min(size - 1, Math.ceil(cy + r));
    const x0 = Math.max(0, Math.floor(cx - r));
    const x1 = Math.min(size - 1, Math.ceil(cx + r));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        if (!insideShape(o.shape, (x + 0.5 - cx) / r, (y + 0.5 - cy) / r)) continue;
        const i = (y * size + x) * 3;
        px[i] = cr;
        px[i + 1] = cg;
        px[i + 2] = cb;
      }
    }
  }
  // One uint32 draw gives the noise of a whole pixel: three bytes, each mapped to −NOISE..NOISE.
  // Stores go through a clamped view so a colour near 0 or 255 saturates instead of wrapping.
  const clamped = new Uint8ClampedArray(px.buffer);
  const rng = new Prng(noiseSeed);
  for (let i = 0; i < size * size * 3; i += 3) {
    const u = rng.nextUint32();
    clamped[i] = px[i]! + NOISE_OF_BYTE[u & 0xff]!;
    clamped[i + 1] = px[i + 1]! + NOISE_OF_BYTE[(u >>> 8) & 0xff]!;
    clamped[i + 2] = px[i + 2]! + NOISE_OF_BYTE[(u >>> 16) & 0xff]!;
  }
  return px;
}
