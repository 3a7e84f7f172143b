/**
 * The binary shard format: a small self-describing header, then fixed-size records, so record i
 * sits at `dataOffset + i·recordSize` and can be read alone (random access, byte ranges on S3).
 *
 *     offset 0   8 bytes   magic "AMADSHRD"
 *            8   uint32    format version (SHARD_VERSION)
 *           12   uint32    header length L (bytes of UTF-8 JSON)
 *           16   L bytes   header JSON {kind, task, split, count, layout: {recordSize, fields}}
 *                          padded with spaces so records start at a multiple of 16
 *   dataOffset   count × recordSize bytes of records
 *
 * Two kinds of shard (version 2): images are stored ONCE, in image shards, and example records
 * reference them. VQA v2 asks ~5.4 questions per image and COCO has 5 captions per image, so
 * storing the pixels in every example record (version 1) multiplied the data by that ratio.
 *
 * Image shard (`kind: "images"`), one record per image:
 *   id           uint8[ID_BYTES]     UTF-8 image id (the layout's image key), zero-padded
 *   image        uint8[S, S, 3]      RGB pixels (not normalised; the reader normalises)
 * Example shard (`kind: "examples"`), one record per example; the manifest names the image shard
 * an example shard's records point into:
 *   id           uint8[ID_BYTES]     UTF-8 example id, zero-padded
 *   imageId      uint8[ID_BYTES]     UTF-8 id of its image (checked against the image record)
 *   imageIndex   int32[1]            record index of its image in that image shard
 *   text         int32[Lt]           encoder ids, PAD after the end
 *   target       int32[Ld + 1]       BOS … EOS PAD…            (captioning, translation)
 *   answerIndex  int32[MAX_ANSWERS]  answer class of each soft score, −1 = unused  (VQA)
 *   answerScore  float32[MAX_ANSWERS] soft score min(#annotators/3, 1)            (VQA)
 *   answerLabel  int32[1]            most frequent answer's class, −1 = none      (VQA)
 * All numbers little-endian. Sparse answers: VQA has 10 annotators, so at most 10 distinct
 * answers carry a score.
 */
import type { DataTask } from './source';
import { DataError } from './errors';

export const SHARD_MAGIC = 'AMADSHRD';
export const SHARD_VERSION = 2;
/** Bytes of the id field (UTF-8). */
export const ID_BYTES = 48;
/** Sparse soft-score pairs per record (VQA v2 has 10 answers per question). */
export const MAX_ANSWERS = 10;
const FIXED_HEADER = 16;
const DATA_ALIGN = 16;

export type FieldDtype = 'uint8' | 'int32' | 'float32';
export const FIELD_NAMES = ['id', 'image', 'imageId', 'imageIndex', 'text', 'target', 'answerIndex', 'answerScore', 'answerLabel'] as const;
export type FieldName = (typeof FIELD_NAMES)[number];
export type ShardKind = 'images' | 'examples';
export interface FieldSpec {
  readonly name: FieldName;
  readonly dtype: FieldDtype;
  readonly shape: readonly number[];
  /** Byte offset inside the record. */
  readonly offset: number;
}
export interface RecordLayout {
  readonly recordSize: number;
  readonly fields: readonly FieldSpec[];
}

export interface ShardHeader {
  readonly kind: ShardKind;
  readonly task: DataTask;
  readonly split: string;
  readonly count: number;
  readonly layout: RecordLayout;
}

/** One stored record: an image (id + image) or an example (id, imageId, imageIndex and the rest). */
export interface ShardRecord {
  readonly id: string;
  /** `[S, S, 3]` uint8 (image records; the dataset reader attaches it to example records). */
  readonly image?: Uint8Array;
  /** Example records: the id of the example's image. */
  readonly imageId?: string;
  /** Example records: the image's record index in the image shard the manifest names. */
  readonly imageIndex?: number;
  /** `[Lt]` (example records). */
  readonly text?: Int32Array;
  /** `[Ld + 1]` (generation tasks). */
  readonly target?: Int32Array;
  /** Sparse soft scores (VQA): parallel arrays, −1 / 0 padding after the last pair. */
  readonly answerIndex?: Int32Array;
  readonly answerScore?: Float32Array;
  readonly answerLabel?: number;
}

