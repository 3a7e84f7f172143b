/**
 * The report's only stylesheet (inlined). Mobile first: one column, tables scroll sideways inside
 * their own box; wider screens get multi-column chart grids. Print: no backgrounds, no scroll
 * boxes, charts kept whole on a page.
 */
export const REPORT_CSS = `
:root { --fg: #1b1b1b; --muted: #555; --line: #d0d0d0; --bg: #fff; --panel: #f6f7f9; --ok: #006d2c; --bad: #b30000; --accent: #0072B2; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1280px; margin: 0 auto; padding: 12px 14px 40px; }
header.top { border-bottom: 3px solid var(--accent); margin-bottom: 12px; }
h1 { font-size: 1.45rem; margin: 8px 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.02rem; margin: 16px 0 6px; }
h4 { font-size: 0.92rem; margin: 10px 0 4px; }
.maps figure.input figcaption { font-weight: 600; }
p.note, .muted { color: var(--muted); font-size: 0.9rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
caption { text-align: left; padding: 6px 8px; color: var(--muted); caption-side: bottom; font-size: 0.85rem; }
th, td { padding: 6px 7px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; vertical-align: top; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td.text { white-space: normal; min-width: 12ch; }
tbody th[scope=row] { white-space: normal; min-width: 16ch; }
.kind { font-weight: normal; font-size: 0.85rem; }
thead th { background: var(--panel); position: sticky; top: 0; white-space: normal; min-width: 9ch; }
tr.failed td, tr.failed th { background: #fff3f3; }
.badge { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 0.8rem; font-weight: 600; border: 1px solid currentColor; }
.badge.ok { color: var(--ok); }
.badge.failed { color: var(--bad); }
.error { color: var(--bad); white-space: pre-wrap; overflow-wrap: anywhere; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.85rem; }
.grid { display: grid; grid-template-columns: 1fr; gap: 14px; }
figure { margin: 0; padding: 8px; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-size: 0.88rem; color: var(--muted); margin-top: 4px; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg.heatmap { max-width: 340px; margin: 0 auto; }
.maps { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; }
.maps figure { padding: 4px; border: none; }
.maps img { display: block; width: 96px; height: auto; image-rendering: crisp-edges; image-rendering: pixelated; border: 1px solid var(--line); }
.maps figcaption { font-size: 0.78rem; text-align: center; margin: 0; }
.sample { display: grid; grid-template-columns: 1fr; gap: 10px; padding: 10px; border: 1px solid var(--line); border-radius: 6px; margin-bottom: 10px; break-inside: avoid; page-break-inside: avoid; }
.sample img { width: 128px; height: auto; image-rendering: crisp-edges; image-rendering: pixelated; border: 1px solid var(--line); }
pre { background: var(--panel); padding: 10px; border-radius: 6px; overflow: auto; max-height: 480px; font-size: 0.82rem; }
a { color: var(--accent); }
nav.toc { font-size: 0.9rem; }
nav.toc a { margin-right: 10px; white-space: nowrap; }
@media (min-width: 760px) {
  main { padding: 20px 28px 48px; }
  .grid.two { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .grid.three { grid-template-columns: repeat(3, minmax(0, 1fr)); }
  .sample { grid-template-columns: 140px 1fr; }
}
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  .table-wrap { overflow: visible; border: none; }
  table { font-size: 8pt; }
  th, td { white-space: normal; padding: 3px 4px; }
  thead th { min-width: 0; }
  tbody th[scope=row] { min-width: 0; }
  thead th { position: static; }
  pre { max-height: none; overflow: visible; white-space: pre-wrap; }
  h2 { break-after: avoid; page-break-after: avoid; }
  figure, .sample, tr { break-inside: avoid; page-break-inside: avoid; }
  tr.failed td, tr.failed th { background: none; }
  a { color: inherit; text-decoration: none; }
  .grid.two, .grid.three { grid-template-columns: repeat(2, minmax(0, 1fr)); }
}
`;
