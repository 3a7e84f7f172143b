/**
 * What a model-running Lambda bundle carries besides index.js (issue 13 item 6, issue 15 item 3):
 *
 *   <bundle>/tfjs-backend-wasm*.wasm         where tfjs-backend-wasm looks (`__dirname` of index.js)
 *   <bundle>/node_modules/onnxruntime-node/  package.json, dist/, bin/napi-v6/linux/<arch>/ only
 *   <bundle>/node_modules/onnxruntime-common/
 *
 * onnxruntime-node is left external by esbuild (its binding is a `require` of a path built from
 * process.platform/arch, which a bundler cannot follow) and resolved at run time from the bundle's
 * own node_modules. Only the function architecture's binary ships: the package holds every
 * platform's (~300 MB), over Lambda's 250 MB unzipped limit; linux-arm64 alone is ~25 MB.
 */
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';

/** Packages the bundle resolves at run time instead of bundling. */
export const ONNX_RUNTIME_PACKAGE = 'onnxruntime-node';

/** The `bin/napi-v6/linux/<arch>` folder name of a Lambda architecture. */
export function onnxRuntimeArch(architecture: lambda.Architecture): 'arm64' | 'x64' {
  return architecture.name === lambda.Architecture.ARM_64.name ? 'arm64' : 'x64';
}

/** Shell commands (run after esbuild, in the bundle's output folder) that copy both runtimes' files. */
export function modelRuntimeCommands(inputDir: string, outputDir: string, architecture: lambda.Architecture): string[] {
  const modules = path.join(inputDir, 'node_modules');
  const ort = path.join(modules, 'onnxruntime-node');
  const outOrt = path.join(outputDir, 'node_modules', 'onnxruntime-node');
  const arch = onnxRuntimeArch(architecture);
  return [
    `cp "${path.join(modules, '@tensorflow', 'tfjs-backend-wasm', 'dist')}"/*.wasm "${outputDir}"`,
    `mkdir -p "${path.join(outOrt, 'bin', 'napi-v6', 'linux')}"`,
    `cp "${path.join(ort, 'package.json')}" "${outOrt}/"`,
    `cp -R "${path.join(ort, 'dist')}" "${outOrt}/"`,
    `cp -R "${path.join(ort, 'bin', 'napi-v6', 'linux', arch)}" "${path.join(outOrt, 'bin', 'napi-v6', 'linux')}/"`,
    `cp -R "${path.join(modules, 'onnxruntime-common')}" "${path.join(outputDir, 'node_modules')}/"`,
  ];
}

/** esbuild command hooks of a model-running handler. */
export function modelRuntimeHooks(architecture: lambda.Architecture): nodejs.ICommandHooks {
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (inputDir: string, outputDir: string) => modelRuntimeCommands(inputDir, outputDir, architecture),
  };
}
