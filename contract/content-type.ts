/**
 * The Content-Type stored with each object the storage writes, from its file extension. S3
 * serves an object with the type it was stored with; without one it serves
 * `application/octet-stream`, and a browser downloads the report instead of showing it.
 * Only the types this project writes are listed; anything else is stored as binary.
 */
const BY_EXTENSION: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  json: 'application/json',
  jsonl: 'application/x-ndjson',
  md: 'text/markdown; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  onnx: 'application/octet-stream',
  bin: 'application/octet-stream',
};

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** Content-Type of an object key or URI, from its last extension (case-insensitive). */
export function contentTypeFor(keyOrUri: string): string {
  const name = keyOrUri.slice(keyOrUri.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return DEFAULT_CONTENT_TYPE;
  return BY_EXTENSION[name.slice(dot + 1).toLowerCase()] ?? DEFAULT_CONTENT_TYPE;
}
