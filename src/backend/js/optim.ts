/**
 * The reference of the fused optimizer kernels: the same operations, in the same order, that
 * the optimizer composes from ops, each rounded to the storage's dtype (a float32 operation is
 * a float64 one rounded once: exact for +, -, *).
 */
import type { SgdStepHyper } from '../backend.js';
import type { Storage } from '../../core/storage.js';

/** Backend.sgdStep, written out. */
export function sgdStepReference(p: Storage, grad: Storage, bufIn: Storage | null, pOut: Storage, bufOut: Storage | null, h: SgdStepHyper): void {
  const r = p.dtype === 'float32' ? Math.fround : (x: number) => x;
  const lr = r(h.lr),
    mu = r(h.momentum),
    keep = r(1 - h.dampening),
    wd = r(h.weightDecay);
  const pd = p.data,
    gd = grad.data,
    po = pOut.data;
  const bi = bufIn?.data,
    bo = bufOut?.data;
  const momentum = h.momentum !== 0;
  if (momentum && (!bo || (!h.first && !bi))) throw new TypeError('sgdStep: momentum needs bufOut (and bufIn after the first step)');
  for (let i = 0; i < pd.length; i++) {
    const x = pd[i]!;
    let g = h.maximize ? -gd[i]! : gd[i]!;
    if (h.weightDecay !== 0) g = r(g + r(x * wd));
    if (momentum) {
      const b = h.first ? g : r(r(bi![i]! * mu) + r(g * keep));
      bo![i] = b;
      g = h.nesterov ? r(g + r(b * mu)) : b;
    }
    po[i] = r(x - r(g * lr));
  }
}

/** Backend.sumSquares, written out: squares in the dtype, summed in float64 in order. */
export function sumSquaresReference(x: Storage): number {
  const r = x.dtype === 'float32' ? Math.fround : (v: number) => v;
  const d = x.data;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += r(d[i]! * d[i]!);
  return s;
}