const BYTES: Readonly<Record<FieldDtype, number>> = { uint8: 1, int32: 4, float32: 4 };

export interface LayoutParams {
  readonly task: DataTask;
  readonly imageSize: number;
  readonly maxTextLength: number;
  readonly maxTargetLength: number;
}

/** The image-shard record layout: the image id and its pixels. */
export function imageRecordLayout(imageSize: number): RecordLayout {
  return alignFields([
    { name: 'id', dtype: 'uint8', shape: [ID_BYTES] },
    { name: 'image', dtype: 'uint8', shape: [imageSize, imageSize, 3] },
  ]);
}

/** The example-record layout of a task; int32/float32 fields are 4-byte aligned. */
export function recordLayout(p: LayoutParams): RecordLayout {
  const wanted: Omit<FieldSpec, 'offset'>[] = [
    { name: 'id', dtype: 'uint8', shape: [ID_BYTES] },
    { name: 'imageId', dtype: 'uint8', shape: [ID_BYTES] },
    { name: 'imageIndex', dtype: 'int32', shape: [1] },
    { name: 'text', dtype: 'int32', shape: [p.maxTextLength] },
  ];
  if (p.task === 'vqa') {
    wanted.push(
      { name: 'answerIndex', dtype: 'int32', shape: [MAX_ANSWERS] },
      { name: 'answerScore', dtype: 'float32', shape: [MAX_ANSWERS] },
      { name: 'answerLabel', dtype: 'int32', shape: [1] },
    );
  } else {
    wanted.push({ name: 'target', dtype: 'int32', shape: [p.maxTargetLength + 1] });
  }
  return alignFields(wanted);
}

function alignFields(wanted: readonly Omit<FieldSpec, 'offset'>[]): RecordLayout {
  let offset = 0;
  const fields = wanted.map((f) => {
    const size = BYTES[f.dtype];
    offset = Math.ceil(offset / size) * size;
    const spec = { ...f, offset };
    offset += size * f.shape.reduce((a, b) => a * b, 1);
    return spec;
  });
  return { recordSize: Math.ceil(offset / 4) * 4, fields };
}

const elements = (f: FieldSpec) => f.shape.reduce((a, b) => a * b, 1);

/** Writes one record at `offset` of `view`. */
export function writeRecord(view: DataView, base: number, layout: RecordLayout, rec: ShardRecord): void {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  for (const f of layout.fields) {
    const at = base + f.offset;
    const n = elements(f);
    switch (f.name) {
      case 'id':
      case 'imageId': {
        const value = f.name === 'id' ? rec.id : (rec.imageId ?? '');
        const enc = Buffer.from(value, 'utf8');
        if (enc.length > ID_BYTES) throw new DataError('bad-input', `${f.name === 'id' ? 'example' : 'image'} id "${value}" is ${enc.length} bytes; ids are limited to ${ID_BYTES}`);
        bytes.fill(0, at, at + ID_BYTES);
        bytes.set(enc, at);
        break;
      }
      case 'image':
        if (!rec.image || rec.image.length !== n) throw new RangeError(`record ${rec.id}: image has ${rec.image?.length ?? 0} bytes, layout wants ${n}`);
        bytes.set(rec.image, at);
        break;
      case 'answerLabel':
        view.setInt32(at, rec.answerLabel ?? -1, true);
        break;
      case 'imageIndex':
        view.setInt32(at, rec.imageIndex ?? -1, true);
        break;
      case 'answerScore': {
        const src = rec.answerScore;
        for (let i = 0; i < n; i++) view.setFloat32(at + 4 * i, src && i < src.length ? src[i]! : 0, true);
        break;
      }
      default: {
        // int32 arrays: text, target, answerIndex (−1 padding for answerIndex, PAD = 0 for text).
        const src = rec[f.name as 'text' | 'target' | 'answerIndex'];
        const fill = f.name === 'answerIndex' ? -1 : 0;
        if (src && src.length > n) throw new RangeError(`record ${rec.id}: ${f.name} has ${src.length} values, layout holds ${n}`);
        for (let i = 0; i < n; i++) view.setInt32(at + 4 * i, src && i < src.length ? src[i]! : fill, true);
      }
    }
  }
}

