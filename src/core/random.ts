/**
 * Seeded random numbers. Algorithm: xoshiro128** 1.1 (Blackman & Vigna, 2018), a 128-bit state
 * generator of 32-bit outputs, with its state filled from the seed by SplitMix32. Only 32-bit
 * integer arithmetic is used, so the same seed gives the same integers on every JavaScript engine.
 * - uniform float32: the top 24 bits of one output times 2^-24, in [0, 1)
 * - uniform float64: 53 bits from two outputs times 2^-53, in [0, 1)
 * - normal: Box-Muller on two uniforms in (0, 1], both results used
 * - integers in [0, n): Lemire's multiply-shift with rejection, so there is no modulo bias
 */
export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Generator {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  constructor(seed = 0) {
    this.seed(seed);
  }

  /** Reset from a seed (any integer; values beyond 32 bits are folded in). */
  seed(seed: number): this {
    if (!Number.isFinite(seed)) throw new RangeError(`Generator.seed: seed must be a finite number, got ${seed}`);
    const hi = Math.floor(seed / 4294967296) >>> 0;
    const sm = splitmix32((seed >>> 0) ^ Math.imul(hi, 0x9e3779b1));
    this.s0 = sm();
    this.s1 = sm();
    this.s2 = sm();
    this.s3 = sm();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
    return this;
  }

  getState(): RngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  setState(state: readonly number[]): this {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new RangeError(`Generator.setState: expected four unsigned 32-bit integers, got ${JSON.stringify(state)}`);
    }
    [this.s0, this.s1, this.s2, this.s3] = state as RngState;
    return this;
  }

  /** A new generator seeded from this one (for giving a component its own stream). */
  fork(): Generator {
    const g = new Generator(0);
    g.setState([this.nextUint32(), this.nextUint32(), this.nextUint32(), (this.nextUint32() | 1) >>> 0]);
    return g;
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /**
   * Fill `out` with the next out.length outputs: the same numbers, in the same order, as that many
   * nextUint32() calls, with the state in locals (several times faster for long runs).
   */
  fillUint32(out: Uint32Array): void {
    let s0 = this.s0,
      s1 = this.s1,
      s2 = this.s2,
      s3 = this.s3;
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }

  /** Uniform in [0, 1) with 24 random bits (exactly representable in float32). */
  nextFloat32(): number {
    return (this.nextUint32() >>> 8) * 5.9604644775390625e-8;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat64(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) * 1.1102230246251565e-16;
  }

  /** Uniform integer in [0, n), n <= 2^32, without bias (Lemire 2019). */
  nextInt(n: number): number {
    if (!(n > 0 && n <= 4294967296 && Number.isInteger(n))) throw new RangeError(`Generator.nextInt: bound must be an integer in [1, 2^32], got ${n}`);
    if (n === 4294967296) return this.nextUint32();
    const threshold = (4294967296 - n) % n;
    for (;;) {
      const x = this.nextUint32();
      if (lowBits(x, n) >= threshold) return hiBits(x, n);
    }
  }

  /** Fill with uniform values in [low, high). */
  fillUniform(out: Float32Array | Float64Array, low = 0, high = 1): void {
    const span = high - low;
    if (out instanceof Float64Array) for (let i = 0; i < out.length; i++) out[i] = low + span * this.nextFloat64();
    else for (let i = 0; i < out.length; i++) out[i] = low + span * this.nextFloat32();
  }

  /** Fill with normal values (Box-Muller, both outputs of each pair used). */
  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): void {
    const n = out.length;
    for (let i = 0; i < n; i += 2) {
      const u1 = 1 - this.nextFloat64(); // (0, 1]
      const u2 = this.nextFloat64();
      const r = Math.sqrt(-2 * Math.log(u1));
      const th = 2 * Math.PI * u2;
      out[i] = mean + std * r * Math.cos(th);
      if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(th);
    }
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** High 32 bits of the 64-bit product x * n (x, n < 2^32), exactly: every partial sum stays below 2^53. */
function hiBits(x: number, n: number): number {
  const xl = x & 0xffff,
    xh = x >>> 16,
    nl = n & 0xffff,
    nh = Math.floor(n / 65536);
  return xh * nh + Math.floor(((xl * nh + xh * nl) * 65536 + xl * nl) / 4294967296);
}

/** Low 32 bits of the 64-bit product x * n, exactly. */
function lowBits(x: number, n: number): number {
  return Math.imul(x, n >>> 0) >>> 0;
}

/** The default generator behind every random function that is not given one. */
export const defaultGenerator = new Generator(0);

/** Seed the default generator (like torch.manual_seed). */
export function manualSeed(seed: number): void {
  defaultGenerator.seed(seed);
}
