/**
 * Config files of `amad train` (one model from ground truth) and `amad distill` (one student
 * from a trained teacher), outside the pipeline. `data` is a prepared dataset folder, or a data
 * source object that is prepared into `<out>/data` first.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DistillOptionsSchema } from '../contract/spec';
import { DataSourceSchema } from '../trainer/data/source';
import { ConfigError, formatIssues, ModelConfigSchema } from '../trainer/model/config';
import { TrainOptionsSchema } from '../trainer/train/options';

/** A model config where the data-derived sizes may be left out (they come from the dataset). */
const ModelInputSchema = z.record(z.string(), z.unknown()).describe('model config; imageSize, text lengths, vocabSize and numAnswers default to the dataset');

const DataRefSchema = z.union([z.string().min(1).describe('prepared dataset folder (holds manifest.json)'), DataSourceSchema]);

export const TrainConfigSchema = z.strictObject({
  data: DataRefSchema,
  model: ModelInputSchema,
  train: TrainOptionsSchema.prefault({}),
  out: z.string().min(1).describe('output folder: model.json/model.bin, train-log.jsonl, checkpoints/'),
});
export type TrainConfig = z.output<typeof TrainConfigSchema>;

export const DistillConfigSchema = TrainConfigSchema.extend({
  teacher: z.string().min(1).describe('folder of the trained teacher model'),
  distill: DistillOptionsSchema.prefault({}),
  cache: z.string().min(1).optional().describe('teacher cache folder (as written by the pipeline); online teacher when absent'),
});
export type DistillConfig = z.output<typeof DistillConfigSchema>;

/** Reads and validates a config file. @throws ConfigError listing every problem with its path. */
export function readConfigFile<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as Error).message}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issues = formatIssues(r.error);
    throw new ConfigError(`invalid config ${file}:\n` + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'), issues);
  }
  // The model config is checked for unknown fields and ranges now, not after data preparation.
  const model = (r.data as { model: Record<string, unknown> }).model;
  const probe = ModelConfigSchema.safeParse({ numAnswers: 1, ...model });
  if (!probe.success) {
    const issues = formatIssues(probe.error, 'model');
    throw new ConfigError(`invalid config ${file}:\n` + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'), issues);
  }
  return r.data;
}
