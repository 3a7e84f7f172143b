/**
 * Errors about unparsable files never quote their content (it may be a secret read through a
 * wrong URI; errors reach failure.json and notifications): position and first bytes in hex only.
 */
import { firstBytesHex, MalformedJsonError, parseJson } from '../../contract/parse-json';
import { parseJobSpecText } from '../../contract/spec';
import { parseJsonText } from '../../trainer/data/json';

/** Content shaped like /proc/self/environ: what must never show up in an error. */
const SECRET = 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG\0AWS_SESSION_TOKEN=IQoJb3JpZ2luX2Vj\0';
const secretParts = ['AWS_SECRET', 'wJalr', 'IQoJb3', 'SESSION'];

const messageOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('did not throw');
};

test('firstBytesHex shows at most 16 bytes and says how many there are', () => {
  expect(firstBytesHex('AB')).toBe('all 2 bytes (hex): 41 42');
  expect(firstBytesHex(Buffer.alloc(40, 0xff))).toBe(`first 16 of 40 bytes (hex): ${Array(16).fill('ff').join(' ')}`);
  expect(firstBytesHex('')).toBe('the file is empty');
});

test.each<[string, () => unknown]>([
  ['parseJson', () => parseJson(Buffer.from(SECRET), 's3://b/datasets/q.json')],
  ['parseJobSpecText', () => parseJobSpecText(SECRET, 'jobs/x.json')],
  ['parseJsonText (dataset files)', () => parseJsonText(SECRET, 'questions.json')],
  ['a nearly valid file', () => parseJson(`{"key": "${SECRET.replace(/\0/g, '')}", oops}`, 'x.json')],
])('%s: the error names the file and shows the first bytes in hex, never the text', (_what, f) => {
  const message = messageOf(f);
  for (const part of secretParts) expect(message).not.toContain(part);
  expect(message).toMatch(/bytes \(hex\): [0-9a-f]{2}( [0-9a-f]{2}){15}$/);
});

test('parseJson points at the problem and flags a truncated file', () => {
  expect(() => parseJson('{\n  "a": 1,\n  x\n}', 'f.json')).toThrow(/^f\.json is not valid JSON at line 3, column 3 \(offset 14\); first 16 of 17 bytes/);
  expect(() => parseJson('{"a": [1, 2', 'f.json')).toThrow(/^f\.json is not valid JSON at the end \(offset 11: truncated\?\)/);
  expect(() => parseJson('nope', 'f.json')).toThrow(MalformedJsonError);
  // callers that tell "not JSON" from a failed read keep working (trainer/stages/runs-index.ts)
  expect(() => parseJson('nope', 'f.json')).toThrow(SyntaxError);
  expect(parseJson(Buffer.from('{"a":[1]}'), 'f.json')).toEqual({ a: [1] });
});
