/** Movement ops: reshape (a view), permute, expand, slice, pad, concat, and indexed reads/writes. */
import { contiguousStrides, normAxis, shapeSize, shapeStr, shapesEqual, broadcastShapes, broadcastStrides } from '../core/shape.js';
import type { Storage } from '../core/storage.js';
import { Tensor } from '../core/tensor.js';
import { arange } from './creation.js';
import { cast, eq } from './elementwise.js';
import type { OpDef, OpTable } from './run.js';
import { apply } from './run.js';

type MoveName = 'reshape' | 'clone' | 'permute' | 'expand' | 'slice' | 'pad' | 'concat' | 'gather' | 'scatterAdd' | 'indexSelect' | 'indexAdd';

/**
 * Index storages whose range a kernel guarantees (max pooling's window argmax): every entry is in
 * [0, bound). Such indices skip the range scan below, which otherwise costs a pass in JS over each
 * index tensor on every gather and on its scatterAdd in backward (~1.4 ms of a CNN step). Only
 * tensors private to an op are noted: a tensor a user holds could be changed in place (.data), and
 * the kernels do not check bounds.
 */
const indexBounds = new WeakMap<Storage, number>();

/** Note that every entry of `s` (an int32 kernel output) lies in [0, bound). */
export function noteIndexBound(s: Storage, bound: number): void {
  indexBounds.set(s, bound);
}

function checkIndex(op: string, idx: Tensor, bound: number): void {
  if (idx.dtype !== 'int32') throw new TypeError(`${op}: indices must be int32, got ${idx.dtype}`);
  const known = indexBounds.get(idx.storage);
  if (known !== undefined && known <= bound) return;
  const d = idx.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (v < 0 || v >= bound) throw new RangeError(`${op}: index ${v} is out of range for a dimension of size ${bound}`);
  }
}

/** [outer, n, inner] around `axis` of `shape`, with m entries along the axis on the other side. */
function axisLayout(shape: readonly number[], axis: number, m: number) {
  return { outer: shapeSize(shape.slice(0, axis)), n: shape[axis]!, inner: shapeSize(shape.slice(axis + 1)), m };
}

const gatherLikeInfer =
  (op: string): OpDef<{ axis: number }>['infer'] =>
  ([x, idx], { axis }) => {
    if (idx!.rank !== x!.rank || idx!.shape.some((d, i) => i !== axis && d !== x!.shape[i])) {
      throw new RangeError(`${op}: index shape ${shapeStr(idx!.shape)} must match input shape ${shapeStr(x!.shape)} except along axis ${axis}`);
    }
    checkIndex(op, idx!, x!.shape[axis]!);
    return { shape: [...idx!.shape], dtype: x!.dtype };
  };

