/**
 * JSON reading with errors that point into the file: "<file>: malformed JSON at line L, column C
 * (byte offset P): <reason>". A truncated file (a half-finished download) reports its end.
 */
import { storageFor } from '../../contract/storage';
import { firstBytesHex, lineColumn } from '../../contract/parse-json';
import { DataError } from './errors';

export { lineColumn };

/** JSON.parse with a DataError naming `file` and the position of the problem. */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    // V8: "... at position 123" (Node 20) or "... (line 3 column 5)"; "Unexpected end of JSON input" has neither.
    const m = /position (\d+)/.exec(msg);
    const position = m ? Number(m[1]) : /end of JSON input/i.test(msg) ? text.length : undefined;
    const where =
      position === undefined
        ? ''
        : (() => {
            const { line, column } = lineColumn(text, position);
            return ` at line ${line}, column ${column} (offset ${position}${position >= text.length ? ', end of file: truncated?' : ''})`;
          })();
    // Not V8's message: it quotes the text, and errors reach failure.json and notifications.
    throw new DataError('bad-json', `${file}: malformed JSON${where}; ${firstBytesHex(text)}`);
  }
}

/** Reads and parses a JSON object through contract/storage. */
export async function readJson(uri: string): Promise<unknown> {
  const buf = await storageFor(uri).get(uri);
  return parseJsonText(buf.toString('utf8'), uri);
}
