/** Loading one image file of a public layout through contract/storage. */
import { storageFor, StorageNotFoundError } from '../../../contract/storage';
import { DataError } from '../errors';
import { decodeImage, toSquareRgb } from '../image';

/**
 * A loader for the image at `uri`, resized to `size`; errors name the example (`what`, e.g.
 * "question 42 (image 7)") and the path.
 */
export function imageFileLoader(uri: string, size: number, what: string): () => Promise<Uint8Array> {
  return async () => {
    let bytes: Buffer;
    try {
      bytes = await storageFor(uri).get(uri);
    } catch (e) {
      if (e instanceof StorageNotFoundError) {
        throw new DataError('missing-image', `image for ${what} not found: ${uri} (set skipMissingImages to skip such examples)`);
      }
      throw e;
    }
    return toSquareRgb(decodeImage(bytes, `${what} (${uri})`), size);
  };
}

/**
 * File name from a pattern: {split}, {id}, {id:N} (id zero-padded to N digits).
 * `COCO_{split}2014_{id:12}.jpg` with split "val", id 42 → COCO_val2014_000000000042.jpg.
 */
export function imageFileName(pattern: string, split: string, id: string | number): string {
  return pattern.replace(/\{(split|id)(?::(\d+))?\}/g, (_, key: string, width?: string) => {
    const v = key === 'split' ? split : String(id);
    return width ? v.padStart(Number(width), '0') : v;
  });
}
