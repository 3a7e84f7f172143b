/**
 * Hand-written inline SVG charts for the report: bars with error bars, line charts, heatmaps.
 * Every chart has a <title>/<desc> (role="img"), named axes with units, escaped text, and scales
 * to its container (viewBox, width 100%). Colours come from palette.ts (colour-blind safe);
 * line series also differ by dash pattern so they survive grey-scale printing.
 */
import { esc } from './escape';
import { fmtNum } from './format';
import { categorical, dash, textOnViridis, viridisCss } from './palette';

const FONT = 13;
/** Chart width in SVG units: small enough that text stays legible when a phone shrinks it. */
const CHART_WIDTH = 560;
/** Legend names longer than this are cut with "…"; ~7.5 units per character at FONT. */
const LEGEND_CHARS = 26;
const CHAR_WIDTH = 7.5;

interface ChartBase {
  /** Unique id prefix inside the page (for aria references). */
  readonly id: string;
  readonly title: string;
  /** One-sentence description for screen readers. */
  readonly desc: string;
  readonly xLabel: string;
  readonly yLabel: string;
}

interface Frame {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

const plotWidth = (f: Frame) => f.width - f.left - f.right;
const plotHeight = (f: Frame) => f.height - f.top - f.bottom;

/** "Nice" tick values (1, 2, 5 × 10^k steps) covering [min, max]. */
export function niceTicks(min: number, max: number, target = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - pad, max + pad, target);
  }
  const raw = (max - min) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  const first = Math.floor(min / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v < max + step - 1e-9 * step; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

/** Tick label: as many decimals as the tick step needs, no more. */
function fmtTick(v: number, ticks: readonly number[]): string {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : 1;
  if (step >= 1e6 || step < 1e-4) return fmtNum(v, 3);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(decimals);
}

function open(c: ChartBase, f: Frame, extraClass = ''): string {
  return (
    `<svg class="chart ${extraClass}" viewBox="0 0 ${f.width} ${f.height}" width="100%" role="img" ` +
    `aria-labelledby="${esc(c.id)}-title ${esc(c.id)}-desc" xmlns="http://www.w3.org/2000/svg" ` +
    `font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="${FONT}">` +
    `<title id="${esc(c.id)}-title">${esc(c.title)}</title><desc id="${esc(c.id)}-desc">${esc(c.desc)}</desc>` +
    `<text x="${f.width / 2}" y="18" text-anchor="middle" font-size="15" font-weight="600" fill="#222">${esc(c.title)}</text>`
  );
}

/** Axis lines, y grid/ticks and both axis titles (the x title at `xTitleY`, default the bottom line). */
function axes(c: ChartBase, f: Frame, yTicks: readonly number[], y: (v: number) => number, xTitleY = f.height - 6): string {
  const x0 = f.left;
  const x1 = f.width - f.right;
  const yBottom = f.height - f.bottom;
  let s = '';
  for (const t of yTicks) {
    const yy = y(t);
    s += `<line x1="${x0}" x2="${x1}" y1="${yy}" y2="${yy}" stroke="#ddd" stroke-width="1"/>`;
    s += `<text x="${x0 - 6}" y="${yy + 4}" text-anchor="end" fill="#333">${esc(fmtTick(t, yTicks))}</text>`;
  }
  s += `<line x1="${x0}" x2="${x0}" y1="${f.top}" y2="${yBottom}" stroke="#333"/>`;
  s += `<line x1="${x0}" x2="${x1}" y1="${yBottom}" y2="${yBottom}" stroke="#333"/>`;
  s += `<text x="${x0 + plotWidth(f) / 2}" y="${xTitleY}" text-anchor="middle" fill="#222">${esc(c.xLabel)}</text>`;
  const cy = f.top + plotHeight(f) / 2;
  s += `<text transform="translate(14 ${cy}) rotate(-90)" text-anchor="middle" fill="#222">${esc(c.yLabel)}</text>`;
  return s;
}

/** Splits a label into at most two lines of about `max` characters (the rest is cut with …). */
function wrapLabel(label: string, max: number): string[] {
  const words = label.split(/\s+/);
  const lines: string[] = [''];
  for (const w of words) {
    const cur = lines[lines.length - 1]!;
    if (cur === '' || (cur + ' ' + w).length <= max) lines[lines.length - 1] = cur === '' ? w : `${cur} ${w}`;
    else lines.push(w);
  }
  const out = lines.slice(0, 2).map((l) => (l.length > max ? l.slice(0, max - 1) + '…' : l));
  if (lines.length > 2) out[1] = out[1]!.slice(0, Math.max(0, max - 1)) + '…';
  return out;
}

export interface BarDatum {
  readonly label: string;
  readonly value: number;
  /** Half-length of the error bar (e.g. one std over seeds); omitted or 0 → no bar. */
  readonly err?: number;
}

export interface BarChartOptions extends ChartBase {
  readonly bars: readonly BarDatum[];
  /** Text under the chart's x-axis title, e.g. what the error bars mean. */
  readonly note?: string;
}

/** Vertical bars with ± error bars; the y-axis starts at 0 unless values go negative. */
export function barChart(o: BarChartOptions): string {
  const f: Frame = { width: CHART_WIDTH, height: 330, left: 64, right: 16, top: 34, bottom: o.note ? 80 : 64 };
  const lo = Math.min(0, ...o.bars.map((b) => b.value - (b.err ?? 0)));
  const hi = Math.max(...o.bars.map((b) => b.value + (b.err ?? 0)), lo + 1e-12);
  const ticks = niceTicks(lo, hi);
  const yMin = ticks[0]!;
  const yMax = ticks[ticks.length - 1]!;
  const y = (v: number) => f.top + plotHeight(f) * (1 - (v - yMin) / (yMax - yMin));
  const slot = plotWidth(f) / Math.max(1, o.bars.length);
  const bw = Math.min(64, slot * 0.6);
  let s = open(o, f) + axes(o, f, ticks, y, o.note ? f.height - 24 : f.height - 6);
  o.bars.forEach((b, i) => {
    const cx = f.left + slot * (i + 0.5);
    const top = y(Math.max(0, b.value));
    const h = Math.abs(y(b.value) - y(0));
    const err = b.err ?? 0;
    s += `<g><title>${esc(`${b.label}: ${fmtNum(b.value, 4)}${err > 0 ? ` ± ${fmtNum(err, 3)}` : ''}`)}</title>`;
    s += `<rect x="${cx - bw / 2}" y="${top}" width="${bw}" height="${Math.max(h, 0.5)}" fill="${categorical(i)}"/>`;
    if (err > 0) {
      const y1 = y(b.value - err);
      const y2 = y(b.value + err);
      s += `<path d="M${cx} ${y1}V${y2}M${cx - 7} ${y1}H${cx + 7}M${cx - 7} ${y2}H${cx + 7}" stroke="#111" stroke-width="1.5" fill="none"/>`;
    }
    const labelY = Math.min(y(b.value + err), top) - 5;
    s += `<text x="${cx}" y="${labelY}" text-anchor="middle" fill="#111">${esc(fmtNum(b.value, 3))}</text></g>`;
    wrapLabel(b.label, Math.max(6, Math.floor(slot / CHAR_WIDTH))).forEach((line, k) => {
      s += `<text x="${cx}" y="${f.height - f.bottom + 17 + k * 15}" text-anchor="middle" fill="#222">${esc(line)}</text>`;
    });
  });
  if (o.note) s += `<text x="${f.left + plotWidth(f) / 2}" y="${f.height - 6}" text-anchor="middle" fill="#555" font-size="11">${esc(o.note)}</text>`;
  return s + '</svg>';
}

export interface LineSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface LineChartOptions extends ChartBase {
  readonly series: readonly LineSeries[];
}

/** Line chart of one or more series over a shared numeric x-axis, legend above the plot. */
export function lineChart(o: LineChartOptions): string {
  const series = o.series.filter((s) => s.points.length > 0);
  // Legend entries: swatch (30 units) + name, as many per row as fit the plot width.
  const longest = Math.min(LEGEND_CHARS, Math.max(1, ...series.map((ser) => ser.name.length)));
  const spacing = 30 + longest * CHAR_WIDTH + 16;
  const perRow = Math.max(1, Math.floor((CHART_WIDTH - 64 - 20) / spacing));
  const legendRows = Math.ceil(series.length / perRow);
  const f: Frame = { width: CHART_WIDTH, height: 300 + legendRows * 18, left: 64, right: 20, top: 34 + legendRows * 20, bottom: 50 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xTicks = niceTicks(Math.min(...xs), Math.max(...xs));
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys));
  const [xMin, xMax] = [xTicks[0]!, xTicks[xTicks.length - 1]!];
  const [yMin, yMax] = [yTicks[0]!, yTicks[yTicks.length - 1]!];
  const x = (v: number) => f.left + (plotWidth(f) * (v - xMin)) / (xMax - xMin);
  const y = (v: number) => f.top + plotHeight(f) * (1 - (v - yMin) / (yMax - yMin));
  let s = open(o, f) + axes(o, f, yTicks, y);
  for (const t of xTicks) {
    s += `<line x1="${x(t)}" x2="${x(t)}" y1="${f.height - f.bottom}" y2="${f.height - f.bottom + 4}" stroke="#333"/>`;
    s += `<text x="${x(t)}" y="${f.height - f.bottom + 16}" text-anchor="middle" fill="#333">${esc(fmtTick(t, xTicks))}</text>`;
  }
  series.forEach((ser, i) => {
    const d = ser.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)} ${y(p[1]).toFixed(1)}`).join('');
    s += `<g><title>${esc(ser.name)}</title><path d="${d}" fill="none" stroke="${categorical(i)}" stroke-width="2" stroke-dasharray="${dash(i)}"/>`;
    if (ser.points.length <= 40) {
      for (const p of ser.points) s += `<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="2.5" fill="${categorical(i)}"/>`;
    }
    s += '</g>';
    const lx = f.left + (i % perRow) * spacing;
    const ly = 34 + Math.floor(i / perRow) * 20;
    s += `<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${categorical(i)}" stroke-width="2.5" stroke-dasharray="${dash(i)}"/>`;
    s += `<text x="${lx + 30}" y="${ly + 4}" fill="#222">${esc(ser.name.length > LEGEND_CHARS ? ser.name.slice(0, LEGEND_CHARS - 1) + '…' : ser.name)}</text>`;
  });
  return s + '</svg>';
}