export const movementOps: OpTable<MoveName> = {
  reshape: {
    infer([x], { shape }) {
      if (shapeSize(shape) !== x!.size)
        throw new RangeError(`reshape: cannot reshape ${shapeStr(x!.shape)} (${x!.size} elements) to ${shapeStr(shape)} (${shapeSize(shape)} elements)`);
      return { shape, dtype: x!.dtype };
    },
    forward() {},
    view: true,
    backward: (g, { inputs: [x] }) => [reshape(g, x!.shape)],
  },
  clone: {
    infer: ([x]) => ({ shape: [...x!.shape], dtype: x!.dtype }),
    forward(b, [x], out, _a, shape) {
      const st = contiguousStrides(shape);
      b.copy(x!.storage, out, shape, 0, st, 0, st);
    },
    backward: (g) => [g],
  },
  permute: {
    infer([x], { perm }) {
      const ok = perm.length === x!.rank && new Set(perm).size === perm.length && perm.every((p) => Number.isInteger(p) && p >= 0 && p < x!.rank);
      if (!ok) throw new RangeError(`permute: [${perm.join(', ')}] is not a permutation of the ${x!.rank} axes of ${shapeStr(x!.shape)}`);
      return { shape: perm.map((p) => x!.shape[p]!), dtype: x!.dtype };
    },
    forward(b, [x], out, { perm }, shape) {
      const st = contiguousStrides(x!.shape);
      b.copy(
        x!.storage,
        out,
        shape,
        0,
        perm.map((p) => st[p]!),
        0,
        contiguousStrides(shape),
      );
    },
    backward: (g, { attrs: { perm } }) => {
      const inv = new Array<number>(perm.length);
      perm.forEach((p, i) => (inv[p] = i));
      return [permute(g, inv)];
    },
  },
  expand: {
    infer([x], { shape }) {
      const b = broadcastShapes('expand', x!.shape, shape);
      if (!shapesEqual(b, shape)) throw new RangeError(`expand: cannot expand ${shapeStr(x!.shape)} to ${shapeStr(shape)}`);
      return { shape: [...shape], dtype: x!.dtype };
    },
    forward(b, [x], out, _a, shape) {
      b.copy(x!.storage, out, shape, 0, broadcastStrides(x!.shape, shape), 0, contiguousStrides(shape));
    },
    backward: (g) => [g], // the tape sums the gradient back over the expanded dimensions
  },
  slice: {
    infer([x], { begin, end }) {
      return { shape: begin.map((b, i) => end[i]! - b), dtype: x!.dtype };
    },
    forward(b, [x], out, { begin }, shape) {
      const st = contiguousStrides(x!.shape);
      const off = begin.reduce((o, v, i) => o + v * st[i]!, 0);
      b.copy(x!.storage, out, shape, off, st, 0, contiguousStrides(shape));
    },
    backward: (g, { inputs: [x], attrs: { begin, end } }) => [
      pad(
        g,
        begin.map((b, i) => [b, x!.shape[i]! - end[i]!] as [number, number]),
      ),
    ],
  },
  pad: {
    infer([x], { pads }) {
      return { shape: x!.shape.map((d, i) => d + pads[i]![0] + pads[i]![1]), dtype: x!.dtype };
    },
    forward(b, [x], out, { pads, value }, shape) {
      b.fill(out, value);
      const st = contiguousStrides(shape);
      const off = pads.reduce((o, p, i) => o + p[0] * st[i]!, 0);
      b.copy(x!.storage, out, x!.shape, 0, contiguousStrides(x!.shape), off, st);
    },
    backward: (g, { inputs: [x], attrs: { pads } }) => [
      sliceRaw(
        g,
        pads.map((p) => p[0]),
        pads.map((p, i) => p[0] + x!.shape[i]!),
      ),
    ],
  },
  concat: {
    infer(xs, { axis }) {
      const first = xs[0]!;
      let total = 0;
      for (const t of xs) {
        if (t.dtype !== first.dtype) throw new TypeError(`concat: dtypes differ (${first.dtype} and ${t.dtype})`);
        if (t.rank !== first.rank || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
          throw new RangeError(`concat: shapes ${xs.map((u) => shapeStr(u.shape)).join(', ')} differ outside axis ${axis}`);
        }
        total += t.shape[axis]!;
      }
      const shape = [...first.shape];
      shape[axis] = total;
      return { shape, dtype: first.dtype };
    },
    forward(b, xs, out, { axis }, shape) {
      const st = contiguousStrides(shape);
      let at = 0;
      for (const t of xs) {
        b.copy(t.storage, out, t.shape, 0, contiguousStrides(t.shape), at * st[axis]!, st);
        at += t.shape[axis]!;
      }
    },
    backward: (g, { inputs, attrs: { axis } }) => {
      let at = 0;
      return inputs.map((t) => {
        const begin = g.shape.map(() => 0);
        const end = [...g.shape];
        begin[axis] = at;
        end[axis] = at += t.shape[axis]!;
        return sliceRaw(g, begin, end);
      });
    },
  },
  gather: {
    infer: gatherLikeInfer('gather'),
    forward(b, [x, idx], out, { axis }) {
      b.gather(x!.storage, idx!.storage, out, axisLayout(x!.shape, axis, idx!.shape[axis]!));
    },
    backward: (g, { inputs: [x, idx], attrs: { axis } }) => [scatterAdd(g, axis, idx!, x!.shape), null],
  },
  scatterAdd: {
    infer([src, idx], { axis, shape }) {
      if (!shapesEqual(src!.shape, idx!.shape))
        throw new RangeError(`scatterAdd: source ${shapeStr(src!.shape)} and index ${shapeStr(idx!.shape)} must have the same shape`);
      if (idx!.rank !== shape.length || idx!.shape.some((d, i) => i !== axis && d !== shape[i]))
        throw new RangeError(`scatterAdd: index ${shapeStr(idx!.shape)} does not fit output ${shapeStr(shape)} along axis ${axis}`);
      checkIndex('scatterAdd', idx!, shape[axis]!);
      return { shape: [...shape], dtype: src!.dtype };
    },
    forward(b, [src, idx], out, { axis }, shape) {
      const layout = axisLayout(shape, axis, idx!.shape[axis]!);
      if (b.scatterAddZeroed) {
        b.scatterAddZeroed(src!.storage, idx!.storage, out, layout);
      } else {
        b.fill(out, 0);
        b.scatterAdd(src!.storage, idx!.storage, out, layout);
      }
    },
    backward: (g, { inputs: [, idx], attrs: { axis } }) => [gather(g, axis, idx!), null],
  },
  indexSelect: {
    infer([x, idx], { axis }) {
      if (idx!.rank !== 1) throw new RangeError(`indexSelect: index must be 1-D, got shape ${shapeStr(idx!.shape)}`);
      checkIndex('indexSelect', idx!, x!.shape[axis]!);
      const shape = [...x!.shape];
      shape[axis] = idx!.size;
      return { shape, dtype: x!.dtype };
    },
    forward(b, [x, idx], out, { axis }) {
      b.indexSelect(x!.storage, idx!.storage, out, axisLayout(x!.shape, axis, idx!.size));
    },
    backward: (g, { inputs: [x, idx], attrs: { axis } }) => [indexAdd(g, axis, idx!, x!.shape), null],
  },
  indexAdd: {
    infer([src, idx], { axis, shape }) {
      if (idx!.rank !== 1 || src!.shape[axis] !== idx!.size)
        throw new RangeError(
          `indexAdd: index ${shapeStr(idx!.shape)} must be 1-D with one entry per slice of source ${shapeStr(src!.shape)} along axis ${axis}`,
        );
      checkIndex('indexAdd', idx!, shape[axis]!);
      return { shape: [...shape], dtype: src!.dtype };
    },
    forward(b, [src, idx], out, { axis }, shape) {
      b.fill(out, 0);
      b.indexAdd(src!.storage, idx!.storage, out, axisLayout(shape, axis, idx!.size));
    },
    backward: (g, { inputs: [, idx], attrs: { axis } }) => [indexSelect(g, axis, idx!), null],
  },
};

