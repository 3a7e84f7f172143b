/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/** `amad export` of a model folder on S3 (a real S3 API, s3rver): the export lands beside it and runs. */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { useLocalS3 } from '../../helpers/local-s3';
import '../../../contract/s3-storage';
import { storageFor } from '../../../contract/storage';
import { OnnxSidecarSchema } from '../../../contract/onnx-model';
import { exportCommand } from '../../../cli/commands/export';
import { initBackend } from '../../../trainer/backend';
import { saveModel } from '../../../trainer/model-io';
import { tinyConfig } from '../model/fixtures';
import { testDeps } from '../../cli/fixtures/deps';
import { maxRelDiff, ortFeeds, peakyModel, rawInputs, tinyMetadata } from './parity-helpers';


useLocalS3(['models']);

test('exports s3://…/model to s3://…/model/model.onnx with its sidecar and tokenizer', async () => {
  await initBackend();
  const config = tinyConfig('two-stream', false);
  const model = peakyModel(config, 9);
  const { task, tokenizer, answers, pixelStats, provenance } = tinyMetadata(config, 'vqa');
  await saveModel('s3://models/run1/teacher', model, { task, tokenizer, answers, pixelStats, provenance: provenance ?? {} });
  const deps = testDeps();
  expect(await exportCommand({ modelDir: 's3://models/run1/teacher' }, deps)).toBe(0);
  expect(deps.stdout).toEqual(['s3://models/run1/teacher/model.onnx', 's3://models/run1/teacher/model.onnx.json', 's3://models/run1/teacher/tokenizer.json']);
  const store = storageFor('s3://models/run1/teacher/model.onnx');
  const sidecar = OnnxSidecarSchema.parse(JSON.parse((await store.get('s3://models/run1/teacher/model.onnx.json')).toString('utf8')));
  expect(sidecar.answers).toEqual(answers);
  const session = await ort.InferenceSession.create(new Uint8Array(await store.get('s3://models/run1/teacher/model.onnx')));
  const x = rawInputs(config, [3, 5], undefined, 4);
  const got = (await session.run(ortFeeds(config, x, false))).logits.data as Float32Array;
  const ref = tf.tidy(() =>
    model.apply({ images: tf.tensor4d(x.pixels, [2, config.imageSize, config.imageSize, 3]), text: tf.tensor2d(x.text, [2, config.maxTextLength], 'int32') }, { training: false }).answerLogits!.dataSync(),
  );
  expect(maxRelDiff(got, ref)).toBeLessThanOrEqual(1e-4);
  await session.release();
  model.dispose();
});
