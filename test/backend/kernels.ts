/** Helpers for comparing the wasm backend's kernels with the reference (js) backend's. */
import assert from 'node:assert/strict';
import type { DType } from '../../src/core/dtype.js';
import type { Storage } from '../../src/core/storage.js';
import { Generator } from '../../src/index.js';
import { jsBackend } from '../../src/backend/js/index.js';
import { wasmBackend } from '../../src/backend/wasm/index.js';

export { jsBackend, wasmBackend };

/** The same values in a js storage and a wasm storage. */
export function pair(dtype: DType, values: ArrayLike<number>): [Storage, Storage] {
  const a = jsBackend.alloc(dtype, values.length),
    b = wasmBackend.alloc(dtype, values.length);
  a.data.set(values);
  b.data.set(values);
  return [a, b];
}

/**
 * Uniform values in [-1, 1), with about one in ten replaced by a special value when `special`:
 * NaN, +-Infinity, +-0, +-1 and subnormals (1e-40 is one in float32; 5e-324, float64's smallest,
 * rounds to +-0 in float32), the values on which kernels that skip, reorder or flush go wrong.
 */
export function randomValues(g: Generator, n: number, special = false): Float64Array {
  const out = new Float64Array(n);
  const specials = [0, -0, NaN, Infinity, -Infinity, 1, -1, 1e-40, -1e-40, 5e-324];
  for (let i = 0; i < n; i++) out[i] = special && g.nextFloat64() < 0.1 ? specials[Math.floor(g.nextFloat64() * specials.length)]! : g.nextFloat64() * 2 - 1;
  return out;
}

/** Elementwise identity, telling +0 from -0 and treating every NaN as equal. */
export function assertSame(actual: ArrayLike<number>, expected: ArrayLike<number>, msg: string): void {
  assert.equal(actual.length, expected.length, `${msg}: length`);
  for (let i = 0; i < expected.length; i++) {
    const x = actual[i]!,
      y = expected[i]!;
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    assert.ok(Object.is(x, y), `${msg}: element ${i}: ${x} vs expected ${y}`);
  }
}

export function release(...ss: Storage[]): void {
  for (const s of ss) s.release();
}

/** float32 results at most `ulps` units in the last place apart (same NaNs, same infinities). */
export function assertUlp(actual: Float32Array, expected: Float32Array, ulps: number, msg: string): void {
  assert.equal(actual.length, expected.length, `${msg}: length`);
  const ai = new Int32Array(actual.buffer, actual.byteOffset, actual.length);
  const ei = new Int32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const x = actual[i]!,
      y = expected[i]!;
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    if (Object.is(x, y)) continue;
    // same sign: the difference of the bit patterns counts the floats between them
    assert.ok(Math.sign(x) === Math.sign(y) && Math.abs(ai[i]! - ei[i]!) <= ulps, `${msg}: element ${i}: ${x} vs expected ${y}`);
  }
}