/** Same elements, new shape (one dimension may be -1). Shares storage with x. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const sh = [...shape];
  const neg = sh.indexOf(-1);
  if (neg >= 0) {
    const rest = shapeSize(sh.filter((_, i) => i !== neg));
    if (rest === 0 || x.size % rest !== 0) throw new RangeError(`reshape: cannot reshape ${shapeStr(x.shape)} (${x.size} elements) to ${shapeStr(shape)}`);
    sh[neg] = x.size / rest;
  }
  if (shapesEqual(sh, x.shape)) return x;
  return apply('reshape', movementOps.reshape, [x], { shape: sh });
}

/** Merge axes start..end (inclusive) into one. */
export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normAxis('flatten', startAxis, x.rank),
    e = normAxis('flatten', endAxis, x.rank);
  if (e < s) throw new RangeError(`flatten: end axis ${endAxis} comes before start axis ${startAxis}`);
  return reshape(x, [...x.shape.slice(0, s), shapeSize(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis('unsqueeze', axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Drop size-1 axes (the given one, or all). */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined)
    return reshape(
      x,
      x.shape.filter((d) => d !== 1),
    );
  const a = normAxis('squeeze', axis, x.rank);
  if (x.shape[a] !== 1) throw new RangeError(`squeeze: axis ${axis} of ${shapeStr(x.shape)} has size ${x.shape[a]}, not 1`);
  return reshape(
    x,
    x.shape.filter((_, i) => i !== a),
  );
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const p = perm.map((a) => normAxis('permute', a, x.rank));
  if (p.every((v, i) => v === i)) return x;
  return apply('permute', movementOps.permute, [x], { perm: p });
}

/** Swap two axes (the last two by default). */
export function transpose(x: Tensor, axis0 = -2, axis1 = -1): Tensor {
  const a = normAxis('transpose', axis0, x.rank),
    b = normAxis('transpose', axis1, x.rank);
  const perm = x.shape.map((_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** Broadcast to a larger shape (copies; the gradient is summed back by the tape). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(x.shape, shape)) return x;
  return apply('expand', movementOps.expand, [x], { shape: [...shape] });
}
export const broadcastTo = expand;

function sliceRaw(x: Tensor, begin: number[], end: number[]): Tensor {
  if (begin.every((b) => b === 0) && end.every((e, i) => e === x.shape[i])) return x;
  return apply('slice', movementOps.slice, [x], { begin, end });
}

/**
 * Sub-range per axis, Python style: ranges[i] = [start, end) with negatives counted from the end
 * and out-of-range values clamped; null or a missing entry keeps the whole axis.
 */
export function slice(x: Tensor, ranges: readonly ([number, number?] | null | undefined)[]): Tensor {
  if (ranges.length > x.rank) throw new RangeError(`slice: ${ranges.length} ranges given for a tensor of rank ${x.rank} (shape ${shapeStr(x.shape)})`);
  const begin: number[] = [],
    end: number[] = [];
  x.shape.forEach((d, i) => {
    const r = ranges[i];
    const fix = (v: number) => Math.min(d, Math.max(0, v < 0 ? v + d : v));
    const b = r ? fix(r[0]) : 0;
    const e = r && r[1] !== undefined ? fix(r[1]) : d;
    begin.push(b);
    end.push(Math.max(b, e));
  });
  return sliceRaw(x, begin, end);
}

/** Elements start..start+length along one axis (torch.narrow). */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis('narrow', axis, x.rank);
  if (start < 0 || length < 0 || start + length > x.shape[a]!)
    throw new RangeError(`narrow: [${start}, ${start + length}) is outside axis ${axis} of size ${x.shape[a]}`);
  const begin = x.shape.map(() => 0),
    end = [...x.shape];
  begin[a] = start;
  end[a] = start + length;
  return sliceRaw(x, begin, end);
}

/**
 * Pad with a constant. pads[i] = [before, after] for axis i; fewer entries than axes pad the last
 * axes (the first entry goes to the first of them).
 */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  if (pads.length > x.rank) throw new RangeError(`pad: ${pads.length} pad pairs for a tensor of rank ${x.rank} (shape ${shapeStr(x.shape)})`);
  const full: [number, number][] = x.shape.map(() => [0, 0]);
  pads.forEach((p, i) => {
    if (!(Number.isInteger(p[0]) && Number.isInteger(p[1]) && p[0] >= 0 && p[1] >= 0))
      throw new RangeError(`pad: pads must be non-negative integers, got [${p[0]}, ${p[1]}]`);
    full[x.rank - pads.length + i] = [p[0], p[1]];
  });
  return apply('pad', movementOps.pad, [x], { pads: full, value });
}

/** Join tensors along an existing axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new RangeError('concat: needs at least one tensor');
  const a = normAxis('concat', axis, xs[0]!.rank);
  if (xs.length === 1) return xs[0]!;
  return apply('concat', movementOps.concat, [...xs], { axis: a });
}

/** Join tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new RangeError('stack: needs at least one tensor');
  const a = normAxis('stack', axis, xs[0]!.rank + 1);
  for (const t of xs) if (!shapesEqual(t.shape, xs[0]!.shape)) throw new RangeError(`stack: shapes differ: ${xs.map((u) => shapeStr(u.shape)).join(', ')}`);
  return concat(
    xs.map((t) => unsqueeze(t, a)),
    a,
  );
}

/** PyTorch gather: out[..., j, ...] = x[..., index[..., j, ...], ...] along axis; index is int32 of x's rank. */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  return apply('gather', movementOps.gather, [x, index], { axis: normAxis('gather', axis, x.rank) });
}

