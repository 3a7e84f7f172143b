/**
 * JSON parsing for bytes read from storage or submitted by a user, with errors that never quote
 * the content. V8's SyntaxError quotes the text around the problem (`Unexpected token 'r',
 * "root:x:0:0:"... is not valid JSON`), and error messages travel far: into failure.json, the
 * execution history and the SNS notification. A file that is not what it should be (a wrong URI,
 * a secret) is described by where the problem is and its first bytes in hex, nothing more.
 */

/** How many leading bytes an error shows (in hex). */
export const SHOWN_BYTES = 16;

/** A text that is not JSON (a SyntaxError, as JSON.parse throws). `name` is what Step Functions matches in Retry/Catch. */
export class MalformedJsonError extends SyntaxError {
  constructor(
    message: string,
    /** Character offset of the problem, when the parser reported one. */
    readonly position: number | undefined,
  ) {
    super(message);
    this.name = 'MalformedJson';
  }
}

/** `first 16 bytes (hex): 7b 22 61 …` — the only view of a bad file an error gives. */
export function firstBytesHex(content: Buffer | string, n = SHOWN_BYTES): string {
  const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  if (buf.length === 0) return 'the file is empty';
  const hex = [...buf.subarray(0, n)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `${buf.length > n ? `first ${n} of ${buf.length}` : `all ${buf.length}`} bytes (hex): ${hex}`;
}

/** Line and column (1-based) of a character offset. */
export function lineColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lastNewline = -1;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lastNewline = i;
    }
  }
  return { line, column: position - lastNewline };
}

/**
 * Where a SyntaxError of `JSON.parse(text)` points, without its quoted text: "at line 3,
 * column 5 (offset 40)", "at the end (truncated?)", or "" when V8 did not say.
 */
export function jsonErrorPosition(e: unknown, text: string): { where: string; position: number | undefined } {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /position (\d+)/.exec(msg);
  const position = m ? Number(m[1]) : /end of JSON input/i.test(msg) ? text.length : undefined;
  if (position === undefined) return { where: '', position };
  if (position >= text.length) return { where: ` at the end (offset ${position}: truncated?)`, position };
  const { line, column } = lineColumn(text, position);
  return { where: ` at line ${line}, column ${column} (offset ${position})`, position };
}

/**
 * JSON.parse of `content` (bytes are decoded as UTF-8).
 * @throws MalformedJsonError "<what> is not valid JSON at line L, column C (offset P); first 16 of N bytes (hex): …"
 */
export function parseJson(content: Buffer | string, what: string): unknown {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    const { where, position } = jsonErrorPosition(e, text);
    throw new MalformedJsonError(`${what} is not valid JSON${where}; ${firstBytesHex(content)}`, position);
  }
}
