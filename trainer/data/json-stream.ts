/**
 * Streaming reads of the large JSON inputs (VQA v2 annotations are ~330 MB, Karpathy's
 * dataset_coco.json ~150 MB): stream-json tokenises the file as it is read and only one element
 * of the wanted top-level array is ever assembled, so memory does not grow with the file.
 *
 * Errors name the file: malformed JSON gives the line and column (stream-json does not report
 * positions, so for a file of at most EXACT_POSITION_BYTES the reader re-parses it to locate the
 * error; a bigger file reports the byte range being read when the parser failed).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { chain } from 'stream-chain';
import { parser } from 'stream-json';
import { pick } from 'stream-json/filters/Pick';
import { streamArray } from 'stream-json/streamers/StreamArray';
import { storageFor, StorageNotFoundError } from '../../contract/storage';
import { DataError } from './errors';
import { lineColumn, parseJsonText } from './json';

/** Files up to this size are re-read whole, only after a parse error, to report the exact position. */
export const EXACT_POSITION_BYTES = 32 << 20;

/** Counts the bytes and lines that went through, for error positions in big files. */
class PositionCounter extends Transform {
  bytes = 0;
  lines = 1;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) this.lines++;
    cb(null, chunk);
  }
}

/**
 * V8 keeps a substring as a slice of its parent string (here a whole chunk of the file). A
 * string kept for long (a question, an answer) is copied so it does not pin the chunk.
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/**
 * Yields the elements of the top-level array `key` (`{"<key>": [ … ]}`) of a JSON file, one at
 * a time, with their index. @throws DataError 'bad-json' naming the file (and the position)
 * when the file is not JSON, or when `key` is missing or not an array.
 */
export async function* streamJsonArray(uri: string, key: string): AsyncGenerator<{ index: number; value: unknown }> {
  const storage = storageFor(uri);
  let source;
  try {
    source = await storage.getStream(uri);
  } catch (e) {
    if (e instanceof StorageNotFoundError) throw new DataError('bad-input', `${uri} not found (check the path in the data source)`);
    throw e;
  }
  const counter = new PositionCounter();
  let seen = false;
  const pipeline = chain([
    source,
    counter,
    parser(),
    pick({ filter: key, once: true }),
    (token: { name: string }) => {
      if (!seen && token.name !== 'startArray') throw new DataError('bad-json', `${uri} does not have the expected layout:\n  - ${key}: expected an array`);
      seen = true;
      return token;
    },
    streamArray(),
  ]);
  let index = 0;
  try {
    for await (const item of pipeline as AsyncIterable<{ key: number; value: unknown }>) {
      yield { index: index++, value: item.value };
    }
  } catch (e) {
    pipeline.destroy();
    if (e instanceof DataError) throw e;
    throw await parseError(uri, e as Error, counter);
  }
  if (!seen) throw new DataError('bad-json', `${uri} does not have the expected layout:\n  - ${key}: missing (expected an array)`);
}

async function parseError(uri: string, e: Error, counter: PositionCounter): Promise<DataError> {
  if (!/Parser|parse|Top-level/i.test(e.message)) return new DataError('bad-json', `${uri}: could not be read: ${e.message}`);
  const storage = storageFor(uri);
  const size = await storage.size(uri).catch(() => Infinity);
  if (size <= EXACT_POSITION_BYTES) {
    // Small file: JSON.parse locates the error exactly (line, column, offset).
    const text = (await storage.get(uri)).toString('utf8');
    try {
      parseJsonText(text, uri);
    } catch (exact) {
      if (exact instanceof DataError) return exact;
    }
  }
  const end = counter.bytes >= size;
  return new DataError(
    'bad-json',
    `${uri}: malformed JSON near line ${counter.lines} (within the ${counter.bytes} bytes read so far${end ? ', end of file: truncated?' : ''}): ${e.message}`,
  );
}

export { lineColumn };
