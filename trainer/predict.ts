/**
 * Using an exported model on raw inputs, in a few lines:
 *
 *     import { loadPredictor } from 'amad-distill/dist/trainer/predict';
 *     const p = await loadPredictor('runs/demo-vqa/models/amad-kl/seed-0');
 *     const { answer, confidence } = p.answer(readFileSync('cat.jpg'), 'what color is the circle?');
 *     const { text } = p.generate(readFileSync('cat.jpg'));          // captioning / translation
 *
 * Images (JPEG or PNG bytes, or RGB pixels) are centre-cropped, resized and normalised exactly
 * as the training data was; text is tokenised with the model's own tokenizer.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend';
import { decodeImage, toSquareRgb } from './data/image';
import { tokenizerFromJson, type Tokenizer } from './data/tokenizer';
import { beamSearch } from './eval/decode';
import { loadModel, type LoadedModel } from './model-io';

export interface Predictor {
  readonly loaded: LoadedModel;
  /**
   * VQA: the most likely answer, in its surface form (the class's most frequent raw training
   * answer, which the official scorer rewards), and its probability.
   */
  answer(image: Uint8Array, question: string): { answer: string; confidence: number };
  /** Captioning (no source) or translation (source sentence): decoded text. */
  generate(image: Uint8Array, source?: string, opts?: { beamSize?: number; lengthPenalty?: number }): { text: string };
  dispose(): void;
}

/** Loads a model folder (local path, file:// or s3://) and wraps it for raw inputs. */
export async function loadPredictor(modelDir: string): Promise<Predictor> {
  await initBackend();
  const loaded = await loadModel(modelDir);
  const { model, metadata } = loaded;
  const c = model.config;
  const tokenizer: Tokenizer = tokenizerFromJson(metadata.tokenizer, `${modelDir}/model.json`);

  /** `[1, S, S, 3]` normalised pixels from file bytes or raw RGB `[S, S, 3]`. */
  const imageTensor = (image: Uint8Array): tf.Tensor4D => {
    const S = c.imageSize;
    const rgb = image.length === S * S * 3 ? image : toSquareRgb(decodeImage(image, 'the input image'), S);
    const { mean, std } = metadata.pixelStats;
    const x = new Float32Array(rgb.length);
    for (let i = 0; i < rgb.length; i++) x[i] = (rgb[i] / 255 - mean[i % 3]) / std[i % 3];
    return tf.tensor4d(x, [1, S, S, 3]);
  };
  const textTensor = (text: string): tf.Tensor2D => tf.tensor2d(tokenizer.encode(text, { length: c.maxTextLength }).ids, [1, c.maxTextLength], 'int32');

  return {
    loaded,
    answer(image, question) {
      if (metadata.task !== 'vqa') throw new Error(`this model was trained for ${metadata.task}: use generate()`);
      const probs = tf.tidy(() => tf.softmax(model.apply({ images: imageTensor(image), text: textTensor(question) }, { training: false }).answerLogits!));
      const p = probs.dataSync();
      probs.dispose();
      let best = 0;
      for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
      return { answer: metadata.answerForms?.[best] ?? metadata.answers[best], confidence: p[best] };
    },
    generate(image, source = '', opts = {}) {
      if (metadata.task === 'vqa') throw new Error('this model answers questions: use answer()');
      const images = imageTensor(image);
      const text = textTensor(source);
      try {
        const [ids] = beamSearch(model, { images, text }, { beamSize: opts.beamSize ?? 1, lengthPenalty: opts.lengthPenalty ?? 0 });
        return { text: tokenizer.decode(ids) };
      } finally {
        tf.dispose([images, text]);
      }
    },
    dispose: () => model.dispose(),
  };
}
