/** Shapes and strides made small before they reach a kernel's parameters. */

/**
 * Drop length-1 dims and merge neighbours that every operand walks contiguously (stride[d] =
 * stride[d+1] * shape[d+1]), so that most elementwise kernels see one or two dims.
 */
export function collapse(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const sh: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const len = shape[d]!;
    if (len === 1) continue;
    const last = sh.length - 1;
    if (last >= 0 && strides.every((s, k) => st[k]![last] === s[d]! * len)) {
      sh[last] = sh[last]! * len;
      strides.forEach((s, k) => (st[k]![last] = s[d]!));
    } else {
      sh.push(len);
      strides.forEach((s, k) => st[k]!.push(s[d]!));
    }
  }
  return { shape: sh, strides: st };
}

/** [n, rank, shape, strides of each operand, base offset of each operand] (see wgsl.ts off()). */
export function stridedParams(shape: readonly number[], strides: readonly (readonly number[])[], offsets: readonly number[]): number[] {
  const c = collapse(shape, strides);
  const n = shape.reduce((a, b) => a * b, 1);
  return [n, c.shape.length, ...c.shape, ...c.strides.flat(), ...offsets];
}

/** Workgroups for a grid-stride loop over n items (64 per group, at most 4096 groups). */
export function groupsFor(n: number): number {
  return Math.min(Math.ceil(n / 64), 4096);
}

/** The float32 bits of a number, as a u32 parameter. */
export function f32Bits(v: number): number {
  const f = new Float32Array([v]);
  return new Uint32Array(f.buffer)[0]!;
}

/** The bits of an int32 value, as a u32 parameter. */
export function i32Bits(v: number): number {
  return v >>> 0;
}
