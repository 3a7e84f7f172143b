/**
 * One storage interface over `file://` (and plain local paths) and `s3://` URIs.
 * Every stage, the trainer's checkpoint IO and the data readers go through it, so the same code
 * runs on one machine (file://) and on AWS (s3://).
 *
 * Writes are atomic from a reader's point of view: `put` writes to a temporary name and renames
 * (file://) or uploads in one request / a multipart upload that only becomes visible when it
 * completes (s3://). Stage completion is signalled separately by a marker (contract/layout).
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';

export interface Storage {
  /** Whole object as bytes. @throws StorageNotFoundError when absent. */
  get(uri: string): Promise<Buffer>;
  /** Byte range [start, end) of an object (for reading one record of a large shard). */
  getRange(uri: string, start: number, end: number): Promise<Buffer>;
  /** Object as a stream (large objects). */
  getStream(uri: string): Promise<Readable>;
  /** Writes bytes atomically (readers see the old object or the whole new one). */
  put(uri: string, body: Buffer | Uint8Array | string): Promise<void>;
  /** Writes a stream atomically (multipart upload on S3). */
  putStream(uri: string, body: Readable): Promise<void>;
  /** True when the object exists. */
  exists(uri: string): Promise<boolean>;
  /** Object size in bytes. @throws StorageNotFoundError when absent. */
  size(uri: string): Promise<number>;
  /** URIs of all objects under a prefix (recursive), sorted. */
  list(prefixUri: string): Promise<string[]>;
  /** Deletes one object (no error when absent). */
  delete(uri: string): Promise<void>;
}

export class StorageNotFoundError extends Error {
  constructor(readonly uri: string) {
    super(`not found: ${uri}`);
    this.name = 'StorageNotFoundError';
  }
}

/** Joins URI segments with single slashes (`joinUri('s3://b/runs', 'x', 'y.json')`). */
export function joinUri(base: string, ...parts: string[]): string {
  let out = base.replace(/\/+$/, '');
  for (const p of parts) out += '/' + p.replace(/^\/+/, '').replace(/\/+$/, '');
  return out;
}

/** Normalises a local path or file:// URI to an absolute file:// URI; other schemes unchanged. */
export function toUri(pathOrUri: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUri)) return pathOrUri;
  return pathToFileURL(path.resolve(pathOrUri)).href;
}

export function isLocal(uri: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) || uri.startsWith('file://');
}

function localPath(uri: string): string {
  return uri.startsWith('file://') ? fileURLToPath(uri) : path.resolve(uri);
}

/** Local-folder storage for `file://` URIs and plain paths. */
export class FileStorage implements Storage {
  async get(uri: string): Promise<Buffer> {
    try {
      return await fs.readFile(localPath(uri));
    } catch (e) {
      throw notFoundOr(e, uri);
    }
  }

  async getRange(uri: string, start: number, end: number): Promise<Buffer> {
    let fh;
    try {
      fh = await fs.open(localPath(uri), 'r');
    } catch (e) {
      throw notFoundOr(e, uri);
    }
    try {
      const buf = Buffer.alloc(end - start);
      const { bytesRead } = await fh.read(buf, 0, end - start, start);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  async getStream(uri: string): Promise<Readable> {
    const p = localPath(uri);
    if (!(await this.exists(uri))) throw new StorageNotFoundError(uri);
    return createReadStream(p);
  }

  async put(uri: string, body: Buffer | Uint8Array | string): Promise<void> {
    const p = localPath(uri);
    await fs.mkdir(path.dirname(p), { recursive: true });
    const tmp = `${p}.tmp-${randomBytes(6).toString('hex')}`;
    await fs.writeFile(tmp, body);
    await fs.rename(tmp, p);
  }

  async putStream(uri: string, body: Readable): Promise<void> {
    const p = localPath(uri);
    await fs.mkdir(path.dirname(p), { recursive: true });
    const tmp = `${p}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await pipeline(body, createWriteStream(tmp));
      await fs.rename(tmp, p);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  }

  async exists(uri: string): Promise<boolean> {
    try {
      await fs.access(localPath(uri));
      return true;
    } catch {
      return false;
    }
  }

  async size(uri: string): Promise<number> {
    try {
      return (await fs.stat(localPath(uri))).size;
    } catch (e) {
      throw notFoundOr(e, uri);
    }
  }

  async list(prefixUri: string): Promise<string[]> {
    const root = localPath(prefixUri);
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (!/\.tmp-[0-9a-f]{12}$/.test(e.name)) out.push(pathToFileURL(full).href);
      }
    };
    await walk(root);
    return out.sort();
  }

  async delete(uri: string): Promise<void> {
    await fs.rm(localPath(uri), { force: true });
  }
}

function notFoundOr(e: unknown, uri: string): Error {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT' ? new StorageNotFoundError(uri) : (e as Error);
}

type StorageFactory = (uri: string) => Storage;
const factories = new Map<string, StorageFactory>();
const fileStorage = new FileStorage();

/** Registers the implementation for a URI scheme (the S3 module registers `s3`). */
export function registerStorage(scheme: string, factory: StorageFactory): void {
  factories.set(scheme, factory);
}

/** The storage that serves `uri` (file:// or a plain path → FileStorage). */
export function storageFor(uri: string): Storage {
  if (isLocal(uri)) return fileStorage;
  const scheme = uri.slice(0, uri.indexOf(':'));
  // The S3 module registers itself on load; load it on first use so callers need not import it
  // (and processes that only touch file:// never load the AWS SDK).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (scheme === 's3' && !factories.has('s3')) require('./s3-storage');
  const f = factories.get(scheme);
  if (!f) throw new Error(`no storage for "${scheme}://" URIs (${uri}); use file://, a local path or s3://`);
  return f(uri);
}
