/**
 * COCO captions, in either layout:
 * - official (Chen et al. 2015): `captions_<split>2014.json` =
 *   `{images: [{id, file_name}], annotations: [{id, image_id, caption}]}` plus an image folder per
 *   split (or one folder for all);
 * - Karpathy & Fei-Fei 2015 `dataset_coco.json` = `{images: [{filepath, filename, cocoid|imgid,
 *   split, sentences: [{raw}]}]}`, images under `<root>/<filepath>/<filename>`; "restval" joins
 *   train (the usual 113k/5k/5k split).
 * One example per image with all its captions (annotation order by caption id); images without a
 * caption are left out (the official val file has none, but a subset file may).
 */
import { z } from 'zod';
import { joinUri, toUri } from '../../../contract/storage';
import { DataError } from '../errors';
import { readJson } from '../json';
import type { CocoCaptionsSource, SplitName } from '../source';
import { imageFileLoader } from './images';
import { parseLayoutFile } from './parse-file';
import type { LoadedSource, RawExample } from './types';

const OfficialSchema = z.looseObject({
  images: z.array(z.looseObject({ id: z.number().int(), file_name: z.string() })),
  annotations: z.array(z.looseObject({ id: z.number().int(), image_id: z.number().int(), caption: z.string() })),
});
const KarpathySchema = z.looseObject({
  images: z.array(
    z.looseObject({
      filepath: z.string().optional(),
      filename: z.string(),
      cocoid: z.number().int().optional(),
      imgid: z.number().int().optional(),
      split: z.enum(['train', 'restval', 'val', 'test']),
      sentences: z.array(z.looseObject({ raw: z.string() })),
    }),
  ),
});

function imageDir(source: CocoCaptionsSource, split: SplitName): string {
  if (typeof source.images === 'string') return toUri(source.images);
  const dir = source.images[split];
  if (!dir) throw new DataError('bad-input', `coco-captions source: images.${split} is missing (give a folder per split, or one folder as images)`);
  return toUri(dir);
}

async function loadOfficialSplit(source: CocoCaptionsSource, split: SplitName, file: string): Promise<RawExample[]> {
  const uri = toUri(file);
  const data = parseLayoutFile(OfficialSchema, await readJson(uri), uri);
  const byImage = new Map<number, { id: number; caption: string }[]>();
  for (const img of data.images) byImage.set(img.id, []);
  const orphans = data.annotations.filter((a) => !byImage.has(a.image_id)).map((a) => a.id);
  if (orphans.length) {
    throw new DataError('id-mismatch', `${uri}: ${orphans.length} caption annotation(s) name an image_id missing from "images" (annotation ids ${orphans.slice(0, 5).join(', ')}${orphans.length > 5 ? ', …' : ''})`);
  }
  for (const a of data.annotations) byImage.get(a.image_id)!.push(a);
  const dir = imageDir(source, split);
  return data.images
    .filter((img) => byImage.get(img.id)!.length > 0)
    .map((img) => {
      const id = String(img.id);
      const imageUri = joinUri(dir, img.file_name);
      const captions = byImage.get(img.id)!.sort((x, y) => x.id - y.id).map((a) => a.caption.trim());
      return { id, imageKey: id, imageUri, text: '', targets: captions, loadImage: imageFileLoader(imageUri, source.imageSize, `captions of image ${id}`) };
    });
}

async function loadKarpathy(source: CocoCaptionsSource, file: string): Promise<Record<SplitName, RawExample[]>> {
  const uri = toUri(file);
  const data = parseLayoutFile(KarpathySchema, await readJson(uri), uri);
  const root = typeof source.images === 'string' ? toUri(source.images) : undefined;
  const out: Record<SplitName, RawExample[]> = { train: [], val: [], test: [] };
  data.images.forEach((img, i) => {
    const split: SplitName = img.split === 'restval' ? 'train' : img.split;
    const dir = root ?? imageDir(source, split);
    const id = String(img.cocoid ?? img.imgid ?? i);
    const imageUri = img.filepath ? joinUri(dir, img.filepath, img.filename) : joinUri(dir, img.filename);
    const captions = img.sentences.map((s) => s.raw.trim());
    if (captions.length === 0) return;
    out[split].push({ id, imageKey: id, imageUri, text: '', targets: captions, loadImage: imageFileLoader(imageUri, source.imageSize, `captions of image ${id}`) });
  });
  return out;
}

export async function loadCocoCaptions(source: CocoCaptionsSource): Promise<LoadedSource> {
  const description = { format: 'coco-captions', captions: source.captions, karpathy: source.karpathy, images: source.images };
  if (source.karpathy) {
    const s = await loadKarpathy(source, source.karpathy);
    return { task: 'captioning', train: s.train, val: s.val, test: s.test.length > 0 ? s.test : 'val', description };
  }
  const files = source.captions!;
  return {
    task: 'captioning',
    train: await loadOfficialSplit(source, 'train', files.train),
    val: await loadOfficialSplit(source, 'val', files.val),
    test: files.test ? await loadOfficialSplit(source, 'test', files.test) : 'val',
    description,
  };
}
