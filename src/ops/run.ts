/**
 * How an op runs: its shape rule gives the output's shape and dtype (or an error naming the op and
 * the shapes), the backend kernel fills the output, and, when an input takes part in
 * differentiation, the op records a node holding its backward rule.
 */
import type { Backend } from '../backend/index.js';
import { getBackend } from '../backend/index.js';
import type { DType } from '../core/dtype.js';
import { isGradEnabled } from '../core/grad-mode.js';
import { shapeSize } from '../core/shape.js';
import type { Storage } from '../core/storage.js';
import { Tensor } from '../core/tensor.js';
import type { OpAttrs, OpName } from './types.js';

export interface BackwardCtx<A> {
  readonly inputs: readonly Tensor[];
  readonly out: Tensor;
  readonly attrs: A;
  /** needs[i]: whether input i wants a gradient (rules may skip the others). */
  readonly needs: readonly boolean[];
}

export interface OpDef<A> {
  /** Shape rule: the output's shape and dtype, or a thrown error naming the op and the shapes. */
  infer(inputs: readonly Tensor[], attrs: A): { shape: number[]; dtype: DType };
  /** Fill `out` (already allocated) using the backend's kernels. */
  forward(backend: Backend, inputs: readonly Tensor[], out: Storage, attrs: A, outShape: readonly number[]): void;
  /** Share the input's storage instead of computing (reshape). */
  view?: true;
  /** One gradient per input, written with other ops, in the output's (broadcast) shape: the tape sums it back to the input's shape. null: not differentiable. */
  backward: ((gradOut: Tensor, ctx: BackwardCtx<A>) => (Tensor | null)[]) | null;
}

export type OpTable<K extends OpName> = { [P in K]: OpDef<OpAttrs[P]> };

/** Bring a tensor onto the current backend (a copy when it lives elsewhere). */
function onBackend(b: Backend, t: Tensor): Storage {
  const s = t.storage;
  if (s.backend === b.name) return s;
  const c = b.alloc(s.dtype, s.size);
  c.data.set(s.data);
  return c;
}

/** While above 0, every op records its node, differentiable or not and whatever its inputs (see recordEveryOp). */
let recordingAll = 0;

/**
 * Run fn with every op recording its node on its output, as if every input took part in
 * differentiation and every op had a gradient (a non-differentiable op's rule gives no gradients).
 * exportOnnx traces a layer's forward pass this way, so that comparisons, masks and values cut off
 * with detach are in the recorded graph too.
 */
export function recordEveryOp<T>(fn: () => T): T {
  recordingAll++;
  try {
    return fn();
  } finally {
    recordingAll--;
  }
}

export function apply<K extends OpName>(name: K, def: OpDef<OpAttrs[K]>, inputs: Tensor[], attrs: OpAttrs[K]): Tensor {
  const { shape, dtype } = def.infer(inputs, attrs);
  const b = getBackend();
  let storage: Storage;
  if (def.view) {
    storage = inputs[0]!.storage;
  } else {
    storage = b.alloc(dtype, shapeSize(shape));
    // Inputs made on another backend are copied over for the kernel; the graph keeps the originals.
    const local = inputs.some((t) => t.storage.backend !== b.name)
      ? inputs.map((t) => (t.storage.backend === b.name ? t : new Tensor(onBackend(b, t), t.shape)))
      : inputs;
    def.forward(b, local, storage, attrs, shape);
  }
  const out = new Tensor(storage, shape);
  const bw = def.backward;
  if (bw !== null && isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.node = {
      op: name,
      inputs,
      attrs,
      backward: (g, needs) => bw(g, { inputs, out, attrs, needs }),
    };
  } else if (recordingAll > 0) {
    out.node = { op: name, inputs, attrs, backward: (g, needs) => (bw ? bw(g, { inputs, out, attrs, needs }) : inputs.map(() => null)) };
  }
  return out;
}
