/**
 * Multi30K (Elliott et al. 2016): per split a source file (train.en), a parallel target file
 * (train.de) and an image-name list (train_images.txt), one item per line, plus the Flickr30k
 * image folder. Line i of the three files is one example.
 */
import { joinUri, storageFor, toUri } from '../../../contract/storage';
import { DataError } from '../errors';
import type { Multi30kSource, SplitName } from '../source';
import { ImageGrouper, type LoadedSource, type SourceImage } from './types';

async function readLines(path: string): Promise<{ uri: string; lines: string[] }> {
  const uri = toUri(path);
  const text = (await storageFor(uri).get(uri)).toString('utf8');
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // the final newline ends the last line
  return { uri, lines };
}

async function loadSplit(source: Multi30kSource, split: SplitName, files: Multi30kSource['train']): Promise<SourceImage[]> {
  const [src, tgt, names] = await Promise.all([readLines(files.source), readLines(files.target), readLines(files.imageList)]);
  if (src.lines.length !== tgt.lines.length || src.lines.length !== names.lines.length) {
    throw new DataError(
      'id-mismatch',
      `multi30k ${split}: the parallel files differ in length: ${src.uri} has ${src.lines.length} lines, ${tgt.uri} ${tgt.lines.length}, ${names.uri} ${names.lines.length}`,
    );
  }
  const dir = toUri(source.images);
  const grouper = new ImageGrouper();
  src.lines.forEach((line, i) => {
    const name = names.lines[i]!.trim();
    const id = `${split}-${String(i).padStart(6, '0')}`;
    grouper.add(name, joinUri(dir, name), () => `sentence pair ${id} (line ${i + 1} of ${names.uri})`, { id, text: line.trim(), targets: [tgt.lines[i]!.trim()] });
  });
  return grouper.images();
}

export async function loadMulti30k(source: Multi30kSource): Promise<LoadedSource> {
  return {
    task: 'translation',
    train: await loadSplit(source, 'train', source.train),
    val: await loadSplit(source, 'val', source.val),
    test: source.test ? await loadSplit(source, 'test', source.test) : 'val',
    description: { format: 'multi30k', train: source.train, val: source.val, test: source.test, images: source.images },
  };
}
