/**
 * Reviewing reports in S3 (issue 17) against a real S3 HTTP server (s3rver): Content-Type stored
 * with every object, presigned report URLs, `--download`, `--open`, the runs index with two runs
 * finishing at once, `amad runs`, and the index page and a presigned report in headless Chromium.
 */
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHmac, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { parseExpiry, presignGetUrl, MAX_PRESIGN_SECONDS } from '../../cli/commands/presign';
import { reportCommand } from '../../cli/commands/report';
import { runsCommand } from '../../cli/commands/runs';
import { commitStage, runLayout, runUriFor, Stage } from '../../contract/layout';
import { s3ConfigFromEnv } from '../../contract/s3-storage';
import { parseJobSpec } from '../../contract/spec';
import { storageFor } from '../../contract/storage';
import { renderReport } from '../../trainer/report';
import { parseReportData } from '../../trainer/report/schema';
import { RunsIndexSchema } from '../../trainer/report/runs-index';
import { recordRunInIndex } from '../../trainer/stages/runs-index';
import { useLocalS3 } from '../helpers/local-s3';
import { makeReportFixture } from '../trainer/report/fixture';
import { testDeps } from './fixtures/deps';
import { tinySpec } from './fixtures/tiny-spec';

const BUCKET = 'review-bucket';
const ROOT = `s3://${BUCKET}`;
const s3 = useLocalS3([BUCKET]);
const client = () => new S3Client(s3ConfigFromEnv());
const deps = (extra: Partial<ReturnType<typeof testDeps>> = {}) => {
  const d = testDeps({ env: { AMAD_ARTIFACT_ROOT: ROOT } });
  return Object.assign(d, { now: () => new Date() }, extra); // a real clock: s3rver checks the URL's expiry
};
const contentTypeOf = async (key: string) => (await client().send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ContentType;

/** A finished run in storage: spec, Validate marker, the three report files and some other run objects. */
async function writeFinishedRun(root: string, runId: string): Promise<{ html: string }> {
  const runUri = runUriFor(root, runId);
  const layout = runLayout(runUri);
  const put = (uri: string, body: string) => storageFor(uri).put(uri, body);
  await put(layout.spec, JSON.stringify(parseJobSpec({ ...tinySpec(), runId })));
  await commitStage(runUri, Stage.validate, ['spec.json']);
  const data = parseReportData({ ...makeReportFixture(), runId });
  const rendered = renderReport(data);
  await put(layout.reportIndex, rendered.html);
  await put(layout.reportMetrics, rendered.metricsJson);
  await put(layout.reportSummary, rendered.summaryMd);
  await put(`${runUri}/models/teacher/model.json`, '{}');
  await put(`${runUri}/eval/teacher.json`, '{}');
  return { html: rendered.html };
}

describe('Content-Type on every object the storage writes', () => {
  test('put and multipart putStream store the type of the extension; S3 serves it back', async () => {
    const storage = storageFor(ROOT);
    const cases: [string, string][] = [
      ['runs/ct/report/index.html', 'text/html; charset=utf-8'],
      ['runs/ct/report/metrics.json', 'application/json'],
      ['runs/ct/report/summary.md', 'text/markdown; charset=utf-8'],
      ['runs/ct/models/teacher/train-log.jsonl', 'application/x-ndjson'],
      ['runs/ct/data/train/shard-00000.bin', 'application/octet-stream'],
      ['runs/ct/_stages/report/_SUCCESS', 'application/octet-stream'],
    ];
    for (const [key] of cases) await storage.put(`${ROOT}/${key}`, 'x');
    await storage.putStream(`${ROOT}/runs/ct/report/big.html`, Readable.from([Buffer.alloc(6 * 1024 * 1024, 'a'), Buffer.alloc(1024, 'b')]));
    for (const [key, type] of [...cases, ['runs/ct/report/big.html', 'text/html; charset=utf-8'] as [string, string]]) {
      expect({ key, type: await contentTypeOf(key) }).toEqual({ key, type });
    }
  });
});

/** SigV4 query signature of a presigned GET, recomputed from the AWS specification (not the SDK). */
function expectedSignature(url: URL, secret: string, region: string): string {
  const params = [...url.searchParams].filter(([k]) => k !== 'X-Amz-Signature');
  const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = params.map(([k, v]) => [enc(k), enc(v)]).sort(([a], [b]) => (a! < b! ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
  const canonical = ['GET', url.pathname, query, `host:${url.host}`, '', 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const date = url.searchParams.get('X-Amz-Date')!;
  const scope = `${date.slice(0, 8)}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date.slice(0, 8)), region), 's3'), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex');
}

describe('presigned URLs', () => {
  const now = new Date('2026-12-01T10:00:00Z');
  const fixed = (expiration?: Date) =>
    new S3Client({ region: 'eu-west-1', credentials: async () => ({ accessKeyId: 'AKIDFIXED', secretAccessKey: 'fixed-secret', sessionToken: 'session-token', ...(expiration ? { expiration } : {}) }) });

  test('a fixed credential provider yields a SigV4 URL for the right key with the requested expiry', async () => {
    const signed = await presignGetUrl(fixed(new Date(now.getTime() + 6 * 3600e3)), 's3://my-bucket/runs/r1/report/index.html', 900, now);
    const url = new URL(signed.url);
    expect(url.protocol).toBe('https:');
    expect(url.host).toBe('my-bucket.s3.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/runs/r1/report/index.html');
    expect(Object.fromEntries([...url.searchParams].filter(([k]) => k !== 'X-Amz-Signature' && k !== 'x-id'))).toEqual({
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD',
      'x-amz-checksum-mode': 'ENABLED', // the SDK asks GetObject for checksums; part of the signed query
      'X-Amz-Credential': 'AKIDFIXED/20261201/eu-west-1/s3/aws4_request',
      'X-Amz-Date': '20261201T100000Z',
      'X-Amz-Expires': '900',
      'X-Amz-Security-Token': 'session-token',
      'X-Amz-SignedHeaders': 'host',
    });
    expect(url.searchParams.get('X-Amz-Signature')).toBe(expectedSignature(url, 'fixed-secret', 'eu-west-1'));
    expect(signed).toMatchObject({ expiresIn: 900, expiresAt: new Date('2026-12-01T10:15:00Z') });
    expect(signed.shortenedBecause).toBeUndefined();
  });

  test('the expiry is capped at the credentials\' expiration and at 7 days, and says so', async () => {
    const soon = await presignGetUrl(fixed(new Date(now.getTime() + 1800e3)), 's3://b/k.html', 3600, now);
    expect(soon.expiresIn).toBe(1800);
    expect(new URL(soon.url).searchParams.get('X-Amz-Expires')).toBe('1800');
    expect(soon.shortenedBecause).toMatch(/credentials expire at 2026-12-01T10:30:00\.000Z/);
    const long = await presignGetUrl(fixed(), 's3://b/k.html', parseExpiry('10d'), now);
    expect(long.expiresIn).toBe(MAX_PRESIGN_SECONDS);
    expect(long.shortenedBecause).toMatch(/at most 7 days/);
    await expect(presignGetUrl(fixed(new Date(now.getTime() - 1000)), 's3://b/k.html', 60, now)).rejects.toThrow(/credentials expired .*refresh them/);
  });

  test('--expires accepts s/m/h/d and refuses anything else naming the flag', () => {
    expect([parseExpiry('90s'), parseExpiry('15m'), parseExpiry('1h'), parseExpiry('2d'), parseExpiry('600')]).toEqual([90, 900, 3600, 172800, 600]);
    expect(() => parseExpiry('1 week')).toThrow(/--expires must be a duration like 15m, 1h or 2d \(got "1 week"\)/);
    expect(() => parseExpiry('0h')).toThrow(/--expires/);
  });
});

describe('amad report against the local S3 server', () => {
  let html: string;
  beforeAll(async () => {
    ({ html } = await writeFinishedRun(ROOT, 'run-s3'));
  });

  // s3rver does not verify query signatures (a tampered URL is served too): the signature itself is
  // checked above against the SigV4 specification.
  test('--url prints one presigned URL that serves the report as HTML', async () => {
    const d = deps();
    expect(await reportCommand({ runId: 'run-s3', url: true, expires: '15m' }, d)).toBe(0);
    expect(d.stdout).toHaveLength(1);
    const url = d.stdout[0]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/review-bucket\/runs\/run-s3\/report\/index\.html\?.*X-Amz-Expires=900/);
    expect(d.stderr.join('\n')).toMatch(/valid until /);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toBe(html);
  });

  test('--download fetches exactly the report objects; --open opens the local copy', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amad-download-'));
    try {
      const opened: string[] = [];
      const d = deps({ openTarget: async (t: string) => void opened.push(t) });
      expect(await reportCommand({ runId: 'run-s3', download: dir, open: true }, d)).toBe(0);
      expect(fs.readdirSync(dir).sort()).toEqual(['index.html', 'metrics.json', 'summary.md']);
      expect(fs.readFileSync(path.join(dir, 'index.html'), 'utf8')).toBe(html);
      expect(d.stdout.map((f) => path.relative(dir, f)).sort()).toEqual(['index.html', 'metrics.json', 'summary.md']);
      expect(opened).toEqual([path.join(dir, 'index.html')]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--open without --download opens the presigned URL', async () => {
    const opened: string[] = [];
    const d = deps({ openTarget: async (t: string) => void opened.push(t) });
    expect(await reportCommand({ runId: 'run-s3', open: true }, d)).toBe(0);
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatch(/\/review-bucket\/runs\/run-s3\/report\/index\.html\?.*X-Amz-Signature=[0-9a-f]{64}/);
    expect((await fetch(opened[0]!)).status).toBe(200);
  });

  test('--expires without --url or --open is a usage error', async () => {
    await expect(reportCommand({ runId: 'run-s3', expires: '1h' }, deps())).rejects.toThrow(/--expires applies to --url/);
  });
});

describe('the runs index with two runs finishing at once', () => {
  /**
   * Forces the interleaving that loses a row in a read-modify-write index: run A reads the rows
   * before run B's row exists and writes the index only after B has finished writing its own.
   */
  async function finishConcurrently(root: string): Promise<void> {
    await writeFinishedRun(root, 'run-a');
    await writeFinishedRun(root, 'run-b');
    let aHasRead!: () => void;
    const aRead = new Promise<void>((r) => (aHasRead = r));
    let releaseA!: () => void;
    const aMayWrite = new Promise<void>((r) => (releaseA = r));
    let first = true;
    const a = recordRunInIndex(runUriFor(root, 'run-a'), 'succeeded', {
      beforeIndexWrite: async () => {
        if (!first) return;
        first = false;
        aHasRead();
        await aMayWrite;
      },
    });
    await aRead;
    await recordRunInIndex(runUriFor(root, 'run-b'), 'succeeded');
    releaseA();
    await a;
  }

  test.each([
    ['the local S3 server', () => `s3://${BUCKET}/concurrent`],
    ['a local folder', () => fs.mkdtempSync(path.join(s3.tmp, 'runs-root-'))],
  ])('on %s: both runs are in index.json and index.html, and amad runs lists both', async (_name, rootOf) => {
    const root = rootOf();
    await finishConcurrently(root);
    const runsUri = `${root.startsWith('s3://') ? root : pathToFileURL(root).href}/runs`;
    const index = RunsIndexSchema.parse(JSON.parse((await storageFor(runsUri).get(`${runsUri}/index.json`)).toString()));
    expect(index.runs.map((r) => [r.runId, r.status, r.link]).sort()).toEqual([
      ['run-a', 'succeeded', 'run-a/report/index.html'],
      ['run-b', 'succeeded', 'run-b/report/index.html'],
    ]);
    const page = (await storageFor(runsUri).get(`${runsUri}/index.html`)).toString();
    expect(page).toContain('href="run-a/report/index.html"');
    expect(page).toContain('href="run-b/report/index.html"');
    const d = deps();
    expect(await runsCommand({ root }, d)).toBe(0);
    expect(d.stdout.slice(2).map((l) => l.split(/\s+/)[0]).sort()).toEqual(['run-a', 'run-b']);
    if (root.startsWith('s3://')) expect(await contentTypeOf('concurrent/runs/index.html')).toBe('text/html; charset=utf-8');
  });
});

const CHROMIUM = process.env.AMAD_CHROMIUM ?? '/usr/bin/chromium';
const browserTest = fs.existsSync(CHROMIUM) ? test : test.skip;
if (!fs.existsSync(CHROMIUM)) console.warn(`[review browser tests] SKIPPED: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set AMAD_CHROMIUM)`);

describe('in headless Chromium', () => {
  let context: BrowserContext | undefined;
  let profile: string;
  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) return;
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'amad-review-browser-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await context?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  browserTest('the runs index page opens, sorts, and its link reaches the report', async () => {
    const root = fs.mkdtempSync(path.join(s3.tmp, 'browser-root-'));
    await writeFinishedRun(root, 'run-x');
    await recordRunInIndex(runUriFor(root, 'run-x'), 'succeeded');
    await writeFinishedRun(root, 'run-y');
    await recordRunInIndex(runUriFor(root, 'run-y'), 'running');
    const page = await context!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    await page.goto(pathToFileURL(path.join(root, 'runs', 'index.html')).href);
    expect(await page.locator('tbody tr').count()).toBe(2);
    // Sorting by run id (click twice: descending) reorders the rows in the page.
    await page.locator('th button', { hasText: 'Run' }).first().click();
    expect(await page.locator('tbody tr').first().getAttribute('data-run')).toBe('run-x');
    await page.locator('th button', { hasText: 'Run' }).first().click();
    expect(await page.locator('tbody tr').first().getAttribute('data-run')).toBe('run-y');
    await page.locator('tr[data-run="run-x"] a', { hasText: 'report' }).click();
    await page.waitForLoadState('load');
    expect(page.url()).toBe(pathToFileURL(path.join(root, 'runs', 'run-x', 'report', 'index.html')).href);
    expect(await page.locator('svg.chart').count()).toBeGreaterThan(0);
    expect(problems).toEqual([]); // the inline sort script runs under the page's CSP
    await page.close();
  });

  browserTest('a presigned report URL from the local S3 server opens as a page, not a download', async () => {
    await writeFinishedRun(ROOT, 'run-browser');
    const d = deps();
    expect(await reportCommand({ runId: 'run-browser', url: true }, d)).toBe(0);
    const page = await context!.newPage();
    const response = await page.goto(d.stdout[0]!);
    expect(response?.status()).toBe(200);
    expect(await page.title()).toMatch(/run-browser/);
    expect(await page.locator('svg.chart').count()).toBeGreaterThan(0);
    await page.close();
  });
});
