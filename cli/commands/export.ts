/**
 * `amad export <model dir> [--out model.onnx] [--opset N]`: writes the ONNX export of a trained
 * model (model.json + model.bin) — model.onnx, its sidecar model.onnx.json, the tokenizer, and
 * for generation models encoder.onnx + decoder.onnx — see docs/SERVING.md.
 */
import { joinUri, storageFor, toUri } from '../../contract/storage';
import { initBackend } from '../../trainer/backend';
import { exportModelDir } from '../../trainer/onnx/export-files';
import { checkOpset, DEFAULT_OPSET, OnnxExportError } from '../../trainer/onnx/export-model';
import { UsageError, type CommandDeps } from './deps';

export interface ExportArgs {
  /** Model folder (local path, file:// or s3://) holding model.json + model.bin. */
  readonly modelDir: string;
  /** @default <modelDir>/model.onnx */
  readonly out?: string;
  /** @default DEFAULT_OPSET */
  readonly opset?: number;
}

export async function exportCommand(args: ExportArgs, deps: CommandDeps): Promise<number> {
  let opset: number;
  try {
    opset = checkOpset(args.opset ?? DEFAULT_OPSET);
  } catch (e) {
    throw new UsageError(`--opset: ${(e as OnnxExportError).message}`);
  }
  if (args.out !== undefined && !/\.onnx$/i.test(args.out)) throw new UsageError(`--out ${args.out}: name a .onnx file, e.g. --out model.onnx`);
  const modelJson = joinUri(toUri(args.modelDir), 'model.json');
  if (!(await storageFor(modelJson).exists(modelJson))) {
    throw new UsageError(`${args.modelDir} holds no model.json: pass a model folder written by a training job (model.json + model.bin)`);
  }
  await initBackend();
  const written = await exportModelDir(args.modelDir, { out: args.out, opset });
  for (const file of written.files) deps.out(file);
  deps.err(`exported ${args.modelDir} (opset ${opset}, model.onnx ${written.modelBytes} bytes)`);
  return 0;
}
