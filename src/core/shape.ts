/** Shapes, strides and NumPy/PyTorch broadcasting. */
export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Drop length-1 dimensions of `shape` and merge neighbours that every operand (`strides`, one
 * list per operand, in elements) steps through as one: stride[d] = stride[d+1] * shape[d+1]. The
 * layouts the wasm and WebGPU kernels take are built on it.
 */
export function mergeDims(shape: Shape, strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    if (size === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, q) => st[q]![last]! === s[d]! * size)) {
      dims[last]! *= size;
      for (let q = 0; q < strides.length; q++) st[q]![last] = strides[q]![d]!;
      continue;
    }
    dims.push(size);
    for (let q = 0; q < strides.length; q++) st[q]!.push(strides[q]![d]!);
  }
  return { shape: dims, strides: st };
}

/** Row-major (C-contiguous) strides in elements. */
export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function checkShape(op: string, shape: Shape): number[] {
  const out: number[] = [];
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${op}: invalid shape ${shapeStr(shape)}; every dimension must be a non-negative integer`);
    out.push(d);
  }
  return out;
}

/**
 * Broadcast shapes the NumPy way: align trailing dimensions; each pair must be equal or one of
 * them 1. The error names the op and every shape.
 */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (d === out[o]) continue;
      if (out[o] === 1) out[o] = d;
      else if (d !== 1) {
        throw new RangeError(`${op}: shapes ${shapes.map(shapeStr).join(' and ')} cannot be broadcast together (dimension ${o - rank} is ${out[o]} vs ${d})`);
      }
    }
  }
  return out;
}

/** Strides for reading `shape` as if it had been broadcast to `outShape` (0 on broadcast dims). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const st = contiguousStrides(shape);
  const out = new Array<number>(outShape.length).fill(0);
  const off = outShape.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[off + i] = shape[i] === 1 ? 0 : st[i]!;
  return out;
}

/** Normalise an axis (negative counts from the end); the error names the op and the shape. */
export function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1) || (rank === 0 && axis !== 0 && axis !== -1)) {
    throw new RangeError(`${op}: axis ${axis} is out of range for a tensor of rank ${rank} (expected -${rank} <= axis < ${rank})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalise a list of axes (undefined means all), sorted and de-duplicated. */
export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = list.map((a) => normAxis(op, a, rank));
  const set = new Set(out);
  if (set.size !== out.length) throw new RangeError(`${op}: repeated axis in [${list.join(', ')}]`);
  return [...set].sort((a, b) => a - b);
}