/** Zeros of `shape` with src added at the positions index names along axis (duplicates add up). */
export function scatterAdd(src: Tensor, axis: number, index: Tensor, shape: readonly number[]): Tensor {
  return apply('scatterAdd', movementOps.scatterAdd, [src, index], { axis: normAxis('scatterAdd', axis, shape.length), shape: [...shape] });
}

/** Whole slices of x along axis, picked by a 1-D int32 index. */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  return apply('indexSelect', movementOps.indexSelect, [x, index], { axis: normAxis('indexSelect', axis, x.rank) });
}

/** Zeros of `shape` with the slices of src added at the positions a 1-D index names along axis. */
export function indexAdd(src: Tensor, axis: number, index: Tensor, shape: readonly number[]): Tensor {
  return apply('indexAdd', movementOps.indexAdd, [src, index], { axis: normAxis('indexAdd', axis, shape.length), shape: [...shape] });
}

/**
 * A copy in new storage on the tensor's own backend (torch.clone): every bit kept (-0, NaN), the
 * gradient passed through. The way to copy a tensor that may live in GPU memory.
 */
export function clone(x: Tensor): Tensor {
  return apply('clone', movementOps.clone, [x], {});
}

/** The same values, cut off from differentiation (shares storage). */
export function detach(x: Tensor): Tensor {
  return new Tensor(x.storage, x.shape);
}

/** Integer labels to one-hot rows: shape [...labels.shape, numClasses], float32 unless told. */
export function oneHot(labels: Tensor, numClasses: number, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  if (labels.dtype !== 'int32') throw new TypeError(`oneHot: labels must be int32, got ${labels.dtype}`);
  checkIndex('oneHot', labels, numClasses);
  return cast(eq(unsqueeze(labels, -1), arange(numClasses)), dtype);
}
