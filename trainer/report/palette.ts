/**
 * Colours that stay distinguishable under the common colour-vision deficiencies.
 * Categorical: Okabe & Ito (2008), "Color Universal Design". Sequential: viridis (matplotlib),
 * perceptually uniform and readable in grey-scale print; approximated by 9 control points.
 */

export const CATEGORICAL = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#000000', '#F0E442'] as const;

/** Dash patterns paired with the categorical colours, so series differ without colour too. */
export const DASHES = ['', '6 3', '2 3', '8 3 2 3', '1 2', '10 4', '4 4', '3 1'] as const;

export function categorical(i: number): string {
  return CATEGORICAL[i % CATEGORICAL.length]!;
}

export function dash(i: number): string {
  return DASHES[i % DASHES.length]!;
}

const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

/** Viridis colour of t ∈ [0, 1] (clamped) as [r, g, b] bytes. */
export function viridisRgb(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const f = x - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [0, 1, 2].map((c) => Math.round(a[c]! + (b[c]! - a[c]!) * f)) as [number, number, number];
}

export function viridisCss(t: number): string {
  const [r, g, b] = viridisRgb(t);
  return `rgb(${r},${g},${b})`;
}

/** Black or white text, whichever reads better on viridis(t). */
export function textOnViridis(t: number): string {
  return t > 0.55 ? '#000' : '#fff';
}
