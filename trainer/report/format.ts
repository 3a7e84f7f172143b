/** Number formatting shared by the HTML, Markdown and charts. */

/** A number with `digits` significant digits, without exponent for everyday magnitudes. */
export function fmtNum(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e6) {
    const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(a)));
    return v.toFixed(Math.min(decimals, 6));
  }
  return v.toPrecision(digits);
}

/** Counts with SI suffixes: 1.23 M, 4.5 G. */
export function fmtCount(v: number | null | undefined, unit = ''): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const suffixes: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [f, s] of suffixes) if (Math.abs(v) >= f) return `${fmtNum(v / f, 3)} ${s}${unit}`;
  return `${fmtNum(v, 3)}${unit ? ' ' + unit : ''}`;
}

/** Bytes in binary units: 1.5 MiB. */
export function fmtBytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = v;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${i === 0 ? x : fmtNum(x, 3)} ${units[i]}`;
}

/** Seconds as "1 h 02 min", "3 min 05 s" or "12.3 s". */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${fmtNum(seconds, 3)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : `${m} min ${String(r).padStart(2, '0')} s`;
}
