/**
 * Opens a rendered report in headless Chromium (playwright-core, system Chromium) and checks it
 * the way a reader would: no console errors, every chart drawn with content, a screenshot for
 * humans in test-artifacts/report.png. Skipped, with the reason printed, when Chromium is absent.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, type BrowserContext } from 'playwright-core';
import { renderReport } from '../../../trainer/report';
import { makeReportFixture } from './fixture';

const CHROMIUM = process.env.AMAD_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', '..', '..', 'test-artifacts');
const hasChromium = fs.existsSync(CHROMIUM);

if (!hasChromium) {
  // Printed once at load so the skip is visible in the jest output, with what to do about it.
  console.warn(`[report browser test] SKIPPED: no Chromium at ${CHROMIUM} (install with "apt-get install -y chromium" or set AMAD_CHROMIUM)`);
}
const browserTest = hasChromium ? test : test.skip;

// Browser-side checks as expressions (the project's tsconfig has no DOM lib, on purpose).
interface ChartBox {
  title: string;
  width: number;
  height: number;
  /** Shapes (rect/path/circle/line) with a non-empty bounding box. */
  drawn: number;
}
const MEASURE_CHARTS = `[...document.querySelectorAll('svg.chart')].map((el) => {
  const box = el.getBoundingClientRect();
  const drawn = [...el.querySelectorAll('rect, path, circle, line')].filter((s) => { const b = s.getBBox(); return b.width > 0 || b.height > 0; }).length;
  return { title: el.querySelector('title')?.textContent ?? '', width: box.width, height: box.height, drawn };
})`;
const MEASURE_IMAGES = `[...document.querySelectorAll('img')].map((el) => ({ alt: el.getAttribute('alt') ?? '', loaded: el.naturalWidth > 0 }))`;

describe('report in headless Chromium', () => {
  let tmp: string;
  let context: BrowserContext | undefined;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amad-report-'));
  });

  afterAll(async () => {
    await context?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  browserTest('renders without console errors, every chart has content, screenshot saved', async () => {
    // GIVEN a report with a failed student written to a file
    const { html } = renderReport(makeReportFixture({ failStudent: true }));
    const file = path.join(tmp, 'index.html');
    fs.writeFileSync(file, html);

    // WHEN it is opened in a fresh Chromium profile
    context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
    await page.goto('file://' + file, { waitUntil: 'load' });

    // THEN no errors, and every chart and image has a real size
    expect(problems).toEqual([]);
    const charts = await page.evaluate<ChartBox[]>(MEASURE_CHARTS);
    expect(charts.length).toBe(2 + 4 * 2 + 1 + 2);
    for (const c of charts) {
      expect({ title: c.title, ok: c.width > 50 && c.height > 50 && c.drawn > 3 }).toEqual({ title: c.title, ok: true });
    }
    const images = await page.evaluate<{ alt: string; loaded: boolean }[]>(MEASURE_IMAGES);
    expect(images.length).toBeGreaterThan(0);
    expect(images.filter((i) => !i.loaded || i.alt === '')).toEqual([]);
    expect(await page.textContent('#results')).toContain('failed');
    expect(await page.textContent('#failures')).toContain('wasm heap exhausted at step 120');

    // On a phone-sized viewport the page itself must not scroll sideways (tables scroll in their box).
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'report.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'report-phone.png'), fullPage: false });

    // Printed on A4 portrait (~794 CSS px): no sideways overflow, the spec is printed whole.
    await page.emulateMedia({ media: 'print' });
    await page.setViewportSize({ width: 794, height: 1123 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBeLessThanOrEqual(0);
    expect(await page.evaluate<string>("getComputedStyle(document.querySelector('pre')).maxHeight")).toBe('none');
    expect(await page.evaluate<string>("getComputedStyle(document.querySelector('nav.toc')).display")).toBe('none');
  });
});
