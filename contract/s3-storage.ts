/**
 * Storage for `s3://bucket/key` URIs on @aws-sdk/client-s3. Importing this module registers it
 * for the `s3` scheme (contract/storage.ts `storageFor` loads it on first use).
 *
 * Configuration from the environment, so tests and S3-compatible servers need no code change:
 * - `AMAD_S3_ENDPOINT`: endpoint URL (e.g. `http://127.0.0.1:4568` for s3rver); implies
 *   path-style addressing unless `AMAD_S3_FORCE_PATH_STYLE=0`.
 * - the usual AWS variables (region, credentials) through the SDK's default chain.
 * Every object is written with the Content-Type of its extension (contract/content-type.ts), so a
 * presigned report URL opens in a browser instead of downloading.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { contentTypeFor } from './content-type';
import { scratchTaggingFor } from './scratch-tag';
import { registerStorage, StorageNotFoundError, type Storage } from './storage';

/** Bodies above this size go through a multipart `Upload` (parallel parts, retried per part). */
const SINGLE_PUT_LIMIT = 16 * 1024 * 1024;

export interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

/** Splits `s3://bucket/some/key` into bucket and key. @throws Error naming the URI */
export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: "${uri}" (expected s3://bucket/key)`);
  return { bucket: m[1], key: m[2] };
}

/** S3 client options from the environment (AMAD_S3_ENDPOINT, AMAD_S3_FORCE_PATH_STYLE). */
export function s3ConfigFromEnv(env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = env.AMAD_S3_ENDPOINT;
  if (!endpoint) return {};
  return {
    endpoint,
    forcePathStyle: env.AMAD_S3_FORCE_PATH_STYLE !== '0',
    // S3-compatible test servers need some region; the SDK refuses to sign without one.
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
  };
}

function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e instanceof NoSuchKey || e instanceof NotFound || err?.name === 'NoSuchKey' || err?.name === 'NotFound' || err?.$metadata?.httpStatusCode === 404;
}

export class S3Storage implements Storage {
  constructor(readonly client: S3Client = new S3Client(s3ConfigFromEnv())) {}

  async get(uri: string): Promise<Buffer> {
    const stream = await this.getStream(uri);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
    return Buffer.concat(chunks);
  }

  async getRange(uri: string, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    const { bucket, key } = parseS3Uri(uri);
    try {
      // HTTP ranges are inclusive: [start, end) is bytes=start-(end-1).
      const r = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      if (isNotFound(e)) throw new StorageNotFoundError(uri);
      // A range starting past the end is "416 InvalidRange"; the file storage returns no bytes.
      if ((e as { name?: string }).name === 'InvalidRange') return Buffer.alloc(0);
      throw e;
    }
  }

  async getStream(uri: string): Promise<Readable> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return r.Body as Readable;
    } catch (e) {
      throw isNotFound(e) ? new StorageNotFoundError(uri) : e;
    }
  }

  async put(uri: string, body: Buffer | Uint8Array | string): Promise<void> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    if (bytes.byteLength > SINGLE_PUT_LIMIT) return this.upload(uri, bytes);
    const { bucket, key } = parseS3Uri(uri);
    await this.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentLength: bytes.byteLength, ContentType: contentTypeFor(key), Tagging: scratchTaggingFor(key) }),
    );
  }

  async putStream(uri: string, body: Readable): Promise<void> {
    return this.upload(uri, body);
  }

  /** Multipart upload: the object appears only when CompleteMultipartUpload succeeds (atomic for readers). */
  private async upload(uri: string, body: Readable | Uint8Array): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    await new Upload({ client: this.client, params: { Bucket: bucket, Key: key, Body: body, ContentType: contentTypeFor(key), Tagging: scratchTaggingFor(key) } }).done();
  }

  async exists(uri: string): Promise<boolean> {
    try {
      await this.head(uri);
      return true;
    } catch (e) {
      if (e instanceof StorageNotFoundError) return false;
      throw e;
    }
  }

  async size(uri: string): Promise<number> {
    return (await this.head(uri)).ContentLength ?? 0;
  }

  private async head(uri: string) {
    const { bucket, key } = parseS3Uri(uri);
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (e) {
      throw isNotFound(e) ? new StorageNotFoundError(uri) : e;
    }
  }

  /**
   * Recursive listing without `Delimiter`: besides being what the interface promises, s3rver's
   * Delimiter listing drops CommonPrefixes on levels that hold only sub-prefixes (AWS-NOTES).
   * A prefix `runs/a` lists `runs/a/...` only (not `runs/ab...`): a trailing slash is implied,
   * as for a folder.
   */
  async list(prefixUri: string): Promise<string[]> {
    const { bucket, key } = parseS3Uri(prefixUri);
    const prefix = key === '' || key.endsWith('/') ? key : key + '/';
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key) out.push(`s3://${bucket}/${o.Key}`);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  async delete(uri: string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }
}

let shared: S3Storage | undefined;
/** One client per process (connection reuse); created on first use so env changes before it count. */
registerStorage('s3', () => (shared ??= new S3Storage()));

/** Drops the shared client (tests that change AMAD_S3_ENDPOINT between suites). */
export function resetS3StorageForTests(): void {
  shared?.client.destroy();
  shared = undefined;
}
