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
  if (!b) throw new Error(`setBackend: unknown backend '${name}'; registered: ${[...backends.keys()].join(', ')}`);
  current = b;
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
