/**
 * `amad report <runId>`: the run's report (or, for a failed run, its failure record).
 * - no flag: where it is (local paths or S3 URIs);
 * - `--url [--expires 1h]`: a URL a browser opens: presigned HTTPS for S3 (cli/commands/presign.ts),
 *   file:// for a local run. The report is one self-contained HTML object, so one URL shows it all;
 * - `--download <dir>`: the report folder (index.html, metrics.json, summary.md) copied to `dir`;
 * - `--open`: opens it in the default browser (the downloaded copy, the local file, or the URL).
 */
import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import open from 'open';
import { runLayout, runUriFor } from '../../contract/layout';
import { S3Storage } from '../../contract/s3-storage';
import { isLocal, storageFor } from '../../contract/storage';
import { artifactRoot, UsageError, type CommandDeps } from './deps';
import { DEFAULT_EXPIRY, parseExpiry, presignGetUrl } from './presign';

export interface ReportArgs {
  readonly runId: string;
  /** Folder or s3:// prefix holding `runs/`. @default AMAD_ARTIFACT_ROOT or "." */
  readonly root?: string;
  /** Print a URL that a browser opens (presigned for S3). */
  readonly url?: boolean;
  /** Validity of a presigned URL, e.g. "1h". @default "1h" */
  readonly expires?: string;
  /** Copy the report folder into this local folder. */
  readonly download?: string;
  /** Open the report in the default browser. */
  readonly open?: boolean;
}

const shown = (uri: string) => (isLocal(uri) ? fileURLToPath(uri) : uri);

/**
 * What the report command points at: the report, or (with --url/--download/--open) the failure
 * record of a run that has none, so the command in a failure notification opens something.
 */
async function target(runUri: string, runId: string, deps: CommandDeps, failureRecordOk: boolean): Promise<{ page: string; folder: string | null; files: string[] } | null> {
  const layout = runLayout(runUri);
  if (await storageFor(layout.reportIndex).exists(layout.reportIndex)) {
    return { page: layout.reportIndex, folder: layout.reportDir, files: [layout.reportIndex, layout.reportMetrics, layout.reportSummary] };
  }
  if (await storageFor(layout.failure).exists(layout.failure)) {
    deps.err(`run ${runId} failed before its report: see ${shown(layout.failure)}`);
    return failureRecordOk ? { page: layout.failure, folder: null, files: [layout.failure] } : null;
  }
  deps.err(`no report for run ${runId} at ${shown(runUri)} yet: check it with \`amad status ${runId}\``);
  return null;
}

/** Copies every object under `folder` (or the single `page`) into `dir`, keeping relative paths. Returns the local files. */
async function download(folder: string | null, page: string, dir: string): Promise<string[]> {
  const sources = folder ? await storageFor(folder).list(folder) : [page];
  const base = (folder ?? page.slice(0, page.lastIndexOf('/'))).replace(/\/+$/, '') + '/';
  const written: string[] = [];
  for (const uri of sources) {
    const rel = uri.slice(base.length);
    const file = path.resolve(dir, ...rel.split('/'));
    await fs.mkdir(path.dirname(file), { recursive: true });
    await pipeline(await storageFor(uri).getStream(uri), createWriteStream(file));
    written.push(file);
  }
  return written;
}

export async function reportCommand(args: ReportArgs, deps: CommandDeps): Promise<number> {
  if (args.expires !== undefined && !args.url && !args.open) throw new UsageError('--expires applies to --url (or --open of an S3 report): add --url');
  const expiresSeconds = parseExpiry(args.expires ?? DEFAULT_EXPIRY);
  const runUri = runUriFor(artifactRoot(args.root, deps.env), args.runId);
  const t = await target(runUri, args.runId, deps, Boolean(args.url || args.download || args.open));
  if (!t) return 1;

  let localPage: string | null = isLocal(t.page) ? fileURLToPath(t.page) : null;
  if (args.download) {
    const files = await download(t.folder, t.page, args.download);
    files.forEach((f) => deps.out(f));
    localPage = path.resolve(args.download, t.page.slice(t.page.lastIndexOf('/') + 1));
  }
  let url: string | null = null;
  if (args.url || (args.open && !localPage)) {
    if (isLocal(t.page)) url = pathToFileURL(fileURLToPath(t.page)).href;
    else {
      const storage = storageFor(t.page);
      if (!(storage instanceof S3Storage)) throw new Error(`cannot presign ${t.page}: only s3:// reports have presigned URLs`);
      const signed = await presignGetUrl(storage.client, t.page, expiresSeconds, deps.now());
      if (signed.shortenedBecause) deps.err(`note: the URL is valid for ${signed.expiresIn} s, not the ${expiresSeconds} s asked for: ${signed.shortenedBecause}`);
      deps.err(`valid until ${signed.expiresAt.toISOString()}; anyone with the URL can read this one object until then`);
      url = signed.url;
    }
    if (args.url) deps.out(url);
  }
  if (!args.url && !args.download) t.files.forEach((uri) => deps.out(shown(uri)));
  if (args.open) await (deps.openTarget ?? openInBrowser)(localPage ?? url!);
  return 0;
}

/** The default browser via the `open` package (xdg-open, open, start). */
async function openInBrowser(target: string): Promise<void> {
  await open(target, { wait: false });
}
