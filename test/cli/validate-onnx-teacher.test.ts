/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * `amad validate` and `amad plan` check a spec's ONNX teacher against its sidecar and the
 * students (trainer/onnx/check-spec.ts) before anything runs: the committed example passes, a
 * sidecar that contradicts the model exits 1 naming the output and the fix.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { planCommand } from '../../cli/commands/plan';
import { validateCommand } from '../../cli/commands/validate';
import { FIXTURE } from '../helpers/onnx-fixture';
import { testDeps } from './fixtures/deps';

const REPO = path.resolve(__dirname, '..', '..');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'amad-validate-onnx-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** examples/onnx-teacher-vqa.json with absolute paths (the example's are relative to the repository root). */
function exampleSpec(sidecar = path.join(FIXTURE, 'teacher.onnx.json')): string {
  const spec = JSON.parse(readFileSync(path.join(REPO, 'examples', 'onnx-teacher-vqa.json'), 'utf8'));
  spec.teacher = { onnx: path.join(FIXTURE, 'teacher.onnx'), sidecar };
  delete spec.$schema;
  const file = path.join(dir, `spec-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return file;
}

test('validate: the example with the PyTorch-exported teacher passes the teacher check', async () => {
  const deps = testDeps();
  expect(await validateCommand({ spec: exampleSpec() }, deps)).toBe(0);
  expect(deps.stdout[0]).toMatch(/valid job spec .*teacher from file:\/\/.*teacher\.onnx.*ONNX teacher matches its sidecar \(4 attention output\(s\), logits \[16\]\)/);
});

test('validate and plan: a sidecar whose heads contradict the model exits 1 naming the output and the fix', async () => {
  const sidecar = JSON.parse(readFileSync(path.join(FIXTURE, 'teacher.onnx.json'), 'utf8'));
  sidecar.attention[3].heads = 4;
  writeFileSync(path.join(dir, 'teacher.onnx.json'), JSON.stringify(sidecar));
  copyFileSync(path.join(FIXTURE, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const spec = exampleSpec(path.join(dir, 'teacher.onnx.json'));
  for (const command of [validateCommand, planCommand]) {
    const deps = testDeps();
    expect(await command({ spec }, deps)).toBe(1);
    expect(deps.stderr.join('\n')).toMatch(/output "attn\.fusionSelf\.3" has 6 heads .* but the sidecar says attention\[3\]\.heads = 4: set heads to 6/);
  }
});
