/**
 * `amad run` stopped by SIGTERM (issue 12 item 6), as a supervisor stops it: the signal reaches
 * every training job, which checkpoints and exits 75; the runner waits for them, exits 143 and
 * says how to resume. No child process may outlive it. Real CLI, real trainer (tiny model).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

const repo = path.join(__dirname, '..', '..');
const tiny = (heads: number) => ({ width: 16, mlpWidth: 32, patchSize: 8, fusionLayers: 1, heads: { vision: heads, fusion: heads, decoder: heads }, dropout: 0 });

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('SIGTERM stops every training job (checkpoint, exit 75), waits for them and prints how to resume', async () => {
  // Prepare: a teacher that would train for a long time.
  const dir = mkdtempSync(path.join(tmpdir(), 'amad-signal-'));
  const specFile = path.join(dir, 'spec.json');
  writeFileSync(
    specFile,
    JSON.stringify({
      version: 1,
      runId: 'stopped',
      data: { format: 'synthetic', task: 'vqa', seed: 2, train: 64, val: 8, test: 8, imageSize: 16, maxTextLength: 8, shardSize: 32, answerVocabSize: 16 },
      teacher: { model: tiny(2), train: { steps: 20000, batchSize: 16, warmupSteps: 5, evalExamples: 8, checkpointEvery: 1000 } },
      students: [{ name: 's', model: tiny(1), train: { steps: 2, batchSize: 8 } }],
    }),
  );
  const cli = spawn(process.execPath, ['--import', 'tsx', path.join(repo, 'cli', 'amad.ts'), 'run', specFile, '--root', dir], {
    cwd: repo,
    env: { ...process.env, AMAD_BACKEND: 'wasm', AMAD_QUIET_BACKEND: '1', AMAD_LOG_LEVEL: 'info', POWERTOOLS_LOG_LEVEL: 'SILENT' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const events: { type: string; pid?: number; exitCode?: number | null }[] = [];
  const exited = new Promise<number | null>((resolve) => cli.on('close', (code) => resolve(code)));
  try {
    // Act: SIGTERM once the teacher job has logged a training step (its signal handler is installed).
    const logFile = path.join(dir, 'runs', 'stopped', 'logs', 'stopped-teacher.log');
    createInterface({ input: cli.stdout }).on('line', (line) => {
      try {
        events.push(JSON.parse(line) as (typeof events)[number]);
      } catch {
        /* not an event line */
      }
    });
    let ended = false;
    void exited.then(() => (ended = true));
    const t0 = Date.now();
    while (!(existsSync(logFile) && readFileSync(logFile, 'utf8').includes('"progress"'))) {
      if (ended || Date.now() - t0 > 120_000) throw new Error(`training did not start (exit ${cli.exitCode}): ${stderr} ${JSON.stringify(events.map((e) => e.type))}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    cli.kill('SIGTERM');
    const code = await exited;

    // Assert
    const started = events.filter((e) => e.type === 'job-started');
    expect(started).toHaveLength(1);
    expect(alive(started[0].pid!)).toBe(false);
    expect(events.find((e) => e.type === 'job-finished')?.exitCode).toBe(75); // checkpointed and asked to be resumed
    expect(code).toBe(143);
    expect(stderr).toContain(`npx amad run ${specFile} --resume`);
  } finally {
    if (cli.exitCode === null) cli.kill('SIGKILL');
    for (const e of events) if (e.type === 'job-started' && e.pid && alive(e.pid)) process.kill(e.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
