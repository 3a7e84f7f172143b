/**
 * The synthetic "shapes" world: a scene is 1–4 objects, each a shape of one colour and one size,
 * sitting in its own cell of a GRID×GRID layout (jittered inside the cell). Cells keep objects
 * apart, so counts are unambiguous and "left of"/"above" always have a visible answer when two
 * objects sit in different columns/rows. Everything here is pure and seeded.
 */
import type { Prng } from '../prng';

export const SHAPES = ['circle', 'square', 'triangle', 'diamond'] as const;
export const COLOURS = ['red', 'green', 'blue', 'yellow', 'white', 'gray'] as const;
export const SIZES = ['small', 'large'] as const;
export type Shape = (typeof SHAPES)[number];
export type Colour = (typeof COLOURS)[number];
export type Size = (typeof SIZES)[number];

/** RGB of each colour, chosen far apart (and far from the dark background) so a pixel's colour is unmistakable. */
export const COLOUR_RGB: Readonly<Record<Colour, readonly [number, number, number]>> = {
  red: [220, 40, 40],
  green: [40, 190, 60],
  blue: [50, 90, 235],
  yellow: [235, 215, 40],
  white: [245, 245, 245],
  gray: [128, 128, 128],
};
export const BACKGROUND_RGB = [20, 20, 28] as const;

/** Cells per side. 3×3 keeps a large object (diameter 0.32 of the image) inside its cell. */
export const GRID = 3;
/** Object radius as a fraction of the image side. */
export const RADIUS: Readonly<Record<Size, number>> = { small: 0.1, large: 0.16 };
export const MAX_OBJECTS = 4;

export interface SceneObject {
  readonly shape: Shape;
  readonly colour: Colour;
  readonly size: Size;
  /** Cell index row·GRID + col. */
  readonly cell: number;
  /** Centre in image-side units, [0, 1) (x to the right, y downwards). */
  readonly x: number;
  readonly y: number;
}

export interface Scene {
  readonly objects: readonly SceneObject[];
}

export type Relation = 'left' | 'right' | 'above' | 'below';
export const RELATIONS: readonly Relation[] = ['left', 'right', 'above', 'below'];

export const cellRow = (o: SceneObject): number => Math.floor(o.cell / GRID);
export const cellCol = (o: SceneObject): number => o.cell % GRID;

/** Attributes of an object before it is placed. */
export interface ObjectSpec {
  shape: Shape;
  colour: Colour;
  size: Size;
}

export function randomSpec(rng: Prng): ObjectSpec {
  return { shape: rng.pick(SHAPES), colour: rng.pick(COLOURS), size: rng.pick(SIZES) };
}

/** Places specs in distinct random cells, with a jitter that keeps each object inside its cell. */
export function placeObjects(rng: Prng, specs: readonly ObjectSpec[]): Scene {
  if (specs.length < 1 || specs.length > GRID * GRID) {
    throw new RangeError(`placeObjects: 1..${GRID * GRID} objects, got ${specs.length}`);
  }
  const cells = rng.shuffle(Array.from({ length: GRID * GRID }, (_, i) => i)).slice(0, specs.length);
  const half = 0.5 / GRID;
  const objects = specs.map((s, i) => {
    const cell = cells[i]!;
    const slack = Math.max(0, half - RADIUS[s.size] - 0.01);
    const x = (cell % GRID) / GRID + half + rng.uniform(-slack, slack);
    const y = Math.floor(cell / GRID) / GRID + half + rng.uniform(-slack, slack);
    return { ...s, cell, x, y };
  });
  return { objects };
}

/** A random scene of `n` objects (default: uniform 1..MAX_OBJECTS). */
export function randomScene(rng: Prng, n = 1 + rng.int(MAX_OBJECTS)): Scene {
  return placeObjects(rng, Array.from({ length: n }, () => randomSpec(rng)));
}

/**
 * The visible relation of `a` to `b` along the axis where their cells differ most: "a is left
 * of b" when a's column is smaller. Null when they share the cell (never, by construction).
 */
export function relationOf(a: SceneObject, b: SceneObject): Relation | null {
  const dc = cellCol(a) - cellCol(b);
  const dr = cellRow(a) - cellRow(b);
  if (dc === 0 && dr === 0) return null;
  if (Math.abs(dc) >= Math.abs(dr)) return dc < 0 ? 'left' : 'right';
  return dr < 0 ? 'above' : 'below';
}

/** Every relation that holds visibly between a and b (different column → left/right, different row → above/below). */
export function relationsOf(a: SceneObject, b: SceneObject): Relation[] {
  const out: Relation[] = [];
  if (cellCol(a) !== cellCol(b)) out.push(cellCol(a) < cellCol(b) ? 'left' : 'right');
  if (cellRow(a) !== cellRow(b)) out.push(cellRow(a) < cellRow(b) ? 'above' : 'below');
  return out;
}

export const INVERSE_RELATION: Readonly<Record<Relation, Relation>> = { left: 'right', right: 'left', above: 'below', below: 'above' };

/**
 * Canonical description of what the image shows (pixels are a function of it and of the
 * noise seed). Splits are routed by its hash, so two examples with the same scene always land
 * in the same split: train, val and test never share an image.
 */
export function sceneKey(scene: Scene): string {
  return scene.objects
    .map((o) => `${o.shape}:${o.colour}:${o.size}:${o.x.toFixed(4)}:${o.y.toFixed(4)}`)
    .sort()
    .join('|');
}
