/** The example files run as they are: every job spec validates, and the experiment specs are the generated ones. */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseJobSpec } from '../contract/spec';
import { parseDataSource } from '../trainer/data/source';
import { EXPERIMENT_TASKS, experimentSpec } from '../bench/experiments-spec';
import { DistillConfigSchema, TrainConfigSchema } from '../cli/train-config';

const dir = path.join(__dirname, '..', 'examples');
const read = (f: string) => JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
const specs = readdirSync(dir).filter((f) => f.endsWith('.json') && (f.startsWith('demo-') || f.startsWith('experiments-') || f.startsWith('paper-') || f.startsWith('onnx-teacher-')));

test.each(specs)('%s is a valid job spec', (f) => {
  expect(() => parseJobSpec(read(f), f)).not.toThrow();
});

test.each(EXPERIMENT_TASKS)('examples/experiments-%s.json is what bench/experiments-spec.ts generates', (task) => {
  expect(read(`experiments-${task}.json`)).toEqual(JSON.parse(JSON.stringify(experimentSpec(task, { quick: false }))));
});

test('the CLI examples validate', () => {
  expect(() => parseDataSource(read('source-synthetic-vqa.json'))).not.toThrow();
  expect(TrainConfigSchema.safeParse(read('train-teacher.json')).success).toBe(true);
  expect(DistillConfigSchema.safeParse(read('distill-student.json')).success).toBe(true);
});