/** Reads record `i` of a decoded shard. */
export function readRecord(view: DataView, base: number, layout: RecordLayout): ShardRecord {
  const out: Record<string, unknown> = {};
  for (const f of layout.fields) {
    const at = base + f.offset;
    const n = elements(f);
    if (f.name === 'id' || f.name === 'imageId') {
      const raw = new Uint8Array(view.buffer, view.byteOffset + at, ID_BYTES);
      const end = raw.indexOf(0);
      out[f.name] = Buffer.from(raw.subarray(0, end < 0 ? ID_BYTES : end)).toString('utf8');
    } else if (f.name === 'image') {
      out.image = new Uint8Array(view.buffer, view.byteOffset + at, n).slice();
    } else if (f.name === 'answerLabel' || f.name === 'imageIndex') {
      out[f.name] = view.getInt32(at, true);
    } else if (f.dtype === 'float32') {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = view.getFloat32(at + 4 * i, true);
      out[f.name] = a;
    } else {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++) a[i] = view.getInt32(at + 4 * i, true);
      out[f.name] = a;
    }
  }
  return out as unknown as ShardRecord;
}

/** Serialises a whole shard. */
export function encodeShard(header: Omit<ShardHeader, 'count'>, records: readonly ShardRecord[]): Buffer {
  const json = JSON.stringify({ ...header, count: records.length });
  const jsonBytes = Buffer.from(json, 'utf8');
  const dataOffset = Math.ceil((FIXED_HEADER + jsonBytes.length) / DATA_ALIGN) * DATA_ALIGN;
  const buf = Buffer.alloc(dataOffset + records.length * header.layout.recordSize);
  buf.write(SHARD_MAGIC, 0, 'ascii');
  buf.writeUInt32LE(SHARD_VERSION, 8);
  buf.writeUInt32LE(dataOffset - FIXED_HEADER, 12);
  buf.fill(0x20, FIXED_HEADER, dataOffset);
  jsonBytes.copy(buf, FIXED_HEADER);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  records.forEach((r, i) => writeRecord(view, dataOffset + i * header.layout.recordSize, header.layout, r));
  return buf;
}

export interface DecodedShard {
  readonly header: ShardHeader;
  readonly dataOffset: number;
  readonly view: DataView;
}

/** Parses a shard's header and checks that its size matches it. `uri` names it in errors. */
export function decodeShard(buf: Buffer, uri: string): DecodedShard {
  const bad = (msg: string) => new DataError('bad-shard', `shard ${uri}: ${msg}; re-run prepare-data to rebuild it`);
  if (buf.length < FIXED_HEADER || buf.toString('ascii', 0, 8) !== SHARD_MAGIC) throw bad(`not a shard file (magic "${SHARD_MAGIC}" missing)`);
  const version = buf.readUInt32LE(8);
  if (version !== SHARD_VERSION) throw bad(`format version ${version}, this reader understands ${SHARD_VERSION} (images stored once); the dataset was prepared by an older version: re-prepare it`);
  const headerLength = buf.readUInt32LE(12);
  if (FIXED_HEADER + headerLength > buf.length) throw bad(`truncated header (${buf.length} bytes, header needs ${FIXED_HEADER + headerLength})`);
  let header: ShardHeader;
  try {
    header = JSON.parse(buf.toString('utf8', FIXED_HEADER, FIXED_HEADER + headerLength)) as ShardHeader;
  } catch {
    throw bad('header JSON is corrupt');
  }
  if (!header || typeof header.count !== 'number' || typeof header.layout?.recordSize !== 'number' || !Array.isArray(header.layout.fields)) {
    throw bad('header JSON lacks count or layout');
  }
  const dataOffset = FIXED_HEADER + headerLength;
  const expected = dataOffset + header.count * header.layout.recordSize;
  if (buf.length !== expected) throw bad(`size ${buf.length} bytes, header says ${header.count} records → ${expected} bytes (truncated or padded)`);
  return { header, dataOffset, view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength) };
}

export function shardRecord(shard: DecodedShard, i: number): ShardRecord {
  if (i < 0 || i >= shard.header.count) throw new RangeError(`record ${i} outside the shard (0..${shard.header.count - 1})`);
  return readRecord(shard.view, shard.dataOffset + i * shard.header.layout.recordSize, shard.header.layout);
}
