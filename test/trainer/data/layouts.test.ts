import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { openDataset } from '../../../trainer/data/dataset';
import { decodeImage, toSquareRgb } from '../../../trainer/data/image';
import { prepareData } from '../../../trainer/data/prepare';
import { grayPng, png, solidJpeg, write } from './fixtures';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'amad-layout-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('image decoding and resizing', () => {
  it('replicates grayscale to three channels', () => {
    const img = decodeImage(grayPng(4, 4, (x) => x * 60), 'gray.png');
    const rgb = toSquareRgb(img, 4);
    expect(rgb).toBeInstanceOf(Uint8Array);
    expect(rgb.length).toBe(4 * 4 * 3);
    expect(Array.from(rgb.slice(0, 12))).toEqual([0, 0, 0, 60, 60, 60, 120, 120, 120, 180, 180, 180]);
  });

  it('centre-crops to a square before resizing', () => {
    // 6×4: a red column at each side, blue in the central 4×4 square.
    const img = decodeImage(png(6, 4, (x) => (x === 0 || x === 5 ? [255, 0, 0] : [0, 0, 255])), 'wide.png');
    const rgb = toSquareRgb(img, 2);
    for (let i = 0; i < rgb.length; i += 3) expect([rgb[i], rgb[i + 1], rgb[i + 2]]).toEqual([0, 0, 255]);
  });

  it('upscales bilinearly on half-pixel centres (hand-worked)', () => {
    // Row [0, 200] → 4 pixels: centres at 0.25, 0.75, 1.25, 1.75 input pixels → 0, 50, 150, 200.
    const img = decodeImage(png(2, 2, (x) => (x === 0 ? [0, 0, 0] : [200, 200, 200])), 'up.png');
    const rgb = toSquareRgb(img, 4);
    expect([0, 1, 2, 3].map((x) => rgb[x * 3])).toEqual([0, 50, 150, 200]);
  });

  it('shrinks with a widened triangle filter (antialiased, hand-worked)', () => {
    // Row [0, 100, 200, 250] → 2 pixels. Output 0 is centred at 1.0 with support 2: weights
    // 0.75, 0.75, 0.25 on inputs 0..2 → (0·0.75 + 100·0.75 + 200·0.25) / 1.75 = 71.43 → 71.
    const row = [0, 100, 200, 250];
    const img = decodeImage(png(4, 4, (x) => [row[x]!, row[x]!, row[x]!]), 'down.png');
    const rgb = toSquareRgb(img, 2);
    expect(rgb[0]).toBe(71);
    // Output 1 centred at 3.0: inputs 1..3 weights 0.25, 0.75, 0.75 → (25 + 150 + 187.5) / 1.75 = 207.1 → 207.
    expect(rgb[3]).toBe(207);
  });

  it('decodes JPEG colour within compression error', () => {
    const rgb = toSquareRgb(decodeImage(solidJpeg(16, 16, [200, 40, 90]), 'x.jpg'), 4);
    for (let i = 0; i < rgb.length; i += 3) {
      expect(Math.abs(rgb[i]! - 200)).toBeLessThan(6);
      expect(Math.abs(rgb[i + 1]! - 40)).toBeLessThan(6);
      expect(Math.abs(rgb[i + 2]! - 90)).toBeLessThan(6);
    }
  });
});

function cocoImages(root: string, split: string, ids: number[]): void {
  for (const id of ids) write(path.join(root, `${split}2014`, `COCO_${split}2014_${String(id).padStart(12, '0')}.jpg`), solidJpeg(10, 10, [id * 20, 100, 50]));
}

