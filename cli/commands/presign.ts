/**
 * Presigned HTTPS URLs of report objects (`amad report <runId> --url`), signed by the SDK's own
 * presigner with the caller's credentials. A URL signed with temporary credentials stops working
 * when they expire, whatever its X-Amz-Expires says, and SigV4 allows at most 7 days: the expiry
 * is capped at both, and the caller is told when it was shortened.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { parseS3Uri } from '../../contract/s3-storage';
import { UsageError } from './deps';

/** SigV4 query-string signatures are valid for at most 7 days. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
export const DEFAULT_EXPIRY = '1h';

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "30m", "1h", "7d" or plain seconds → seconds. @throws UsageError naming the flag */
export function parseExpiry(text: string): number {
  const m = /^\s*(\d+)\s*([smhd]?)\s*$/i.exec(text);
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[(m[2] || 's').toLowerCase()]! : NaN;
  if (!Number.isInteger(seconds) || seconds < 1) throw new UsageError(`--expires must be a duration like 15m, 1h or 2d (got "${text}")`);
  return seconds;
}

export interface PresignedUrl {
  readonly url: string;
  /** Seconds the URL is valid for. */
  readonly expiresIn: number;
  readonly expiresAt: Date;
  /** Why the requested expiry was shortened, when it was. */
  readonly shortenedBecause?: string;
}

/** A presigned GET URL of `s3://bucket/key` valid for `requestedSeconds` or as long as the credentials allow. */
export async function presignGetUrl(client: S3Client, uri: string, requestedSeconds: number, now: Date = new Date()): Promise<PresignedUrl> {
  const { bucket, key } = parseS3Uri(uri);
  let limit = MAX_PRESIGN_SECONDS;
  let reason = `S3 presigned URLs last at most ${MAX_PRESIGN_SECONDS / 86400} days`;
  const credentials = await client.config.credentials();
  if (credentials.expiration) {
    const left = Math.floor((credentials.expiration.getTime() - now.getTime()) / 1000);
    if (left < 1) throw new Error(`your AWS credentials expired at ${credentials.expiration.toISOString()}: refresh them (e.g. aws sso login) and retry`);
    if (left < limit) {
      limit = left;
      reason = `your AWS credentials expire at ${credentials.expiration.toISOString()} and the URL stops working with them`;
    }
  }
  const expiresIn = Math.min(requestedSeconds, limit);
  const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn, signingDate: now });
  return { url, expiresIn, expiresAt: new Date(now.getTime() + expiresIn * 1000), ...(expiresIn < requestedSeconds ? { shortenedBecause: reason } : {}) };
}