export interface HeatmapOptions extends ChartBase {
  /** `[rows][cols]` values. */
  readonly matrix: readonly (readonly number[])[];
  /** Colour scale range. */
  readonly min: number;
  readonly max: number;
  /** Label of the colour legend, e.g. "a_ij (weight)". */
  readonly valueLabel: string;
  readonly rowLabel?: (i: number) => string;
  readonly colLabel?: (j: number) => string;
}

/** Matrix as coloured cells (viridis) with row/column labels, a colour legend and cell values when they fit. */
export function heatmap(o: HeatmapOptions): string {
  const rows = o.matrix.length;
  const cols = o.matrix[0]?.length ?? 0;
  const cell = Math.max(8, Math.min(40, Math.floor(300 / Math.max(rows, cols, 1))));
  const legendHeight = Math.max(60, rows * cell);
  const f: Frame = { width: 64 + cols * cell + 96, height: 34 + legendHeight + 48, left: 64, right: 96, top: 34, bottom: 48 };
  const span = o.max - o.min || 1;
  const unit = (v: number) => (v - o.min) / span;
  let s = open(o, f, 'heatmap');
  o.matrix.forEach((row, i) =>
    row.forEach((v, j) => {
      const t = unit(v);
      const cx = f.left + j * cell;
      const cy = f.top + i * cell;
      s += `<g><title>${esc(`${o.yLabel} ${o.rowLabel?.(i) ?? i}, ${o.xLabel} ${o.colLabel?.(j) ?? j}: ${fmtNum(v, 3)}`)}</title>`;
      s += `<rect x="${cx}" y="${cy}" width="${cell}" height="${cell}" fill="${viridisCss(t)}"/>`;
      if (cell >= 30) s += `<text x="${cx + cell / 2}" y="${cy + cell / 2 + 4}" text-anchor="middle" font-size="10" fill="${textOnViridis(t)}">${esc(v.toFixed(2))}</text>`;
      s += '</g>';
    }),
  );
  const labelEvery = Math.ceil(14 / cell);
  for (let i = 0; i < rows; i += labelEvery) s += `<text x="${f.left - 4}" y="${f.top + i * cell + cell / 2 + 4}" text-anchor="end" font-size="10" fill="#333">${esc(o.rowLabel?.(i) ?? String(i))}</text>`;
  for (let j = 0; j < cols; j += labelEvery) s += `<text x="${f.left + j * cell + cell / 2}" y="${f.top + rows * cell + 13}" text-anchor="middle" font-size="10" fill="#333">${esc(o.colLabel?.(j) ?? String(j))}</text>`;
  s += `<text x="${f.left + (cols * cell) / 2}" y="${f.height - 8}" text-anchor="middle" fill="#222">${esc(o.xLabel)}</text>`;
  s += `<text transform="translate(14 ${f.top + (rows * cell) / 2}) rotate(-90)" text-anchor="middle" fill="#222">${esc(o.yLabel)}</text>`;
  // Colour legend: a vertical gradient from min (bottom) to max (top).
  const lx = f.left + cols * cell + 16;
  const lh = legendHeight;
  const steps = 24;
  for (let k = 0; k < steps; k++) {
    s += `<rect x="${lx}" y="${f.top + (lh * k) / steps}" width="12" height="${lh / steps + 0.5}" fill="${viridisCss(1 - k / steps)}"/>`;
  }
  s += `<text x="${lx + 16}" y="${f.top + 9}" font-size="10" fill="#333">${esc(fmtNum(o.max, 2))}</text>`;
  s += `<text x="${lx + 16}" y="${f.top + lh}" font-size="10" fill="#333">${esc(fmtNum(o.min, 2))}</text>`;
  s += `<text transform="translate(${lx + 40} ${f.top + lh / 2}) rotate(90)" text-anchor="middle" font-size="10" fill="#333">${esc(o.valueLabel)}</text>`;
  return s + '</svg>';
}
