/**
 * TensorFlow.js, loaded on first use (never at import: the kernel re-exports this folder and a
 * desk that never trains must not pay for TensorFlow), with the fastest backend found:
 *
 *   tensorflow  @tensorflow/tfjs-node (native libtensorflow) — an optional dependency whose
 *               install downloads libtensorflow; absent where that download is impossible
 *   wasm        @tensorflow/tfjs-backend-wasm, if installed (it is not a dependency)
 *   cpu         @tensorflow/tfjs's pure-JavaScript CPU backend — always there
 *
 * Each thread (the desk, a training worker) loads its own copy and reports what it got and why
 * the faster ones were not used.
 */
import type * as TF from '@tensorflow/tfjs';

export type Tf = typeof TF;
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | BackendName;

export interface TfRuntime {
  tf: Tf;
  backend: BackendName;
  /** one line per backend tried and not used: why */
  notes: string[];
  /** "cpu (pure JavaScript; tfjs-node: not installed)" */
  describe: string;
  version: string;
}

const LABEL: Record<BackendName, string> = {
  tensorflow: 'native libtensorflow via @tensorflow/tfjs-node',
  wasm: 'WebAssembly via @tensorflow/tfjs-backend-wasm',
  cpu: 'pure JavaScript',
};

let loading: Promise<TfRuntime> | undefined;

/** The runtime of this thread (loaded once; the preference of the first call wins). */
export function loadTf(prefer: BackendPreference = 'auto'): Promise<TfRuntime> {
  loading ??= load(prefer);
  return loading;
}

/** a module specifier TypeScript does not try to resolve (optional packages may be absent) */
async function importOptional(name: string): Promise<unknown> {
  return import(name);
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/Cannot find (package|module)/.test(msg)) return 'not installed';
  return (msg.split('\n')[0] ?? msg).slice(0, 160);
}

async function load(prefer: BackendPreference): Promise<TfRuntime> {
  const notes: string[] = [];
  const want = (b: BackendName): boolean => prefer === 'auto' || prefer === b;

  // tfjs-node first: importing it registers the 'tensorflow' backend on the shared tfjs engine
  let nodeLoaded = false;
  if (want('tensorflow')) {
    try {
      await importOptional('@tensorflow/tfjs-node');
      nodeLoaded = true;
    } catch (err) {
      notes.push(`@tensorflow/tfjs-node: ${firstLine(err)}`);
    }
  } else notes.push('@tensorflow/tfjs-node: not tried (backend preference)');

  const mod = (await import('@tensorflow/tfjs')) as Tf & { default?: Tf };
  const tf: Tf = typeof mod.layers === 'object' ? mod : (mod.default as Tf);
  // no "install tfjs-node" banner on first use: the status says which backend runs
  tf.enableProdMode();

  const tryBackend = async (name: BackendName): Promise<boolean> => {
    try {
      if (!(await tf.setBackend(name))) throw new Error('backend failed to initialise');
      await tf.ready();
      return tf.getBackend() === name;
    } catch (err) {
      notes.push(`${name}: ${firstLine(err)}`);
      return false;
    }
  };

  let backend: BackendName | undefined;
  if (nodeLoaded && (await tryBackend('tensorflow'))) backend = 'tensorflow';
  if (backend === undefined && want('wasm')) {
    try {
      await importOptional('@tensorflow/tfjs-backend-wasm');
      if (await tryBackend('wasm')) backend = 'wasm';
    } catch (err) {
      notes.push(`@tensorflow/tfjs-backend-wasm: ${firstLine(err)}`);
    }
  } else if (backend === undefined) notes.push('@tensorflow/tfjs-backend-wasm: not tried (backend preference)');
  if (backend === undefined) {
    if (!(await tryBackend('cpu'))) throw new Error(`no TensorFlow.js backend could start: ${notes.join('; ')}`);
    backend = 'cpu';
  }
  const describe = `${backend} (${LABEL[backend]}${notes.length > 0 ? `; ${notes.join('; ')}` : ''})`;
  return { tf, backend, notes, describe, version: tf.version.tfjs };
}
