#!/usr/bin/env node
/**
 * `amad`: the command line of amad-distill.
 *
 *   amad prepare --source <source.json> --out <dir|s3://…>   prepare a dataset into shards
 *   amad train --config <file>                               train one model (ground truth only)
 *   amad distill --config <file>                             distil one student from a teacher
 *   amad run|submit|status|report|runs|cancel|validate …     the pipeline (local or AWS)
 */
import './polyfills';
import '../contract/s3-storage';
import { Command } from 'commander';
import * as path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { toUri, joinUri } from '../contract/storage';
import { initBackend } from '../trainer/backend';
import { parseDataSource } from '../trainer/data/source';
import { prepareData } from '../trainer/data/prepare';
import { runTrainJob, type TrainJobResult } from '../trainer/jobs/train-job';
import { TrainingInterrupted } from '../trainer/train/loop';
import { registerPipelineCommands } from './commands';
import { DistillConfigSchema, readConfigFile, TrainConfigSchema, type DistillConfig, type TrainConfig } from './train-config';
import { trainProgress } from './train-progress';

const EXIT_INTERRUPTED = 75;

/** The dataset folder of a train/distill config, preparing it first when a source is given. */
async function resolveData(cfg: TrainConfig): Promise<string> {
  if (typeof cfg.data === 'string') return toUri(cfg.data);
  const out = joinUri(toUri(cfg.out), 'data');
  if (existsSync(path.join(cfg.out, 'data', 'manifest.json'))) return out; // prepared by an earlier call
  const summary = await prepareData(cfg.data, out);
  process.stderr.write(`prepared ${cfg.data.format} data into ${out} (${JSON.stringify(Object.fromEntries(Object.entries(summary.splits).map(([k, v]) => [k, v.examples])))})\n`);
  return out;
}

function printResult(r: TrainJobResult): void {
  process.stdout.write(
    JSON.stringify({ model: r.modelDir, params: r.params, steps: r.train.steps, finalLoss: r.train.finalLoss, validation: r.train.finalVal, bestValidation: r.train.bestVal }, null, 2) + '\n',
  );
}

/** SIGINT/SIGTERM → checkpoint after the current step, then exit 75 (re-running resumes). */
function stopOnSignal(): () => boolean {
  let stop = false;
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => (stop = true));
  return () => stop;
}

/** `amad train` and `amad distill`: one training job with a progress bar; Ctrl-C checkpoints. */
async function trainingCommand(file: string, role: 'train' | 'distill'): Promise<void> {
  const d: DistillConfig | undefined = role === 'distill' ? readConfigFile(file, DistillConfigSchema) : undefined;
  const cfg: TrainConfig = d ?? readConfigFile(file, TrainConfigSchema);
  await initBackend();
  const dataUri = await resolveData(cfg);
  const out = toUri(cfg.out);
  const progress = trainProgress(d ? `distill ${d.distill.variant}` : 'train');
  try {
    const r = await runTrainJob({
      dataUri,
      model: cfg.model,
      train: cfg.train,
      modelDir: joinUri(out, 'model'),
      checkpointDir: joinUri(out, 'checkpoints'),
      name: d ? 'student' : 'model',
      ...(d ? { distill: { teacherDir: toUri(d.teacher), options: d.distill, cacheUri: d.cache ? toUri(d.cache) : undefined } } : {}),
      onStep: progress.onStep,
      shouldStop: stopOnSignal(),
    });
    progress.stop();
    printResult(r);
  } finally {
    progress.stop();
  }
}

async function prepareCommand(sourceFile: string, outDir: string): Promise<void> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(sourceFile, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read data source ${sourceFile}: ${(e as Error).message}`);
  }
  const source = parseDataSource(raw, sourceFile);
  await initBackend();
  const summary = await prepareData(source, toUri(outDir));
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
}

/** Runs an action; errors print one clear message (no stack) and set the exit code. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof TrainingInterrupted) {
        process.stderr.write(`${e.message}\n`);
        process.exitCode = EXIT_INTERRUPTED;
        return;
      }
      process.stderr.write(`error: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  };
}

export function buildProgram(): Command {
  const program = new Command('amad').description('Distil vision-language transformers into students with fewer heads (AMAD)').showHelpAfterError();
  program
    .command('prepare')
    .description('prepare a dataset (synthetic or a public layout) into shards + manifest; prints a summary')
    .requiredOption('--source <file>', 'data source JSON (see docs/CONFIG.md "data")')
    .requiredOption('--out <dir>', 'output folder or s3:// prefix')
    .action(action((o: { source: string; out: string }) => prepareCommand(o.source, o.out)));
  program
    .command('train')
    .description('train one model (teacher or student alone) from ground truth')
    .requiredOption('--config <file>', 'train config JSON: { data, model, train, out }')
    .action(action((o: { config: string }) => trainingCommand(o.config, 'train')));
  program
    .command('distill')
    .description('distil one student from a trained teacher (online or from a teacher cache)')
    .requiredOption('--config <file>', 'distill config JSON: { data, teacher, model, distill, train, out, cache? }')
    .action(action((o: { config: string }) => trainingCommand(o.config, 'distill')));
  registerPipelineCommands(program);
  return program;
}

if (require.main === module) {
  buildProgram().parseAsync(process.argv).catch((e: unknown) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
