/**
 * The backend contract: every kernel of the Backend interface, run on a backend under test and on
 * the reference (js) backend with the same random inputs (odd sizes 1, 7, 33, 257; NaN, +-Infinity,
 * +-0 and subnormals among the values where the backend's `guarantees` promise them), compared with
 * the kernel's tolerance and the special-value rules the backend declares:
 *
 * - specials 'ieee': a non-finite reference result must be matched exactly (NaN for NaN, the same
 *   infinity), and exact kernels must give the same zero (+0 or -0). 'finite-only': no special
 *   values are fed; where the reference is finite the result must be finite and within tolerance,
 *   where it is not (log(0), 1/0, exp(100)) nothing is promised, and +0 equals -0.
 * - subnormals 'kept': subnormal inputs are fed, and results are compared as any other number.
 *   'flushed': none are fed, and a result may be off by the smallest normal number per term (an
 *   underflowing result or partial result flushed to zero).
 *
 * The tolerance is the kernel's, the same for every backend: exact where the kernel performs one
 * IEEE operation per element or moves data; one unit in the last place for transcendental
 * functions; for sums, the bound of float32/float64 accumulation in any order,
 * |error| <= 2 * terms * eps * sum |term|.
 */
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { jsBackend } from '../../src/backend/js/index.js';
import type { DType } from '../../src/core/dtype.js';
import type { Storage } from '../../src/core/storage.js';
import { Generator } from '../../src/index.js';

/** Every method of the Backend interface, required or optional: the kernels the contract covers. */
export type KernelName = { [K in keyof Backend]-?: NonNullable<Backend[K]> extends (...args: never[]) => unknown ? K : never }[keyof Backend];

/** The odd sizes that catch tail-loop bugs (SIMD widths 4 and 8, blocks of 32 and 256). */
export const SIZES = [1, 7, 33, 257] as const;

/** Float32 subnormals (1e-40) and float64's smallest (5e-324, which rounds to 0 in float32). */
const SUBNORMALS = [1e-40, -1e-40, 5e-324];
const NON_FINITE = [NaN, Infinity, -Infinity];
const ORDINARY = [0, -0, 1, -1];

/** Unit in the last place of y in a float dtype (the spacing of floats at |y|). */
export function ulp(y: number, dtype: DType): number {
  const [mant, minExp] = dtype === 'float64' ? [52, -1022] : [23, -126];
  const e = y === 0 ? minExp : Math.max(minExp, Math.floor(Math.log2(Math.abs(y))));
  return 2 ** (e - mant);
}

export function eps(dtype: DType): number {
  return dtype === 'float64' ? 2 ** -53 : 2 ** -24;
}

/** The smallest normal number of a float dtype (what a flushing backend may lose per term). */
function tiny(dtype: DType): number {
  return dtype === 'float64' ? 2 ** -1022 : dtype === 'float32' ? 2 ** -126 : 0;
}

export interface CheckOptions {
  /** Absolute bound on |actual - expected| at element i (none: exact). */
  tol?: (i: number) => number;
  /** Terms that went into each result (a flushing backend may lose the smallest normal per term). */
  terms?: number;
}

/** One backend under test against the reference, with the seeded values its declaration allows. */
export class Contract {
  readonly ref: Backend = jsBackend;
  readonly g: Generator;
  readonly ieee: boolean;
  readonly keepsSubnormals: boolean;
  private readonly specials: number[];
  private readonly live: Storage[] = [];
  /** Checks of GPU storages, compared when their asynchronous reads finish (settle()). */
  private readonly pending: Promise<unknown>[] = [];
  /** The declared accuracy of transcendental functions, in units in the last place (1 unless declared). */
  readonly ulps: number;

  constructor(
    readonly backend: Backend,
    seed: number,
  ) {
    this.g = new Generator(seed);
    this.ieee = backend.guarantees.specials === 'ieee';
    this.keepsSubnormals = backend.guarantees.subnormals === 'kept';
    this.ulps = backend.guarantees.ulps ?? 1;
    this.specials = [...ORDINARY, ...(this.ieee ? NON_FINITE : []), ...(this.keepsSubnormals ? SUBNORMALS : [])];
  }

