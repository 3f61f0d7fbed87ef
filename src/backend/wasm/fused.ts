/**
 * One-pass optimizer updates, in place, with PyTorch's equations (torch.optim.SGD and Adam/AdamW).
 * Each element's update is the same sequence of float32 operations whether it runs in the Wasm
 * SIMD kernel or in the plain loop used for storages of other backends and dtypes (where each
 * step is rounded to float32 with Math.fround for float32 storages), so both give the same bits.
 *
 * SGD, with g = grad + weightDecay * p:
 *   v = first ? g : momentum * v + (1 - dampening) * g;   d = nesterov ? g + momentum * v : v
 *   p = p - lr * d                                        (momentum = 0: d = g, v unused)
 * Adam (decoupled = false) / AdamW (decoupled = true), t = step >= 1:
 *   g = grad + weightDecay * p (Adam) or p = p * (1 - lr * weightDecay) (AdamW)
 *   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
 *   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 */
import type { Storage } from '../../core/storage.js';
import { WasmStorage } from './memory.js';
import { runtime } from './runtime.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  /** First step: the momentum buffer starts as the gradient (PyTorch's buf = clone(grad)). */
  first?: boolean;
}

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** AdamW's decoupled weight decay instead of Adam's L2 term in the gradient. */
  decoupled?: boolean;
  /** The step number t, from 1, for the bias corrections. */
  step: number;
}

function sameF32Wasm(ss: Storage[]): boolean {
  return ss.every((s) => s instanceof WasmStorage && s.dtype === 'float32');
}

const ptr = (s: Storage): number => (s as WasmStorage).readPtr();

function checkSizes(fn: string, ss: Storage[]): void {
  for (const s of ss) if (s.size !== ss[0]!.size || s.dtype !== ss[0]!.dtype) throw new RangeError(`${fn}: every storage must have ${ss[0]!.size} ${ss[0]!.dtype} elements, got ${s.size} ${s.dtype}`);
}

/** SGD (with momentum) in one pass, updating param (and velocity) in place. */
export function sgdStep(param: Storage, grad: Storage, velocity: Storage | null, o: SgdOptions): void {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false, first = false } = o;
  if (momentum !== 0 && velocity === null) throw new Error('sgdStep: momentum needs a velocity buffer');
  // Without momentum the kernel's velocity slot points at the gradient: it reads it and writes
  // the same values back, after the parameter.
  const v = momentum !== 0 ? velocity! : grad;
  checkSizes('sgdStep', [param, grad, v]);
  if (sameF32Wasm([param, grad, v])) {
    runtime().kernel('sgd_f32')(ptr(param), ptr(grad), ptr(v), param.size, lr, momentum, dampening, weightDecay, nesterov ? 1 : 0, first ? 1 : 0);
    return;
  }
  const r = param.dtype === 'float32' ? Math.fround : (x: number) => x;
  const P = param.data, G = grad.data, V = v.data;
  const [flr, fm, f1d, fwd] = [r(lr), r(momentum), r(1 - r(dampening)), r(weightDecay)];
  for (let i = 0; i < P.length; i++) {
    const g = r(G[i]! + r(P[i]! * fwd));
    let d = g;
    if (momentum !== 0) {
      V[i] = first ? g : r(r(fm * V[i]!) + r(f1d * g));
      d = nesterov ? r(g + r(fm * V[i]!)) : V[i]!;
    }
    P[i] = r(P[i]! - r(flr * d));
  }
}

/** Adam / AdamW in one pass, updating param, m and v in place. */
export function adamStep(param: Storage, grad: Storage, m: Storage, v: Storage, o: AdamOptions): void {
  const { lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, decoupled = false, step } = o;
  if (!(Number.isInteger(step) && step >= 1)) throw new RangeError(`adamStep: step must be an integer >= 1, got ${step}`);
  checkSizes('adamStep', [param, grad, m, v]);
  const bc1 = 1 - beta1 ** step, bc2s = Math.sqrt(1 - beta2 ** step);
  if (sameF32Wasm([param, grad, m, v])) {
    runtime().kernel('adam_f32')(ptr(param), ptr(grad), ptr(m), ptr(v), param.size, lr, beta1, beta2, eps, weightDecay, bc1, bc2s, decoupled ? 1 : 0);
    return;
  }
  const r = param.dtype === 'float32' ? Math.fround : (x: number) => x;
  const P = param.data, G = grad.data, M = m.data, V = v.data;
  const [flr, fb1, fb2, feps, fwd, fbc1, fbc2s] = [lr, beta1, beta2, eps, weightDecay, bc1, bc2s].map(r) as number[] as [number, number, number, number, number, number, number];
  const [om1, om2, decay, stepSize] = [r(1 - fb1), r(1 - fb2), r(1 - r(flr * fwd)), r(flr / fbc1)];
  for (let i = 0; i < P.length; i++) {
    let p = P[i]!, g = G[i]!;
    if (decoupled) p = r(p * decay);
    else g = r(g + r(p * fwd));
    const mi = r(r(fb1 * M[i]!) + r(om1 * g));
    const vi = r(r(fb2 * V[i]!) + r(r(om2 * g) * g));
    M[i] = mi;
    V[i] = vi;
    P[i] = r(p - r(r(stepSize * mi) / r(r(r(Math.sqrt(vi)) / fbc2s) + feps)));
  }
}
