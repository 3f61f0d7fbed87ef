import type { Backend } from './backend.js';
import { jsBackend } from './js/index.js';
import { wasmBackend, wasmFeatures } from './wasm/index.js';

export { setNumThreads, getNumThreads, wasmFeatures } from './wasm/index.js';
export type { WasmFeatures } from './wasm/module.js';
export type { Backend, BackendGuarantees, UnaryOp, BinaryOp, ReduceOp, ArgReduceOp, MatmulLayout, AxisLayout } from './backend.js';

const backends = new Map<string, Backend>([['js', jsBackend]]);
if (wasmFeatures().simd) backends.set('wasm', wasmBackend);
// The default: the wasm backend wherever the runtime has WebAssembly SIMD (the whole suite passes
// on it, DESCENT_BACKEND=wasm), else the reference backend.
let current: Backend = backends.get('wasm') ?? jsBackend;

export function registerBackend(b: Backend): void {
  backends.set(b.name, b);
}

/** Choose the backend new tensors are made on, by name ('js' is the reference backend). */
export function setBackend(name: string): void {
  const b = backends.get(name);
  if (!b && name === 'webgpu')
    throw new Error("setBackend: the webgpu backend starts asynchronously (it must find a GPU): use `await setBackendAsync('webgpu')`");
  if (!b) throw new Error(`setBackend: unknown backend '${name}'; registered: ${[...backends.keys()].join(', ')}`);
  current = b;
}

/**
 * Choose a backend that needs asynchronous set-up before use: 'webgpu' finds a WebGPU adapter and
 * device the first time (navigator.gpu, or in Node the `webgpu` package), registers the backend and
 * makes it current. Any registered backend ('js', 'wasm') works here too. Never the default.
 */
export async function setBackendAsync(name: string): Promise<Backend> {
  if (!backends.has(name) && name === 'webgpu') {
    const { createWebgpuBackend } = await import('./webgpu/index.js');
    if (!backends.has(name)) registerBackend(await createWebgpuBackend());
  }
  setBackend(name);
  return current;
}

export function getBackend(): Backend {
  return current;
}

/** The registered backend of this name, if any (without making it the current one). */
export function findBackend(name: string): Backend | undefined {
  return backends.get(name);
}

export function listBackends(): string[] {
  return [...backends.keys()];
}
