/** The assembler behind the wasm backend: LEB128 encodings and small modules that validate and run. */
import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModuleBuilder, sleb, uleb } from '../../src/backend/wasm/asm.js';
import { probeRelaxed, probeSimd } from '../../src/backend/wasm/module.js';
import { wasmFeatures } from '../../src/backend/wasm/runtime.js';

describe('wasm assembler', () => {
  it('LEB128: the examples of the WebAssembly spec and DWARF', () => {
    // 624485 = 0x98765: 7-bit groups 0x65, 0x0e, 0x26 -> e5 8e 26
    assert.deepEqual(uleb(624485), [0xe5, 0x8e, 0x26]);
    assert.deepEqual(uleb(0), [0]);
    assert.deepEqual(uleb(128), [0x80, 0x01]);
    // -123456 -> c0 bb 78; -1 -> 7f; 63 -> 3f; 64 needs a second byte (sign bit) -> c0 00
    assert.deepEqual(sleb(-123456), [0xc0, 0xbb, 0x78]);
    assert.deepEqual(sleb(-1), [0x7f]);
    assert.deepEqual(sleb(63), [0x3f]);
    assert.deepEqual(sleb(64), [0xc0, 0x00]);
  });

  it('builds a module with loops, locals, memory and SIMD that computes a dot product', () => {
    const m = new ModuleBuilder({ initial: 1, maximum: 1, shared: false });
    // dot(a, b, n): sum of a[i] b[i] over n (a multiple of 4) float32 elements, four lanes at a time
    m.func('dot', ['i32', 'i32', 'i32'], ['f32'], (f, a, b, n) => {
      const i = f.local('i32'),
        acc = f.local('v128');
      f.v128_const_f32(0).set(acc);
      f.for_(
        i,
        () => f.i32(0),
        () => f.get(n),
        4,
        () => {
          f.get(acc).get(a).get(i).i32(4).i32_mul().i32_add().v128_load().get(b).get(i).i32(4).i32_mul().i32_add().v128_load().f32x4_mul().f32x4_add().set(acc);
        },
      );
      f.get(acc)
        .f32x4_extract_lane(0)
        .get(acc)
        .f32x4_extract_lane(1)
        .f32_add()
        .get(acc)
        .f32x4_extract_lane(2)
        .f32_add()
        .get(acc)
        .f32x4_extract_lane(3)
        .f32_add();
    });
    const bytes = m.bytes();
    assert.ok(WebAssembly.validate(bytes));
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    const dot = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem } }).exports.dot as (a: number, b: number, n: number) => number;
    const f32 = new Float32Array(mem.buffer);
    f32.set([1, 2, 3, 4, 5, 6, 7, 8], 0);
    f32.set([1, 1, 1, 1, 2, 2, 2, 2], 16);
    // 1+2+3+4 + 2(5+6+7+8) = 10 + 52 = 62
    assert.equal(dot(0, 64, 8), 62);
  });

  it('feature probes: Node 20 has SIMD, relaxed SIMD (behind a flag the backend sets) and shared memory', () => {
    assert.equal(probeSimd(), true);
    const f = wasmFeatures(); // sets --experimental-wasm-relaxed-simd where needed
    assert.deepEqual(f, { simd: true, relaxedSimd: true, threads: true });
    assert.equal(probeRelaxed(), true);
  });
});
