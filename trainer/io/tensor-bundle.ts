/**
 * A bundle of named tensors on any storage URI, without tfjs-node's file:// handler (which does
 * not exist on wasm/cpu): `<prefix>.json` holds the weight specs and caller metadata,
 * `<prefix>.bin` the bytes from tf.io.encodeWeights. The .bin is written first and the .json
 * carries its sha256 and size, so a bundle whose .json exists is complete and verifiable.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { storageFor, StorageNotFoundError } from '../../contract/storage';
import { parseJson } from '../../contract/parse-json';

const FORMAT = 'amad-tensor-bundle/1';

interface BundleIndex<M> {
  format: typeof FORMAT;
  specs: tf.io.WeightsManifestEntry[];
  bytes: number;
  sha256: string;
  metadata: M;
}

/** Writes `named` and `metadata` to `<uriPrefix>.bin` + `<uriPrefix>.json`. */
export async function saveTensorBundle<M>(uriPrefix: string, named: readonly { name: string; tensor: tf.Tensor }[], metadata: M): Promise<{ bytes: number; sha256: string }> {
  const names = new Set<string>();
  for (const { name } of named) {
    if (names.has(name)) throw new Error(`saveTensorBundle: duplicate tensor name "${name}"`);
    names.add(name);
  }
  const { data, specs } = await tf.io.encodeWeights(named.map(({ name, tensor }) => ({ name, tensor })));
  const bin = Buffer.from(data);
  const sha256 = createHash('sha256').update(bin).digest('hex');
  const storage = storageFor(uriPrefix);
  await storage.put(`${uriPrefix}.bin`, bin);
  const index: BundleIndex<M> = { format: FORMAT, specs, bytes: bin.length, sha256, metadata };
  await storage.put(`${uriPrefix}.json`, JSON.stringify(index, null, 1));
  return { bytes: bin.length, sha256 };
}

/**
 * Reads only `<uriPrefix>.json`: the caller's metadata and the recorded sha256 of the .bin — for
 * a reader that does not use the weights (a model served from its ONNX export).
 */
export async function loadTensorBundleIndex<M>(uriPrefix: string): Promise<{ metadata: M; sha256: string }> {
  const index = await readIndex<M>(uriPrefix);
  return { metadata: index.metadata, sha256: index.sha256 };
}

async function readIndex<M>(uriPrefix: string): Promise<BundleIndex<M>> {
  let index: BundleIndex<M>;
  try {
    index = parseJson(await storageFor(uriPrefix).get(`${uriPrefix}.json`), `${uriPrefix}.json`) as BundleIndex<M>;
  } catch (e) {
    if (e instanceof StorageNotFoundError) throw new Error(`no saved tensors at ${uriPrefix}.json: check the path (a model folder holds model.json + model.bin)`);
    throw new Error(`${(e as Error).message}: the file is corrupt; re-create it`);
  }
  if (index.format !== FORMAT) throw new Error(`${uriPrefix}.json has format "${index.format}", expected "${FORMAT}"`);
  return index;
}

/** Reads a bundle; verifies size and sha256. Caller owns (disposes) the tensors. */
export async function loadTensorBundle<M>(uriPrefix: string): Promise<{ tensors: Record<string, tf.Tensor>; metadata: M; sha256: string }> {
  const index = await readIndex<M>(uriPrefix);
  const bin = await storageFor(uriPrefix).get(`${uriPrefix}.bin`);
  if (bin.length !== index.bytes) {
    throw new Error(`${uriPrefix}.bin is truncated or corrupt: ${bin.length} bytes, expected ${index.bytes}; re-create it`);
  }
  const sha256 = createHash('sha256').update(bin).digest('hex');
  if (sha256 !== index.sha256) throw new Error(`${uriPrefix}.bin failed its checksum (sha256 ${sha256}, expected ${index.sha256}); re-create it`);
  const ab = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
  return { tensors: tf.io.decodeWeights(ab, index.specs), metadata: index.metadata, sha256 };
}
