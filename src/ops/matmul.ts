/** Matrix products with batch dimensions and broadcasting, and the transposed forms backward needs. */
import { isFloat } from '../core/dtype.js';
import { broadcastShapes, broadcastStrides, shapeSize, shapeStr } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { add } from './elementwise.js';
import { reshape, squeeze, unsqueeze } from './movement.js';
import type { OpTable } from './run.js';
import { apply } from './run.js';

/** Per-batch element offsets of a [...batch, r, c] operand broadcast to `batchShape`. */
function batchOffsets(t: Tensor, batchShape: readonly number[]): number[] {
  const own = t.shape.slice(0, -2);
  const mat = t.shape[t.rank - 2]! * t.shape[t.rank - 1]!;
  const st = broadcastStrides(own, batchShape);
  const n = shapeSize(batchShape);
  const out = new Array<number>(n);
  const idx = new Array<number>(batchShape.length).fill(0);
  for (let b = 0; b < n; b++) {
    let off = 0;
    for (let d = 0; d < idx.length; d++) off += idx[d]! * st[d]!;
    out[b] = off * mat;
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d]! < batchShape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

function dims(t: Tensor, trans: boolean): [number, number] {
  const r = t.shape[t.rank - 2]!,
    c = t.shape[t.rank - 1]!;
  return trans ? [c, r] : [r, c];
}

export const matmulOps: OpTable<'matmul'> = {
  matmul: {
    infer([a, b], { transA, transB }) {
      if (a!.dtype !== b!.dtype) throw new TypeError(`matmul: dtypes differ (${a!.dtype} and ${b!.dtype})`);
      if (!isFloat(a!.dtype)) throw new TypeError(`matmul: expects float32 or float64 tensors, got ${a!.dtype}`);
      if (a!.rank < 2 || b!.rank < 2) throw new RangeError(`matmul: operands need at least 2 dimensions, got ${shapeStr(a!.shape)} and ${shapeStr(b!.shape)}`);
      const [m, k] = dims(a!, transA),
        [k2, n] = dims(b!, transB);
      if (k !== k2)
        throw new RangeError(
          `matmul: inner dimensions differ: ${shapeStr(a!.shape)}${transA ? '^T' : ''} @ ${shapeStr(b!.shape)}${transB ? '^T' : ''} (${k} vs ${k2})`,
        );
      const batch = broadcastShapes('matmul', a!.shape.slice(0, -2), b!.shape.slice(0, -2));
      return { shape: [...batch, m, n], dtype: a!.dtype };
    },
    forward(be, [a, b], out, { transA, transB }, shape) {
      const batchShape = shape.slice(0, -2);
      const [m, k] = dims(a!, transA),
        [, n] = dims(b!, transB);
      be.matmul(a!.storage, b!.storage, out, {
        batch: shapeSize(batchShape),
        m,
        n,
        k,
        transA,
        transB,
        aOffsets: batchOffsets(a!, batchShape),
        bOffsets: batchOffsets(b!, batchShape),
      });
    },
    // C = op(A) op(B). With g = dL/dC: dL/dop(A) = g op(B)^T and dL/dop(B) = op(A)^T g, then
    // undo the transposes; every case is another matmul with flags, no transpose is materialised.
    backward: (g, { inputs: [a, b], attrs: { transA, transB }, needs }) => {
      const mm = (x: Tensor, y: Tensor, tx: boolean, ty: boolean) => apply('matmul', matmulOps.matmul, [x, y], { transA: tx, transB: ty });
      let da: Tensor | null = null,
        db: Tensor | null = null;
      if (needs[0]) da = !transA ? mm(g, b!, false, !transB) : mm(b!, g, transB, true);
      if (needs[1]) db = !transB ? mm(a!, g, !transA, false) : mm(g, a!, true, transA);
      return [da, db];
    },
  },
};

export interface MatmulOptions {
  /** Use a's last two axes transposed, without copying. */
  transA?: boolean;
  transB?: boolean;
}

/**
 * Matrix product with NumPy semantics: 1-D operands are promoted (and the added axis removed),
 * leading batch dimensions broadcast.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const va = a.rank === 1,
    vb = b.rank === 1;
  const A = va ? unsqueeze(a, 0) : a;
  const B = vb ? unsqueeze(b, -1) : b;
  let out = apply('matmul', matmulOps.matmul, [A, B], { transA: !!options.transA && !va, transB: !!options.transB && !vb });
  if (va) out = squeeze(out, -2);
  if (vb) out = squeeze(out, -1);
  return out;
}

/** x W^T + b, the affine map of a Linear layer with W stored [out, in] (PyTorch's layout). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const y =
    x.rank === 2
      ? matmul(x, weight, { transB: true })
      : reshape(matmul(reshape(x, [-1, x.shape[x.rank - 1]!]), weight, { transB: true }), [...x.shape.slice(0, -1), weight.shape[0]!]);
  return bias ? add(y, bias) : y;
}
