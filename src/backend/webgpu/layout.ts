/** Shapes and strides made small before they reach a kernel's parameters. */
import { mergeDims } from '../../core/shape.js';

/** [n, rank, shape, strides of each operand, base offset of each operand] (see wgsl.ts off()). */
export function stridedParams(shape: readonly number[], strides: readonly (readonly number[])[], offsets: readonly number[]): number[] {
  const c = mergeDims(shape, strides);
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
