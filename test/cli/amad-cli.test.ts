/** `amad prepare`, `amad train` and `amad distill` as a user runs them (a child process). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const repo = path.join(__dirname, '..', '..');
const amad = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'cli', 'amad.ts'), ...args], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, AMAD_BACKEND: 'wasm', AMAD_LOG_LEVEL: 'warn', AMAD_QUIET_BACKEND: '1' },
    timeout: 120_000,
  });

const tiny = { width: 16, mlpWidth: 32, patchSize: 8, fusionLayers: 1, heads: { vision: 2, fusion: 2, decoder: 2 }, dropout: 0 };

test('prepare → train → distill from the command line', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'amad-cli-'));
  const source = path.join(dir, 'source.json');
  writeFileSync(source, JSON.stringify({ format: 'synthetic', task: 'vqa', seed: 1, train: 96, val: 32, test: 32, imageSize: 16 }));
  const prep = amad('prepare', '--source', source, '--out', path.join(dir, 'data'));
  expect(prep.stderr).toBe('');
  expect(prep.status).toBe(0);
  expect(JSON.parse(prep.stdout).splits.train.examples).toBe(96);

  const train = path.join(dir, 'train.json');
  writeFileSync(train, JSON.stringify({ data: path.join(dir, 'data'), model: { ...tiny, heads: { vision: 4, fusion: 4, decoder: 4 } }, train: { steps: 3, batchSize: 8, evalExamples: 16 }, out: path.join(dir, 'teacher') }));
  const t = amad('train', '--config', train);
  expect(t.status).toBe(0);
  expect(JSON.parse(t.stdout)).toEqual(expect.objectContaining({ steps: 3, validation: expect.objectContaining({ accuracy: expect.any(Number) }) }));
  expect(existsSync(path.join(dir, 'teacher', 'model', 'model.bin'))).toBe(true);

  const distill = path.join(dir, 'distill.json');
  writeFileSync(distill, JSON.stringify({ data: path.join(dir, 'data'), teacher: path.join(dir, 'teacher', 'model'), model: tiny, distill: { variant: 'kl' }, train: { steps: 3, batchSize: 8, evalExamples: 16 }, out: path.join(dir, 'student') }));
  const s = amad('distill', '--config', distill);
  expect(s.status).toBe(0);
  expect(JSON.parse(s.stdout).steps).toBe(3);
});

test('a bad config fails with the field and the fix, and no stack trace', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'amad-cli-'));
  const file = path.join(dir, 'train.json');
  writeFileSync(file, JSON.stringify({ data: dir, model: { ...tiny, widht: 3 }, train: { steps: -1 }, out: dir }));
  const r = amad('train', '--config', file);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/train\.steps/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  writeFileSync(file, JSON.stringify({ data: dir, model: { ...tiny, widht: 3 }, out: dir }));
  const r2 = amad('train', '--config', file);
  expect(r2.stderr).toMatch(/model.*unknown field\(s\) "widht"/);
});
