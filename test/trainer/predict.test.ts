/** The exported model is usable on its own: image bytes + question in, answer out, as in training. */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { toUri } from '../../contract/storage';
import { initBackend } from '../../trainer/backend';
import { openDataset, recordsToBatch } from '../../trainer/data/dataset';
import { prepareData } from '../../trainer/data/prepare';
import { batchTensors, fitConfigToData } from '../../trainer/jobs/task';
import { VLModel } from '../../trainer/model';
import { saveModel } from '../../trainer/model-io';
import { loadPredictor } from '../../trainer/predict';

test('loadPredictor answers from PNG bytes and a question exactly as the model does on the prepared example', async () => {
  await initBackend();
  const dir = mkdtempSync(path.join(tmpdir(), 'predict-'));
  const dataUri = toUri(path.join(dir, 'data'));
  await prepareData({ format: 'synthetic', task: 'vqa', seed: 2, train: 200, val: 20, test: 20, imageSize: 16, maxTextLength: 10 }, dataUri);
  const data = await openDataset(dataUri);
  const config = fitConfigToData({ width: 16, mlpWidth: 32, patchSize: 4, fusionLayers: 1, heads: { vision: 2, fusion: 2, decoder: 2 } }, data.manifest, data.tokenizer.vocabSize, 'model');
  const model = new VLModel(config, { seed: 4, name: 'predict-src' });
  const modelDir = toUri(path.join(dir, 'model'));
  await saveModel(modelDir, model, { task: 'vqa', tokenizer: data.tokenizer.toJSON(), answers: data.answerVocab, pixelStats: data.manifest.pixelStats, provenance: {} });

  // The stored example as a user would have it: a PNG file and the question text.
  const record = await data.split('test').record(0);
  const png = new PNG({ width: 16, height: 16 });
  for (let i = 0; i < 16 * 16; i++) {
    png.data[4 * i] = record.image[3 * i];
    png.data[4 * i + 1] = record.image[3 * i + 1];
    png.data[4 * i + 2] = record.image[3 * i + 2];
    png.data[4 * i + 3] = 255;
  }
  const question = data.tokenizer.decode(record.text);
  const expected = tf.tidy(() => {
    const logits = model.apply(batchTensors(recordsToBatch([record], data.manifest), config).inputs, { training: false }).answerLogits!;
    return logits.argMax(-1).dataSync()[0];
  });

  const p = await loadPredictor(modelDir);
  const { answer, confidence } = p.answer(PNG.sync.write(png), question);
  expect(answer).toBe(data.answerVocab[expected]);
  expect(confidence).toBeGreaterThan(0);
  expect(confidence).toBeLessThanOrEqual(1);
  expect(() => p.generate(PNG.sync.write(png))).toThrow(/answers questions/);
  p.dispose();
  model.dispose();
});
