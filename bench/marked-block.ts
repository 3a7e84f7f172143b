/**
 * Generated blocks inside hand-written files: the text between `<!-- NAME:START -->` and
 * `<!-- NAME:END -->` belongs to the command that writes it; everything around it to people.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * Replaces the NAME block of `file` with `body` (markers kept), or appends the block when the
 * file has none (creating the file when it does not exist).
 * @returns true when an existing block was replaced
 */
export function writeMarkedBlock(file: string, name: string, body: string): boolean {
  const start = `<!-- ${name}:START -->`;
  const end = `<!-- ${name}:END -->`;
  const block = `${start}\n${body.replace(/\n*$/, '\n')}${end}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  const found = from >= 0 && to > from;
  writeFileSync(file, found ? text.slice(0, from) + block + text.slice(to + end.length) : text + (text && !text.endsWith('\n') ? '\n' : '') + block + '\n');
  return found;
}
