/**
 * The report stage on every task and model shape: evaluation results of a teacher and a student
 * in, report/index.html + metrics.json + summary.md out, with attention samples for whatever
 * attention over the image the model has (joint self, text→image cross, or decoder cross).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { commitStage, runLayout, runUriFor, Stage, studentModelId, TEACHER_MODEL_ID } from '../../../contract/layout';
import { parseJobSpec } from '../../../contract/spec';
import { storageFor } from '../../../contract/storage';
import { initBackend } from '../../../trainer/backend';
import { openDataset } from '../../../trainer/data/dataset';
import { prepareData } from '../../../trainer/data/prepare';
import { fitConfigToData } from '../../../trainer/jobs/task';
import { VLModel } from '../../../trainer/model';
import { saveModel } from '../../../trainer/model-io';
import { MetricsSummarySchema } from '../../../trainer/report';
import { evaluateShard, mergeEvaluations } from '../../../trainer/stages/evaluate';
import { buildRunReport } from '../../../trainer/stages/report';

jest.setTimeout(120_000);

const cases = [
  { task: 'vqa', arch: { fusion: 'two-stream', visionLayers: 1, fusionLayers: 1 } },
  { task: 'captioning', arch: { fusion: 'single-stream', visionLayers: 1, fusionLayers: 0, decoderLayers: 1 } },
  { task: 'translation', arch: { fusion: 'two-stream', visionLayers: 1, fusionLayers: 1, decoderLayers: 1 } },
] as const;

test.each(cases)('a $task run ($arch.fusion, fusionLayers $arch.fusionLayers) gets a complete report', async ({ task, arch }) => {
  await initBackend();
  const root = mkdtempSync(path.join(tmpdir(), `report-${task}-`));
  const runUri = runUriFor(root, 'run1');
  const layout = runLayout(runUri);
  await prepareData({ format: 'synthetic', task, seed: 2, train: 8, val: 4, test: 6, imageSize: 16, maxTextLength: 8, maxTargetLength: 8 }, layout.data);
  const data = await openDataset(layout.data);
  const model = (heads: number) => ({ ...arch, patchSize: 8, width: 16, mlpWidth: 24, heads: { vision: heads, fusion: heads, decoder: heads }, dropout: 0 });
  const spec = parseJobSpec({
    version: 1,
    data: { format: 'synthetic', task },
    teacher: { model: model(4) },
    students: [{ name: 'amad', model: model(2), distill: { variant: 'kl' }, seeds: [0] }],
  });
  const evalFiles: Record<string, string> = {};
  for (const [modelId, heads] of [[TEACHER_MODEL_ID, 4], [studentModelId('amad', 0), 2]] as const) {
    const m = new VLModel(fitConfigToData(model(heads), data.manifest, data.tokenizer.vocabSize, modelId), { seed: heads, name: `report-${task}-${heads}` });
    const dir = layout.model(modelId);
    await saveModel(dir, m, { task, tokenizer: data.tokenizer.toJSON(), answers: data.answerVocab, pixelStats: data.manifest.pixelStats, provenance: {} });
    await storageFor(dir).put(layout.trainLog(modelId), JSON.stringify({ step: 1, loss: 1, 'loss.gt': 1, alignment: { 'fusionSelf/0<-0': [[0.5, 0.5], [0.4, 0.6], [0.7, 0.3], [0.5, 0.5]] } }) + '\n');
    m.dispose();
    const split = data.split('test');
    const ref = { modelId, modelUri: dir, stage: null };
    await evaluateShard({ runUri, spec, model: ref, shardUri: split.shardUri(0), shardIndex: 0, outUri: layout.evalPart(modelId, 0) });
    await mergeEvaluations({ runUri, spec, modelId, partUris: [layout.evalPart(modelId, 0)], outUri: layout.evalFile(modelId) });
    evalFiles[modelId] = layout.evalFile(modelId);
  }
  await commitStage(runUri, Stage.validate, []);

  const files = await buildRunReport({ runUri, spec, evalFiles, missing: [], students: [{ student: 'amad', seed: 0, modelId: studentModelId('amad', 0), status: 'SUCCEEDED' }], reportDir: layout.reportDir });

  expect(files.map((f) => path.basename(f)).sort()).toEqual(['index.html', 'metrics.json', 'summary.md']);
  const html = readFileSync(fileURLToPath(layout.reportIndex), 'utf8');
  expect(html).toMatch(/<svg/);
  expect(html).toMatch(/data:image\/png;base64,/);
  expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // self-contained
  const metrics = MetricsSummarySchema.parse(JSON.parse(readFileSync(fileURLToPath(layout.reportMetrics), 'utf8')));
  expect(metrics.models.map((m) => m.id).sort()).toEqual(['amad', 'teacher']);
  expect(existsSync(fileURLToPath(layout.reportSummary))).toBe(true);
});
