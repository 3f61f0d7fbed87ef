import assert from 'node:assert/strict';
import { setBackend } from '../src/index.js';
import type { NestedArray, Tensor } from '../src/index.js';

// The whole suite runs on the backend named here (default: the reference 'js' backend).
const backend = process.env.DESCENT_BACKEND;
if (backend) setBackend(backend);

/** Assert two nested arrays/numbers agree elementwise within atol + rtol*|expected|. */
export function assertClose(actual: NestedArray | Tensor, expected: NestedArray, tol: { atol?: number; rtol?: number } = {}, msg = ''): void {
  const { atol = 1e-6, rtol = 1e-5 } = tol;
  const a = typeof actual === 'object' && !Array.isArray(actual) ? actual.toArray() : actual;
  const walk = (x: NestedArray, y: NestedArray, path: string): void => {
    if (Array.isArray(y)) {
      assert.ok(Array.isArray(x), `${msg} ${path}: expected an array, got ${x}`);
      assert.equal(x.length, y.length, `${msg} ${path}: length ${x.length} vs ${y.length}`);
      y.forEach((v, i) => walk(x[i]!, v, `${path}[${i}]`));
      return;
    }
    assert.equal(typeof x, 'number', `${msg} ${path}: expected a number`);
    const xv = x as number;
    if (Number.isNaN(y)) return assert.ok(Number.isNaN(xv), `${msg} ${path}: expected NaN, got ${xv}`);
    if (!Number.isFinite(y)) return assert.equal(xv, y, `${msg} ${path}`);
    assert.ok(Math.abs(xv - y) <= atol + rtol * Math.abs(y), `${msg} ${path}: ${xv} vs expected ${y} (diff ${Math.abs(xv - y)})`);
  };
  walk(a, expected, 'value');
}

export function flat(t: Tensor): number[] {
  return Array.from(t.data);
}
