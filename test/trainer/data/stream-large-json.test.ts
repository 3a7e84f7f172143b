/**
 * Large JSON inputs are streamed, never parsed whole: a child node process whose heap is capped
 * below the size of a VQA v2 annotations file still plans the preparation and builds the
 * vocabulary from it, while parsing that same file whole in the same heap runs out of memory
 * (so the test tells the two apart).
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const HEAP_MB = 72;
const QUESTIONS = 12_000;
const REPO = path.resolve(__dirname, '../../..');
const TSX = require.resolve('tsx/cjs');

let dir: string;
let annotations: string;
let questions: string;

/** Official-layout files; each annotation carries a long (ignored) note so the file outgrows the heap. */
async function writeFiles(): Promise<void> {
  const note = 'n'.repeat(9000);
  questions = path.join(dir, 'v2_OpenEnded_mscoco_train2014_questions.json');
  const qs = Array.from({ length: QUESTIONS }, (_, i) => ({ image_id: 1 + Math.floor(i / 5), question: `What is in picture ${i % 50}?`, question_id: i }));
  writeFileSync(questions, JSON.stringify({ info: {}, questions: qs }));
  annotations = path.join(dir, 'v2_mscoco_train2014_annotations.json');
  const out = createWriteStream(annotations);
  out.write('{"info": {}, "annotations": [');
  for (let i = 0; i < QUESTIONS; i++) {
    const ans = Array.from({ length: 10 }, (_, k) => ({ answer: k < 7 ? `answer ${i % 40}` : 'no', answer_confidence: 'yes', answer_id: k + 1 }));
    const item = { question_id: i, image_id: 1 + Math.floor(i / 5), multiple_choice_answer: `answer ${i % 40}`, answers: ans, note };
    if (!out.write((i ? ',' : '') + JSON.stringify(item))) await once(out, 'drain');
  }
  out.end(']}');
  await once(out, 'finish');
}

function runChild(code: string): { status: number | null; stdout: string; stderr: string } {
  const script = path.join(dir, `child-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(script, code);
  const r = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--require', TSX, script], { cwd: REPO, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'amad-stream-'));
  await writeFiles();
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the annotations file is larger than the child heap', () => {
  expect(statSync(annotations).size).toBeGreaterThan(1.3 * HEAP_MB * 2 ** 20);
});

test('plan and vocabulary stream it within the heap limit', () => {
  const out = path.join(dir, 'prepared');
  const source = {
    format: 'vqa-v2',
    questions: { train: questions, val: questions },
    annotations: { train: annotations, val: annotations },
    images: { train: path.join(dir, 'images'), val: path.join(dir, 'images') },
    shardSize: 512,
  };
  const r = runChild(`
    import { planPreparation } from ${JSON.stringify(path.join(REPO, 'trainer/data/prep/plan'))};
    import { buildVocabulary } from ${JSON.stringify(path.join(REPO, 'trainer/data/prep/vocabulary'))};
    (async () => {
      const plan = await planPreparation(${JSON.stringify(source)}, ${JSON.stringify(out)});
      const vocab = await buildVocabulary(${JSON.stringify(out)});
      process.stdout.write(JSON.stringify({ train: plan.splits.train, answers: vocab.answerVocabSize, heapMB: process.memoryUsage().heapUsed / 2 ** 20 }));
    })().catch((e) => { console.error(e); process.exit(1); });
  `);
  expect(r.stderr).not.toMatch(/heap out of memory/);
  expect(r.status).toBe(0);
  const got = JSON.parse(r.stdout);
  expect(got.train).toMatchObject({ examples: QUESTIONS, images: QUESTIONS / 5 });
  expect(got.answers).toBe(40); // the labels "answer 0" … "answer 39" ("no" is never a label)
}, 300_000);

test('parsing the same file whole in the same heap runs out of memory (the test can fail)', () => {
  const r = runChild(`
    import { readFileSync } from 'node:fs';
    const j = JSON.parse(readFileSync(${JSON.stringify(annotations)}, 'utf8'));
    process.stdout.write(String(j.annotations.length));
  `);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/heap out of memory|Invalid string length|Cannot create a string/);
}, 300_000);
