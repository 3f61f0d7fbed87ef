/**
 * Reducing strided layouts to the few forms the Wasm kernels take. Dimensions of size 1 are
 * dropped and neighbouring dimensions merged wherever every operand steps through them as one
 * (stride[d] = stride[d+1] * shape[d+1]); what is left is an outer odometer over whole 2-D
 * blocks [rows, cols], each handled by one kernel call.
 */
import { mergeDims } from '../../core/shape.js';

export interface Blocks {
  /** Outer dimensions, looped in JS. */
  outer: number[];
  /** outerStrides[q][d]: operand q's stride (elements) along outer dimension d. */
  outerStrides: number[][];
  rows: number;
  cols: number;
  /** Per operand: stride between rows and along a row (elements). */
  rowStride: number[];
  colStride: number[];
}

/** Merge and drop dimensions of `shape` read by operands with `strides`, then split off [rows, cols]. */
export function toBlocks(shape: readonly number[], strides: readonly (readonly number[])[]): Blocks {
  const nOps = strides.length;
  const { shape: dims, strides: st } = mergeDims(shape, strides);
  while (dims.length < 2) {
    dims.unshift(1);
    for (let q = 0; q < nOps; q++) st[q]!.unshift(0);
  }
  const r = dims.length;
  return {
    outer: dims.slice(0, r - 2),
    outerStrides: st.map((s) => s.slice(0, r - 2)),
    rows: dims[r - 2]!,
    cols: dims[r - 1]!,
    rowStride: st.map((s) => s[r - 2]!),
    colStride: st.map((s) => s[r - 1]!),
  };
}

/** Call fn with each operand's element offset of every outer block, in row-major order. */
export function forEachBlock(b: Blocks, fn: (offsets: number[]) => void): void {
  const nOps = b.outerStrides.length;
  const offs = new Array<number>(nOps).fill(0);
  const rank = b.outer.length;
  const idx = new Array<number>(rank).fill(0);
  for (;;) {
    fn(offs);
    let d = rank - 1;
    for (; d >= 0; d--) {
      idx[d]!++;
      for (let q = 0; q < nOps; q++) offs[q]! += b.outerStrides[q]![d]!;
      if (idx[d]! < b.outer[d]!) break;
      for (let q = 0; q < nOps; q++) offs[q]! -= b.outerStrides[q]![d]! * b.outer[d]!;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}