  /** Uniform in [-1, 1), a fraction `rate` replaced by the special values the declaration allows. */
  values(n: number, rate = 0.1): Float64Array {
    const out = new Float64Array(n),
      s = this.specials;
    for (let i = 0; i < n; i++) out[i] = this.g.nextFloat64() < rate ? s[Math.floor(this.g.nextFloat64() * s.length)]! : this.g.nextFloat64() * 2 - 1;
    return out;
  }

  /** Integers in [0, n) (indices). */
  ints(count: number, n: number): number[] {
    return Array.from({ length: count }, () => Math.floor(this.g.nextFloat64() * n));
  }

  /** The same values in a reference storage and in one of the backend under test; freed by done(). */
  pair(dtype: DType, values: ArrayLike<number>): [Storage, Storage] {
    const r = this.ref.alloc(dtype, values.length),
      t = this.backend.alloc(dtype, values.length);
    r.data.set(values);
    t.data.set(values);
    this.live.push(r, t);
    return [r, t];
  }

  /** Fresh (zero) outputs on both. */
  out(dtype: DType, n: number): [Storage, Storage] {
    return this.pair(dtype, new Float64Array(n));
  }

  /** The backend's result against the reference's, by the declared rules (see the file's head). */
  check(actual: Storage, expected: Storage, label: string, o: CheckOptions = {}): void {
    if (actual.read && actual.dtype !== 'float64') {
      // a GPU storage: its elements as of now are read back asynchronously, and compared (with the
      // reference and tolerances as of now) by settle()
      const y = expected.data.slice(),
        tol = o.tol,
        bounds = tol ? Array.from(y, (_, i) => tol(i)) : undefined;
      const frozen = { dtype: expected.dtype, data: y } as Storage;
      const done = actual
        .read()
        .then((x) => this.compare({ dtype: actual.dtype, data: x } as Storage, frozen, label, { ...o, tol: bounds && ((i) => bounds[i]!) }));
      this.pending.push(
        done.then(
          () => undefined,
          (e: unknown) => e,
        ),
      ); // failures are thrown by settle()
      return;
    }
    this.compare(actual, expected, label, o);
  }

  /** Wait for the asynchronous checks of GPU storages and fail on the first that failed. */
  async settle(): Promise<void> {
    for (const e of await Promise.all(this.pending.splice(0))) if (e !== undefined) throw e;
  }

  private compare(actual: Storage, expected: Storage, label: string, o: CheckOptions): void {
    const x = actual.data,
      y = expected.data,
      dtype = expected.dtype;
    assert.equal(actual.dtype, dtype, `${label}: dtype`);
    assert.equal(x.length, y.length, `${label}: length`);
    const slack = this.keepsSubnormals ? 0 : (o.terms ?? 1) * tiny(dtype);
    for (let i = 0; i < y.length; i++) {
      const a = x[i]!,
        e = y[i]!;
      const at = () => `${label} [${this.backend.name}]: element ${i}: ${a} vs reference ${e}`;
      if (!Number.isFinite(e)) {
        if (this.ieee) assert.ok(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)), `${at()} (specials: 'ieee')`);
        continue;
      }
      const bound = (o.tol ? o.tol(i) : 0) + slack;
      if (bound === 0) assert.ok(this.ieee ? Object.is(a, e) : a === e, at());
      else assert.ok(Math.abs(a - e) <= bound, `${at()} (tolerance ${bound})`);
    }
  }

  /** Release every storage made by pair() and out(). */
  done(): void {
    for (const s of this.live.splice(0)) s.release();
  }
}

/** A kernel's contract: runs it on c.backend and c.ref and checks the results. */
export type ContractCase = (c: Contract) => void;

/** Does the backend provide this kernel? (Optional ones may be absent: the ops then use the reference.) */
export function provides(b: Backend, k: KernelName): boolean {
  return typeof b[k] === 'function';
}
