/**
 * The common case of the ziggurat normal sampler (stats/gaussian.ts) over draws already made:
 *
 *   ziggurat_map_f32(buf, n, tables, std, rare) -> count: buf holds n 32-bit draws u. For each,
 *     layer iz = u & 127 and signed point hz = u & ~127; if |hz| < kn[iz] the draw is replaced in
 *     place by the float32 sample std * (hz * wn[iz]) (float64 arithmetic, one rounding, exactly as
 *     the TypeScript loop storing into a Float32Array); otherwise it is left as it is and its index
 *     appended to rare (int32). Returns how many are rare (about 3%); the caller settles those.
 *     tables: kn[128] then wn[128], float64.
 */
import type { ModuleBuilder } from './asm.js';

export function emitRandom(mod: ModuleBuilder): void {
  mod.func('ziggurat_map_f32', ['i32', 'i32', 'i32', 'f64', 'i32'], ['i32'], (f, buf, n, tables, std, rare) => {
    const i = f.local('i32'), u = f.local('i32'), iz = f.local('i32'), x = f.local('f64'), count = f.local('i32'), at = f.local('i32');
    f.for_(i, () => f.i32(0), () => f.get(n), 1, () => {
      f.get(buf).get(i).i32(4).i32_mul().i32_add().tee(at).i32_load().set(u);
      f.get(u).i32(127).i32_and().i32(8).i32_mul().get(tables).i32_add().set(iz); // address of kn[iz]
      f.get(u).i32(~127).i32_and().f64_convert_i32_s().set(x);
      f.get(x).f64_abs().get(iz).f64_load(0).f64_lt().if_(() => {
        f.get(at).get(std).get(x).get(iz).f64_load(1024).f64_mul().f64_mul().f32_demote_f64().f32_store();
      }, () => {
        f.get(rare).get(count).i32(4).i32_mul().i32_add().get(i).i32_store();
        f.get(count).i32(1).i32_add().set(count);
      });
    });
    f.get(count);
  });
}
