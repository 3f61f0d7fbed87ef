import type { Backend } from './backend.js';
import { jsBackend } from './js/index.js';

export type { Backend, UnaryOp, BinaryOp, ReduceOp, ArgReduceOp, MatmulLayout, AxisLayout } from './backend.js';

const backends = new Map<string, Backend>([['js', jsBackend]]);
let current: Backend = jsBackend;

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

export function listBackends(): string[] {
  return [...backends.keys()];
}
