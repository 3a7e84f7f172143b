/**
 * Writes a model's ONNX export to storage (local folder or s3://): model.onnx, its sidecar
 * model.onnx.json, the tokenizer the sidecar names, and for generation encoder.onnx, decoder.onnx
 * and decoder-with-past.onnx.
 * Used by `amad export` and by every training job (model.onnx beside model.json/model.bin).
 */
import { joinUri, storageFor, toUri } from '../../contract/storage';
import { sidecarPathFor } from '../../contract/onnx-model';
import { loadModel } from '../model-io';
import type { VLModel } from '../model';
import { buildOnnxExport, type ExportMetadata, type WeightMap } from './export-model';

/** The model's weights as float32 arrays by model-relative name. */
export function weightMapOf(model: VLModel): WeightMap {
  return new Map(model.namedWeights().map(({ name, tensor }) => [name, { data: tensor.dataSync() as Float32Array, shape: tensor.shape }]));
}

/** The files written beside `<dir>/<name>.onnx`: `model.onnx` gets plain names, `x.onnx` gets `x.`-prefixed ones. */
export function companionNames(onnxFileName: string): { tokenizer: string; encoder: string; decoder: string; decoderWithPast: string } {
  const stem = onnxFileName.replace(/\.onnx$/i, '');
  const prefix = stem === 'model' ? '' : `${stem}.`;
  return { tokenizer: `${prefix}tokenizer.json`, encoder: `${prefix}encoder.onnx`, decoder: `${prefix}decoder.onnx`, decoderWithPast: `${prefix}decoder-with-past.onnx` };
}

export interface WrittenExport {
  /** URIs of every file written, model.onnx first. */
  readonly files: string[];
  /** Size of model.onnx in bytes. */
  readonly modelBytes: number;
}

/** Builds and writes the export of a live model. @throws OnnxExportError (bad opset or task/config mismatch) */
export async function writeOnnxExport(model: VLModel, meta: ExportMetadata, outUri: string, opts: { opset?: number } = {}): Promise<WrittenExport> {
  const slash = outUri.lastIndexOf('/');
  const dir = outUri.slice(0, slash);
  const fileName = outUri.slice(slash + 1);
  if (!/\.onnx$/i.test(fileName)) throw new Error(`export output ${outUri} must name a .onnx file`);
  const names = companionNames(fileName);
  const generation = meta.task !== 'vqa';
  const exp = buildOnnxExport(model.config, weightMapOf(model), meta, {
    opset: opts.opset,
    files: { tokenizer: names.tokenizer, ...(generation ? { encoder: names.encoder, decoder: names.decoder, decoderWithPast: names.decoderWithPast } : {}) },
  });
  const store = storageFor(outUri);
  const writes: [string, Uint8Array | string][] = [
    [outUri, exp.model],
    [sidecarPathFor(outUri), JSON.stringify(exp.sidecar, null, 2) + '\n'],
    [joinUri(dir, names.tokenizer), JSON.stringify(meta.tokenizer) + '\n'],
  ];
  if (exp.encoder && exp.decoder && exp.decoderWithPast) {
    writes.push([joinUri(dir, names.encoder), exp.encoder], [joinUri(dir, names.decoder), exp.decoder], [joinUri(dir, names.decoderWithPast), exp.decoderWithPast]);
  }
  for (const [uri, body] of writes) await store.put(uri, typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  return { files: writes.map(([u]) => u), modelBytes: exp.model.byteLength };
}

/** `amad export`: loads `<modelDir>/model.json` + `model.bin` and writes the export (default `<modelDir>/model.onnx`). */
export async function exportModelDir(modelDir: string, opts: { out?: string; opset?: number } = {}): Promise<WrittenExport> {
  const dirUri = toUri(modelDir);
  const outUri = opts.out ? toUri(opts.out) : joinUri(dirUri, 'model.onnx');
  const { model, metadata } = await loadModel(dirUri);
  try {
    return await writeOnnxExport(model, metadata, outUri, { opset: opts.opset });
  } finally {
    model.dispose();
  }
}
