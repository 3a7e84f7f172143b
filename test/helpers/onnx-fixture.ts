/** The PyTorch-exported teacher fixture (examples/teachers/pytorch/train_and_export.py) and its reference outputs. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export const FIXTURE = path.resolve(__dirname, '..', 'fixtures', 'onnx-teacher');

/** The reference arrays PyTorch stored beside the fixture. */
export function readReference(): { ids: string[]; input_ids: number[][]; attention_mask: number[][]; arrays: Map<string, { shape: number[]; data: Float32Array }> } {
  const meta = JSON.parse(readFileSync(path.join(FIXTURE, 'reference.json'), 'utf8'));
  const buf = readFileSync(path.join(FIXTURE, meta.file));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const arrays = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const e of meta.arrays as { name: string; shape: number[]; offset: number }[]) {
    const size = e.shape.reduce((a, b) => a * b, 1);
    arrays.set(e.name, { shape: e.shape, data: all.subarray(e.offset, e.offset + size) });
  }
  return { ids: meta.ids, input_ids: meta.input_ids, attention_mask: meta.attention_mask, arrays };
}

