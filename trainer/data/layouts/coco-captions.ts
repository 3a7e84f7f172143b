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
 * The JSON files are read as streams, one element at a time (json-stream.ts).
 */
import { z } from 'zod';
import { joinUri, toUri } from '../../../contract/storage';
import { DataError } from '../errors';
import { ownString, streamJsonArray } from '../json-stream';
import type { CocoCaptionsSource, SplitName } from '../source';
import { parseLayoutItem } from './parse-file';
import type { LoadedSource, SourceImage } from './types';

const OfficialImageSchema = z.looseObject({ id: z.number().int(), file_name: z.string() });
const OfficialAnnotationSchema = z.looseObject({ id: z.number().int(), image_id: z.number().int(), caption: z.string() });
const KarpathyImageSchema = z.looseObject({
  filepath: z.string().optional(),
  filename: z.string(),
  cocoid: z.number().int().optional(),
  imgid: z.number().int().optional(),
  split: z.enum(['train', 'restval', 'val', 'test']),
  sentences: z.array(z.looseObject({ raw: z.string() })),
});

function imageDir(source: CocoCaptionsSource, split: SplitName): string {
  if (typeof source.images === 'string') return toUri(source.images);
  const dir = source.images[split];
  if (!dir) throw new DataError('bad-input', `coco-captions source: images.${split} is missing (give a folder per split, or one folder as images)`);
  return toUri(dir);
}

const captionsOf = (id: string, imageUri: string, captions: string[]): SourceImage => ({
  key: id,
  uri: imageUri,
  what: `captions of image ${id}`,
  examples: [{ id, text: '', targets: captions }],
});

async function loadOfficialSplit(source: CocoCaptionsSource, split: SplitName, file: string): Promise<SourceImage[]> {
  const uri = toUri(file);
  // Two streamed passes over the file: its images, then its captions.
  const images: { id: number; fileName: string }[] = [];
  const byImage = new Map<number, { id: number; caption: string }[]>();
  for await (const { index, value } of streamJsonArray(uri, 'images')) {
    const img = parseLayoutItem(OfficialImageSchema, value, uri, `images.${index}`);
    images.push({ id: img.id, fileName: ownString(img.file_name) });
    byImage.set(img.id, []);
  }
  const orphans: number[] = [];
  for await (const { index, value } of streamJsonArray(uri, 'annotations')) {
    const a = parseLayoutItem(OfficialAnnotationSchema, value, uri, `annotations.${index}`);
    const list = byImage.get(a.image_id);
    if (list) list.push({ id: a.id, caption: ownString(a.caption.trim()) });
    else orphans.push(a.id);
  }
  if (orphans.length) {
    throw new DataError('id-mismatch', `${uri}: ${orphans.length} caption annotation(s) name an image_id missing from "images" (annotation ids ${orphans.slice(0, 5).join(', ')}${orphans.length > 5 ? ', …' : ''})`);
  }
  const dir = imageDir(source, split);
  return images
    .filter((img) => byImage.get(img.id)!.length > 0)
    .map((img) => captionsOf(String(img.id), joinUri(dir, img.fileName), byImage.get(img.id)!.sort((x, y) => x.id - y.id).map((a) => a.caption)));
}

async function loadKarpathy(source: CocoCaptionsSource, file: string): Promise<Record<SplitName, SourceImage[]>> {
  const uri = toUri(file);
  const root = typeof source.images === 'string' ? toUri(source.images) : undefined;
  const out: Record<SplitName, SourceImage[]> = { train: [], val: [], test: [] };
  for await (const { index, value } of streamJsonArray(uri, 'images')) {
    const img = parseLayoutItem(KarpathyImageSchema, value, uri, `images.${index}`);
    const split: SplitName = img.split === 'restval' ? 'train' : img.split;
    const dir = root ?? imageDir(source, split);
    const id = String(img.cocoid ?? img.imgid ?? index);
    const imageUri = img.filepath ? joinUri(dir, img.filepath, img.filename) : joinUri(dir, img.filename);
    const captions = img.sentences.map((s) => ownString(s.raw.trim()));
    if (captions.length === 0) continue;
    out[split].push(captionsOf(id, imageUri, captions));
  }
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
