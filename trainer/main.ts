#!/usr/bin/env node
/**
 * The trainer container's entry point (AWS Batch job; locally a child process of the executor):
 *
 *     node dist/trainer/main.js --job <run>/spec.json --role teacher
 *     node dist/trainer/main.js --job <run>/spec.json --role student --student <name> --seed <n>
 *
 * Exit codes: 0 done (or already done: the stage marker was valid), 1 failed (not retried),
 * 75 (EX_TEMPFAIL) interrupted by SIGTERM/SIGINT after writing a checkpoint — the Batch retry
 * strategy retries exactly this code and spot reclaims, and the next attempt resumes.
 */
import '../contract/s3-storage';
import { readRunSpec } from '../contract/plan';
import { isStageCommand, parseStageCommand, parseTrainerCommand } from '../contract/trainer-job';
import { initBackend } from './backend';
import { log } from './log';
import { runTrainerJob } from './stages/train';
import { TrainingInterrupted } from './train/loop';

export const EXIT_INTERRUPTED = 75;

async function main(argv: string[]): Promise<number> {
  if (isStageCommand(argv)) return runStage(argv);
  const job = parseTrainerCommand(argv);
  let stopRequested = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      // Spot reclaims give a two-minute notice via SIGTERM: finish the step, checkpoint, exit 75.
      log.warn({ signal }, 'stop requested: checkpointing after the current step');
      stopRequested = true;
    });
  }
  const backend = await initBackend((line) => log.info(JSON.parse(line)));
  const spec = await readRunSpec(job.specUri);
  log.info({ job, backend }, 'trainer job starts');
  let lastLogged = 0;
  const { result, skipped } = await runTrainerJob(spec, job, {
    shouldStop: () => stopRequested,
    onStep: (s) => {
      // One progress line every ~5 s (logs, not a bar: this runs without a terminal).
      if (Date.now() - lastLogged > 5000 || s.step === s.steps || s.val) {
        lastLogged = Date.now();
        log.info({ step: s.step, steps: s.steps, loss: round(s.loss), lr: s.lr, msPerStep: Math.round(s.msPerStep), val: s.val }, 'progress');
      }
    },
  });
  log.info({ skipped, ...result.train, params: result.params }, skipped ? 'job already complete (stage marker valid): nothing to do' : 'trainer job done');
  return 0;
}

/**
 * A Lambda stage placed on Batch (`--stage <state> --event <json>`): the container is the
 * composition root, so it may load the stage's handler (lambdas/stage-job.ts); the ML code it
 * calls is this package's.
 */
async function runStage(argv: string[]): Promise<number> {
  const job = parseStageCommand(argv);
  log.info({ stage: job.stage }, 'stage job starts');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runStageJob } = require('../lambdas/stage-job') as typeof import('../lambdas/stage-job');
  const result = await runStageJob(job);
  log.info({ stage: job.stage, result }, 'stage job done');
  return 0;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof TrainingInterrupted) {
        log.warn({ step: e.step }, e.message);
        process.exit(EXIT_INTERRUPTED);
      }
      log.error({ err: e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : e }, 'trainer job failed');
      process.exit(1);
    },
  );
}
