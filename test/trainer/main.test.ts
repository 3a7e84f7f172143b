/**
 * The trainer container entry point as a real child process: a spot reclaim (SIGTERM) mid-run
 * checkpoints and exits 75; the retry resumes and ends with weights bit-identical to an
 * uninterrupted run; a further retry finds the stage marker valid and does nothing.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLayout, runUriFor, Stage } from '../../contract/layout';
import { parseJobSpec, type JobSpec } from '../../contract/spec';
import { prepareData } from '../../trainer/data/prepare';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const STEPS = 60;
const CHECKPOINT_EVERY = 10;
const EXIT_INTERRUPTED = 75;

const ARCH = (heads: number) => ({ patchSize: 8, width: 16, mlpWidth: 32, fusionLayers: 1, heads: { vision: heads, fusion: heads, decoder: heads } });

const spec: JobSpec = parseJobSpec({
  version: 1,
  data: { format: 'synthetic', task: 'vqa', seed: 2, train: 64, val: 8, test: 8, imageSize: 16, maxTextLength: 8, shardSize: 32, answerVocabSize: 16 },
  // Default dropout (0.1): resume must also replay the dropout masks.
  teacher: { model: ARCH(4), train: { steps: STEPS, checkpointEvery: CHECKPOINT_EVERY, batchSize: 16, warmupSteps: 5, evalExamples: 8 } },
  students: [{ name: 'small', model: ARCH(2) }],
});

let root: string;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Starts `node --import tsx trainer/main.ts --job <run>/spec.json --role teacher [extra]` from the repo root. */
function startTrainer(runUri: string, args: readonly string[] = ['--role', 'teacher']) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'trainer/main.ts', '--job', runLayout(runUri).spec, ...args], {
    cwd: REPO_ROOT,
    // info level: the test reads the trainer's "job already complete" line.
    env: { ...process.env, AMAD_BACKEND: 'wasm', AMAD_QUIET_BACKEND: '1', AMAD_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const exited = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
  return { child, exited };
}

/** A run folder with the validated spec and the prepared data (copied from `dataFrom` when given). */
async function makeRun(runId: string, dataFrom?: string): Promise<string> {
  const runUri = runUriFor(root, runId);
  const layout = runLayout(runUri);
  const dir = fileURLToPath(runUri);
  if (dataFrom) cpSync(fileURLToPath(runLayout(dataFrom).data), fileURLToPath(layout.data), { recursive: true });
  else await prepareData(spec.data, layout.data);
  writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec, null, 2));
  return runUri;
}

const file = (uri: string) => fileURLToPath(uri);
const latestCheckpointStep = (runUri: string): number | null => {
  const latest = path.join(file(runLayout(runUri).checkpoints('teacher')), 'latest.json');
  if (!existsSync(latest)) return null;
  try {
    return (JSON.parse(readFileSync(latest, 'utf8')) as { step: number }).step;
  } catch {
    return null; // being written
  }
};

async function waitFor<T>(what: string, probe: () => T | null, exited: Promise<Exit>, timeoutMs = 90_000): Promise<T> {
  let done: Exit | null = null;
  void exited.then((e) => (done = e));
  const t0 = Date.now();
  for (;;) {
    const v = probe();
    if (v !== null) return v;
    if (done) throw new Error(`trainer exited (${JSON.stringify({ code: (done as Exit).code, signal: (done as Exit).signal })}) before ${what}:\n${(done as Exit).stderr}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const readMarker = (runUri: string) => JSON.parse(readFileSync(file(runLayout(runUri).marker(Stage.trainTeacher)), 'utf8')) as { committedAt: string; result: { train: { resumedFrom: number; steps: number } } };
const trainLog = (runUri: string) =>
  readFileSync(file(runLayout(runUri).trainLog('teacher')), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { step: number });

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'trainer-main-'));
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

test('SIGTERM checkpoints and exits 75; the retry resumes to the same weights as an uninterrupted run; a third run skips', async () => {
  // Prepare: two runs of the same spec on the same data.
  const interrupted = await makeRun('interrupted');
  const reference = await makeRun('reference', interrupted);

  // Act 1: the reference trains uninterrupted while the other is reclaimed mid-run.
  const ref = startTrainer(reference);
  const first = startTrainer(interrupted);
  const stepAtSignal = await waitFor('the first checkpoint', () => latestCheckpointStep(interrupted), first.exited);
  first.child.kill('SIGTERM');
  const firstExit = await first.exited;

  // Assert 1: exit 75 with a checkpoint beyond the one seen, short of the end; no model, no marker.
  expect({ code: firstExit.code, signal: firstExit.signal }).toEqual({ code: EXIT_INTERRUPTED, signal: null });
  const stoppedAt = latestCheckpointStep(interrupted)!;
  expect(stoppedAt).toBeGreaterThanOrEqual(stepAtSignal);
  expect(stoppedAt).toBeLessThan(STEPS);
  expect(firstExit.stderr).toContain(`training interrupted at step ${stoppedAt}`);
  expect(existsSync(file(runLayout(interrupted).marker(Stage.trainTeacher)))).toBe(false);
  expect(trainLog(interrupted).map((l) => l.step)).toEqual(Array.from({ length: stoppedAt }, (_, i) => i + 1));

  // Act 2: the retry.
  const secondExit = await startTrainer(interrupted).exited;
  const refExit = await ref.exited;

  // Assert 2: it resumed from the checkpoint and finished; the weights equal the reference's bit for bit.
  expect(secondExit.code).toBe(0);
  expect(refExit.code).toBe(0);
  const marker = readMarker(interrupted);
  expect(marker.result.train).toMatchObject({ resumedFrom: stoppedAt, steps: STEPS });
  expect(readMarker(reference).result.train.resumedFrom).toBe(0);
  expect(trainLog(interrupted).map((l) => l.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  const weights = (runUri: string) => readFileSync(path.join(file(runLayout(runUri).teacherModel), 'model.bin'));
  expect(weights(interrupted).equals(weights(reference))).toBe(true);

  // Act 3: a third attempt (e.g. Batch retrying after the container died post-commit).
  const binPath = path.join(file(runLayout(interrupted).teacherModel), 'model.bin');
  const mtime = statSync(binPath).mtimeMs;
  const thirdExit = await startTrainer(interrupted).exited;

  // Assert 3: nothing to do — the marker and the model are untouched.
  expect(thirdExit.code).toBe(0);
  expect(thirdExit.stderr).toContain('job already complete');
  expect(readMarker(interrupted).committedAt).toBe(marker.committedAt);
  expect(statSync(binPath).mtimeMs).toBe(mtime);
});

test('a job the spec does not name fails with exit 1 (not retried) and says which students exist', async () => {
  // Prepare
  const runUri = await makeRun('bad-student');
  // Act
  const exit = await startTrainer(runUri, ['--role', 'student', '--student', 'nobody', '--seed', '0']).exited;
  // Assert
  expect(exit.code).toBe(1);
  expect(exit.stderr).toContain('--student nobody is not in the spec (students: small)');
});
