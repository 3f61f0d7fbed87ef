/**
 * The Wasm kernels behind fused.ts's one-pass optimizer updates (equations there):
 *   sgd_f32(p, g, v, n, lr, momentum, dampening, weightDecay, nesterov, first)
 *   adam_f32(p, g, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, sqrt(bc2), decoupled)
 */
import type { Func, Local, ModuleBuilder } from './asm.js';

/**
 * Emit a loop over n float32 elements at the given pointers: four at a time with v128, then the
 * tail one at a time (loaded by splat, stored from lane 0) through the same `update`, which reads
 * the loaded vectors from `vals` and returns the (pointer index, value local) pairs to store.
 */
function elementLoop(f: Func, ptrs: Local[], n: Local, vals: Local[], update: () => [number, Local][]): void {
  const j = f.local('i32'), vecEnd = f.local('i32'), addr = f.local('i32');
  const at = (q: number): void => { f.get(ptrs[q]!).get(j).i32(4).i32_mul().i32_add(); };
  f.get(n).i32(-4).i32_and().set(vecEnd);
  f.for_(j, () => f.i32(0), () => f.get(vecEnd), 4, () => {
    ptrs.forEach((_, q) => { at(q); f.v128_load().set(vals[q]!); });
    for (const [q, v] of update()) { at(q); f.get(v).v128_store(); }
  });
  f.for_(j, () => f.get(vecEnd), () => f.get(n), 1, () => {
    ptrs.forEach((_, q) => { at(q); f.v128_load32_splat().set(vals[q]!); });
    for (const [q, v] of update()) { at(q); f.set(addr); f.get(addr).get(v).f32x4_extract_lane(0).f32_store(); }
  });
}

export function emitFused(mod: ModuleBuilder): void {
  // sgd(p, g, v, n, lr, momentum, dampening, weightDecay, nesterov, first)
  mod.func('sgd_f32', ['i32', 'i32', 'i32', 'i32', 'f32', 'f32', 'f32', 'f32', 'i32', 'i32'], [], (f, p, g, v, n, lr, mom, damp, wd, nesterov, first) => {
    const P = f.local('v128'), G = f.local('v128'), V = f.local('v128'), D = f.local('v128');
    const splat = (x: Local): void => { f.get(x).f32x4_splat(); };
    elementLoop(f, [p, g, v], n, [P, G, V], () => {
      f.get(G); f.get(P); splat(wd); f.f32x4_mul().f32x4_add().set(G); // g + wd p
      f.get(G).set(D);
      const stores: [number, Local][] = [[0, P]];
      f.get(mom).f32(0).f32_ne().if_(() => {
        f.get(first).if_(() => { f.get(G).set(V); }, () => {
          splat(mom); f.get(V).f32x4_mul(); f.f32(1).get(damp).f32_sub().f32x4_splat().get(G).f32x4_mul().f32x4_add().set(V);
        });
        f.get(nesterov).if_(() => { f.get(G); splat(mom); f.get(V).f32x4_mul().f32x4_add().set(D); }, () => { f.get(V).set(D); });
      });
      f.get(P); splat(lr); f.get(D).f32x4_mul().f32x4_sub().set(P);
      stores.push([2, V]);
      return stores;
    });
  });
  // adam(p, g, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2sqrt, decoupled)
  const ps = ['i32', 'i32', 'i32', 'i32', 'i32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'i32'] as const;
  mod.func('adam_f32', ps, [], (f, p, g, m, v, n, lr, b1, b2, eps, wd, bc1, bc2s, decoupled) => {
    const P = f.local('v128'), G = f.local('v128'), M = f.local('v128'), V = f.local('v128');
    const splat = (x: Local): void => { f.get(x).f32x4_splat(); };
    elementLoop(f, [p, g, m, v], n, [P, G, M, V], () => {
      f.get(decoupled).if_(() => {
        f.get(P); f.f32(1).get(lr).get(wd).f32_mul().f32_sub().f32x4_splat().f32x4_mul().set(P);
      }, () => { f.get(G); f.get(P); splat(wd); f.f32x4_mul().f32x4_add().set(G); });
      splat(b1); f.get(M).f32x4_mul(); f.f32(1).get(b1).f32_sub().f32x4_splat().get(G).f32x4_mul().f32x4_add().set(M);
      splat(b2); f.get(V).f32x4_mul(); f.f32(1).get(b2).f32_sub().f32x4_splat().get(G).f32x4_mul().get(G).f32x4_mul().f32x4_add().set(V);
      // p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
      f.get(P);
      f.get(lr).get(bc1).f32_div().f32x4_splat().get(M).f32x4_mul();
      f.get(V).f32x4_sqrt(); splat(bc2s); f.f32x4_div(); splat(eps); f.f32x4_add();
      f.f32x4_div().f32x4_sub().set(P);
      return [[0, P], [2, M], [3, V]];
    });
  });
}

