/** Hyperparameter checks shared by the optimizers and schedulers: each error names who and what. */

function show(v: unknown): string {
  return typeof v === 'number' ? String(v) : v === undefined ? 'undefined' : (JSON.stringify(v) ?? String(v));
}

/** A finite number (NaN and ±Infinity are refused). */
export function checkFinite(who: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${who}: ${name} must be a finite number, got ${show(v)}`);
  return v;
}

/** A finite number >= 0. */
export function checkNonNegative(who: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`${who}: ${name} must be a finite number >= 0, got ${show(v)}`);
  return v;
}

/** A finite number > 0. */
export function checkPositive(who: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`${who}: ${name} must be a finite number > 0, got ${show(v)}`);
  return v;
}

/** A number in [lo, hi) (or [lo, hi] when closed). */
export function checkInRange(who: string, name: string, v: unknown, lo: number, hi: number, closed = false): number {
  const ok = typeof v === 'number' && v >= lo && (closed ? v <= hi : v < hi);
  if (!ok) throw new RangeError(`${who}: ${name} must be in [${lo}, ${hi}${closed ? ']' : ')'}, got ${show(v)}`);
  return v as number;
}

/** An integer >= min. */
export function checkInteger(who: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RangeError(`${who}: ${name} must be an integer >= ${min}, got ${show(v)}`);
  return v;
}

export function checkBoolean(who: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${who}: ${name} must be true or false, got ${show(v)}`);
  return v;
}

export function checkOneOf<T extends string>(who: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new RangeError(`${who}: ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${show(v)}`);
  return v as T;
}