describe('COCO captions layout', () => {
  it('official captions_*.json: one example per image, every caption a reference', async () => {
    const root = tmp();
    cocoImages(root, 'train', [1, 2]);
    cocoImages(root, 'val', [5]);
    const captions = (split: string, imgs: number[], caps: [number, number, string][]) =>
      write(
        path.join(root, `captions_${split}2014.json`),
        JSON.stringify({
          images: imgs.map((id) => ({ id, file_name: `COCO_${split}2014_${String(id).padStart(12, '0')}.jpg`, width: 10, height: 10 })),
          annotations: caps.map(([id, image_id, caption]) => ({ id, image_id, caption })),
        }),
      );
    const source = {
      format: 'coco-captions' as const,
      captions: {
        train: captions('train', [1, 2], [[11, 1, 'A dog on grass.'], [10, 1, 'a brown dog'], [12, 2, 'Two cats sleeping.']]),
        val: captions('val', [5], [[50, 5, 'a red bus'], [51, 5, 'A bus on the road.']]),
      },
      images: { train: path.join(root, 'train2014'), val: path.join(root, 'val2014') },
      imageSize: 8,
    };
    const out = tmp();
    const summary = await prepareData(source, out);
    expect(summary.splits.train).toMatchObject({ images: 2, examples: 3 });
    expect(summary.splits.test.sameAs).toBe('val');
    const ds = await openDataset(out);
    const train = ds.split('train');
    const ids = (await train.batch([0, 1, 2])).ids;
    expect(ids).toEqual(['1#0', '1#1', '2']); // caption id order: 10 before 11
    expect(ds.tokenizer.decode((await train.record(0)).target!)).toBe('a brown dog');
    expect((await ds.split('val').references()).get('5')).toEqual(['a red bus', 'A bus on the road.']);
  });

  it('Karpathy dataset_coco.json: splits from the file, restval joins train', async () => {
    const root = tmp();
    cocoImages(root, 'train', [1, 2]);
    cocoImages(root, 'val', [5, 6]);
    const entry = (filepath: string, id: number, split: string, raws: string[]) => ({
      filepath, filename: `COCO_${filepath}_${String(id).padStart(12, '0')}.jpg`, cocoid: id, imgid: id, split,
      sentences: raws.map((raw) => ({ raw, tokens: raw.split(' ') })),
    });
    const file = write(
      path.join(root, 'dataset_coco.json'),
      JSON.stringify({
        dataset: 'coco',
        images: [
          entry('train2014', 1, 'train', ['a dog']),
          entry('train2014', 2, 'restval', ['a cat', 'one cat']),
          entry('val2014', 5, 'val', ['a bus']),
          entry('val2014', 6, 'test', ['a tree', 'green tree']),
        ],
      }),
    );
    const summary = await prepareData({ format: 'coco-captions', karpathy: file, images: root, imageSize: 8 }, tmp());
    expect(summary.splits.train).toMatchObject({ images: 2, examples: 3 });
    expect(summary.splits.val).toMatchObject({ images: 1, examples: 1 });
    expect(summary.splits.test).toMatchObject({ images: 1, examples: 1 });
    expect(summary.splits.test.sameAs).toBeUndefined();
  });

  it('refuses annotations that name an unknown image', async () => {
    const root = tmp();
    cocoImages(root, 'train', [1]);
    const f = write(path.join(root, 'c.json'), JSON.stringify({ images: [{ id: 1, file_name: 'x.jpg' }], annotations: [{ id: 7, image_id: 2, caption: 'x' }] }));
    await expect(prepareData({ format: 'coco-captions', captions: { train: f, val: f }, images: root }, tmp())).rejects.toThrow(/c\.json: 1 caption annotation\(s\) name an image_id missing.*7/);
  });
});

describe('Multi30K layout', () => {
  function multi30k(root: string, lines: { en: string; de: string; img: string }[], split: string) {
    return {
      source: write(path.join(root, `${split}.en`), lines.map((l) => l.en).join('\n') + '\n'),
      target: write(path.join(root, `${split}.de`), lines.map((l) => l.de).join('\n') + '\n'),
      imageList: write(path.join(root, `${split}_images.txt`), lines.map((l) => l.img).join('\n') + '\n'),
    };
  }

  it('pairs line i of the source, target and image list', async () => {
    const root = tmp();
    for (const name of ['1.jpg', '2.jpg', '3.jpg']) write(path.join(root, 'images', name), solidJpeg(8, 12, [10, 200, 30]));
    const source = {
      format: 'multi30k' as const,
      train: multi30k(root, [{ en: 'A man rides a bike.', de: 'Ein Mann fährt Fahrrad.', img: '1.jpg' }, { en: 'Two dogs play.', de: 'Zwei Hunde spielen.', img: '2.jpg' }], 'train'),
      val: multi30k(root, [{ en: 'A dog runs.', de: 'Ein Hund rennt.', img: '3.jpg' }], 'val'),
      images: path.join(root, 'images'),
      imageSize: 8,
    };
    const out = tmp();
    const summary = await prepareData(source, out);
    expect(summary.splits.train.examples).toBe(2);
    const ds = await openDataset(out);
    const b = await ds.split('train').batch([1]);
    expect(ds.tokenizer.decode(b.text)).toBe('two dogs play .');
    expect(ds.tokenizer.decode(b.target!)).toBe('zwei hunde spielen .');
    expect((await ds.split('test').references()).get('val-000000')).toEqual(['Ein Hund rennt.']);
  });

  it('refuses parallel files of different lengths, naming them', async () => {
    const root = tmp();
    const files = multi30k(root, [{ en: 'a', de: 'b', img: '1.jpg' }], 'train');
    writeFileSync(files.target, 'b\nc\n');
    await expect(prepareData({ format: 'multi30k', train: files, val: files, images: root }, tmp())).rejects.toThrow(/train\.en has 1 lines, .*train\.de 2/);
  });
});
