/**
 * A given teacher's data contract (an ONNX teacher, trainer/onnx/teacher-data.ts) carried through
 * the fanned-out preparation: the plan takes its image size and text length, the vocabulary its
 * tokenizer and answer classes (normalised like the labels, written as the teacher spells them),
 * the merge its pixel normalisation. prepareData runs the same steps as the pipeline's Lambdas.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { prepareData, type TeacherDataContract } from '../../../trainer/data/prepare';
import { buildWordTokenizer } from '../../../trainer/data/tokenizer';

const SOURCE = { format: 'synthetic', task: 'vqa', seed: 3, train: 40, val: 8, test: 8, imageSize: 16, maxTextLength: 8, shardSize: 40 } as const;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'amad-prep-teacher-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("prepareData with a teacher: its sizes, tokenizer, answer classes and pixel normalisation replace the data's", async () => {
  // Arrange: a teacher whose sizes differ from the source's, with answers spelled its own way.
  const tokenizer = buildWordTokenizer(['what colour is the shape', 'how many shapes are there'], { minCount: 1, maxVocab: 100, lowercase: true });
  const teacher: TeacherDataContract = {
    tokenizer,
    imageSize: 24,
    maxTextLength: 10,
    pixelStats: { mean: [0.25, 0.5, 0.75], std: [0.1, 0.2, 0.3] },
    answers: ['Yes', 'NO', 'circle', 'three'],
  };

  // Act
  const summary = await prepareData(SOURCE, pathToFileURL(dir).href, { teacher });

  // Assert
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  expect([manifest.imageSize, manifest.maxTextLength]).toEqual([24, 10]);
  // The shards were cut for them too: the records hold 10 text ids, the image records 24×24×3 pixels.
  const shapeOf = (layout: { fields: { name: string; shape: number[] }[] }, name: string) => layout.fields.find((f) => f.name === name)?.shape;
  expect(shapeOf(manifest.layout, 'text')).toEqual([10]);
  expect(shapeOf(manifest.imageLayout, 'image')?.reduce((a, b) => a * b, 1)).toBe(24 * 24 * 3);
  expect(manifest.pixelStats).toEqual({ mean: [0.25, 0.5, 0.75], std: [0.1, 0.2, 0.3] });
  expect(manifest.answers.vocab).toEqual(['yes', 'no', 'circle', '3']);
  expect(manifest.answers.surfaceForms).toEqual(['Yes', 'NO', 'circle', 'three']);
  expect(JSON.parse(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'))).toEqual(tokenizer.toJSON());
  expect(summary.vocabSize).toBe(tokenizer.vocabSize);
  expect(summary.answerVocabSize).toBe(4);
});
