/**
 * The index kernels of the Backend (AxisLayout: a tensor seen as [outer, n, inner] around one
 * axis, indexed along it with m indices) in WebAssembly, in the reference's order of operations.
 */
import type { ModuleBuilder } from './asm.js';

/**
 * gather_32(x, idx, out, outer, n, inner, m): out[o, j, i] = x[o, idx[o, j, i], i] (32-bit values).
 * scatteradd_f32(src, idx, out, outer, n, inner, m, zeroFirst): out[o, idx[o, j, i], i] += src[o, j, i],
 * in the reference's order; with zeroFirst, each outer slice of out is cleared just before its
 * additions (one pass less than a separate fill, and the slice is in cache when it is added to).
 * Indices are checked by the ops before any kernel runs. With inner = 1 (an index along the last
 * axis: max pooling, picking a class's logit) the address is simply slice + index.
 */
export function emitGatherScatter(mod: ModuleBuilder): void {
  for (const kind of ['gather', 'scatter'] as const) {
    const name = kind === 'gather' ? 'gather_32' : 'scatteradd_f32';
    mod.func(name, Array(kind === 'gather' ? 7 : 8).fill('i32'), [], (f, x, idx, out, outer, n, inner, m, zeroFirst) => {
      const o = f.local('i32'), j = f.local('i32'), i = f.local('i32'), q = f.local('i32'), at = f.local('i32');
      const slice = f.local('i32'), pi = f.local('i32'), pq = f.local('i32'), end = f.local('i32');
      f.i32(0).set(q);
      f.for_(o, () => f.i32(0), () => f.get(outer), 1, () => {
        if (kind === 'scatter') {
          f.get(zeroFirst).if_(() => {
            f.get(out).get(o).get(n).i32_mul().get(inner).i32_mul().i32(4).i32_mul().i32_add().i32(0).get(n).get(inner).i32_mul().i32(4).i32_mul().memory_fill();
          });
        }
        // the last axis: byte address = slice start + 4 idx
        f.get(inner).i32(1).i32_eq().if_(() => {
          f.get(o).get(n).i32_mul().i32(4).i32_mul().get(kind === 'gather' ? x : out).i32_add().set(slice);
          f.get(idx).get(q).i32(4).i32_mul().i32_add().set(pi);
          f.get(kind === 'gather' ? out : x).get(q).i32(4).i32_mul().i32_add().set(pq);
          f.get(pi).get(m).i32(4).i32_mul().i32_add().set(end);
          f.block(() => f.loop(() => {
            f.get(pi).get(end).i32_eq().br_if(1); // pi steps by 4 from <= end: exact, and no signed compare of addresses
            f.get(slice).get(pi).i32_load().i32(4).i32_mul().i32_add().set(at);
            if (kind === 'gather') f.get(pq).get(at).i32_load().i32_store();
            else f.get(at).get(at).f32_load().get(pq).f32_load().f32_add().f32_store();
            f.get(pi).i32(4).i32_add().set(pi);
            f.get(pq).i32(4).i32_add().set(pq);
            f.br(0);
          }));
          f.get(q).get(m).i32_add().set(q);
        }, () => f.for_(j, () => f.i32(0), () => f.get(m), 1, () => {
          f.for_(i, () => f.i32(0), () => f.get(inner), 1, () => {
            // at = byte address of element (o, idx[q], i) of the n-long axis
            f.get(o).get(n).i32_mul().get(idx).get(q).i32(4).i32_mul().i32_add().i32_load().i32_add().get(inner).i32_mul().get(i).i32_add().i32(4).i32_mul().set(at);
            if (kind === 'gather') {
              f.get(out).get(q).i32(4).i32_mul().i32_add().get(x).get(at).i32_add().i32_load().i32_store();
            } else {
              f.get(out).get(at).i32_add().tee(at).get(at).f32_load().get(x).get(q).i32(4).i32_mul().i32_add().f32_load().f32_add().f32_store();
            }
            f.get(q).i32(1).i32_add().set(q);
          });
        }));
      });
    });
  }
}

/**
 * index_select(x, idx, out, outer, n, inner, m, eb): out[o, j, :] = x[o, idx[j], :] for elements
 * of eb bytes (4 or 8, any dtype): whole rows move, by memory.copy when long, else as 32-bit words.
 * index_add_f32(src, idx, out, outer, n, inner, m): out[o, idx[j], :] += src[o, j, :], in the
 * reference's order, four lanes at a time along the row.
 */
export function emitIndexKernels(mod: ModuleBuilder): void {
  mod.func('index_select', Array(8).fill('i32'), [], (f, x, idx, out, outer, n, inner, m, eb) => {
    const o = f.local('i32'), j = f.local('i32'), w = f.local('i32'), rowBytes = f.local('i32'), s = f.local('i32'), d = f.local('i32');
    f.get(inner).get(eb).i32_mul().set(rowBytes);
    f.get(out).set(d);
    f.for_(o, () => f.i32(0), () => f.get(outer), 1, () => {
      f.for_(j, () => f.i32(0), () => f.get(m), 1, () => {
        f.get(x).get(o).get(n).i32_mul().get(idx).get(j).i32(4).i32_mul().i32_add().i32_load().i32_add().get(rowBytes).i32_mul().i32_add().set(s);
        f.get(rowBytes).i32(64).i32_ge_s().if_(() => {
          f.get(d).get(s).get(rowBytes).memory_copy();
        }, () => {
          f.for_(w, () => f.i32(0), () => f.get(rowBytes), 4, () => {
            f.get(d).get(w).i32_add().get(s).get(w).i32_add().i32_load().i32_store();
          });
        });
        f.get(d).get(rowBytes).i32_add().set(d);
      });
    });
  });
  mod.func('index_add_f32', Array(7).fill('i32'), [], (f, src, idx, out, outer, n, inner, m) => {
    const o = f.local('i32'), j = f.local('i32'), i = f.local('i32'), vecEnd = f.local('i32'), s = f.local('i32'), d = f.local('i32');
    f.get(inner).i32(-4).i32_and().set(vecEnd);
    f.get(src).set(s);
    f.for_(o, () => f.i32(0), () => f.get(outer), 1, () => {
      f.for_(j, () => f.i32(0), () => f.get(m), 1, () => {
        f.get(out).get(o).get(n).i32_mul().get(idx).get(j).i32(4).i32_mul().i32_add().i32_load().i32_add().get(inner).i32_mul().i32(4).i32_mul().i32_add().set(d);
        f.for_(i, () => f.i32(0), () => f.get(vecEnd), 4, () => {
          f.get(d).get(i).i32(4).i32_mul().i32_add().tee(d);
          f.get(d).v128_load().get(s).get(i).i32(4).i32_mul().i32_add().v128_load().f32x4_add().v128_store();
          f.get(d).get(i).i32(4).i32_mul().i32_sub().set(d);
        });
        f.for_(i, () => f.get(vecEnd), () => f.get(inner), 1, () => {
          f.get(d).get(i).i32(4).i32_mul().i32_add().tee(d);
          f.get(d).f32_load().get(s).get(i).i32(4).i32_mul().i32_add().f32_load().f32_add().f32_store();
          f.get(d).get(i).i32(4).i32_mul().i32_sub().set(d);
        });
        f.get(s).get(inner).i32(4).i32_mul().i32_add().set(s);
      });
    });
  });
}
