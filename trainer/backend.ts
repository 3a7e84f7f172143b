/**
 * Picks the fastest TensorFlow.js backend this process can load, once.
 *
 * Order: tfjs-node-gpu (CUDA, the container) → tfjs-node (native CPU) → wasm (XNNPACK, ships
 * inside its npm package) → cpu (pure JS, ~25× slower than wasm). The native packages are
 * optional dependencies: on machines where their install script could not download
 * libtensorflow they are simply absent, and we fall through. `AMAD_BACKEND` forces one.
 */
import * as tf from '@tensorflow/tfjs';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** Values accepted by `AMAD_BACKEND`; `node-gpu` and `node` name the packages. */
const ALIASES: Record<string, BackendName> = {
  'node-gpu': 'tensorflow-gpu',
  'tensorflow-gpu': 'tensorflow-gpu',
  gpu: 'tensorflow-gpu',
  node: 'tensorflow',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

const AUTO_ORDER: BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

let selected: Promise<BackendName> | undefined;

/** Loads the package that registers `name`; false when it is not installed or cannot load. */
function loadBackendPackage(name: BackendName): boolean {
  try {
    switch (name) {
      case 'tensorflow-gpu':
        // tfjs-node-gpu registers itself under the backend name 'tensorflow'.
        require('@tensorflow/tfjs-node-gpu');
        return true;
      case 'tensorflow':
        require('@tensorflow/tfjs-node');
        return true;
      case 'wasm':
        require('@tensorflow/tfjs-backend-wasm');
        return true;
      case 'cpu':
        return true; // bundled with @tensorflow/tfjs
    }
  } catch {
    return false;
  }
}

async function trySetBackend(name: BackendName): Promise<boolean> {
  if (!loadBackendPackage(name)) return false;
  const registered = name === 'tensorflow-gpu' ? 'tensorflow' : name;
  try {
    return await tf.setBackend(registered);
  } catch {
    return false;
  }
}

export interface BackendChoice {
  /** The backend in use. */
  readonly name: BackendName;
  /** Why it was chosen: `env` (AMAD_BACKEND) or `auto`. */
  readonly reason: 'env' | 'auto';
}

/**
 * Selects and initialises the backend (idempotent: the first call decides, later calls return
 * the same promise). Logs the choice once to stderr as one JSON line.
 * @throws Error naming AMAD_BACKEND and the accepted values when the forced backend is unknown
 *   or cannot load.
 */
export function initBackend(log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<BackendName> {
  selected ??= (async () => {
    const forced = process.env.AMAD_BACKEND?.trim();
    if (forced) {
      const name = ALIASES[forced];
      if (!name) {
        throw new Error(
          `AMAD_BACKEND="${forced}" is not a backend; use one of ${Object.keys(ALIASES).join(', ')} or unset it for automatic choice`,
        );
      }
      if (!(await trySetBackend(name))) {
        throw new Error(
          `AMAD_BACKEND="${forced}" could not be loaded (is its package installed?); unset AMAD_BACKEND to choose automatically`,
        );
      }
      await tf.ready();
      logChoice(log, { name, reason: 'env' });
      return name;
    }
    for (const name of AUTO_ORDER) {
      if (await trySetBackend(name)) {
        await tf.ready();
        logChoice(log, { name, reason: 'auto' });
        return name;
      }
    }
    throw new Error('no TensorFlow.js backend could be initialised (not even cpu)');
  })();
  return selected;
}

function logChoice(log: (line: string) => void, choice: BackendChoice): void {
  if (process.env.AMAD_QUIET_BACKEND === '1') return;
  log(JSON.stringify({ level: 'info', msg: 'tensorflow.js backend selected', backend: choice.name, reason: choice.reason }));
}

/** The active backend's name as tf reports it (after `initBackend`). */
export function activeBackend(): string {
  return tf.getBackend();
}
