/** The wasm heap: size classes, block reuse, growth with views re-created, and memory accounting. */
import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sizeClass, WasmHeap, WasmStorage } from '../../src/backend/wasm/memory.js';
import { memory } from '../../src/index.js';
import { wasmBackend } from './kernels.js';

describe('wasm heap', () => {
  it('size classes are 16-byte multiples, at least the request, and waste under 25% above 256 bytes', () => {
    for (const n of [1, 15, 16, 17, 255, 256, 257, 1000, 4096, 4097, 123457, 1 << 20]) {
      const c = sizeClass(n);
      assert.equal(c % 16, 0, `class of ${n}`);
      assert.ok(c >= n, `class of ${n} is ${c}`);
      if (n > 256) assert.ok(c < 1.25 * n, `class of ${n} is ${c}`);
    }
    // 300 bytes: 2^8 <= 300 < 2^9, steps of 2^(8-2) = 64, so 320
    assert.equal(sizeClass(300), 320);
  });

  it('a freed block is reused by the next request of its class, and handed out zeroed', () => {
    const heap = new WasmHeap(1, 64, false);
    const a = new WasmStorage(heap, 'float32', 100);
    a.data.fill(7);
    const ptr = a.ptr;
    a.release();
    const b = new WasmStorage(heap, 'int32', 98); // 392 bytes: same 448-byte class as 400
    assert.equal(b.ptr, ptr);
    assert.ok(b.data.every((v) => v === 0));
    const c = new WasmStorage(heap, 'float32', 100);
    assert.notEqual(c.ptr, ptr);
    assert.equal(c.ptr % 16, 0);
  });

  it('a reused block reads as zeros through kernels too (it is cleared lazily, before its first read)', () => {
    const junk = wasmBackend.alloc('float32', 300);
    junk.data.fill(9);
    junk.release();
    // same size class: the block comes back with 9s in memory, still pending its clearing
    const z = wasmBackend.alloc('float32', 300),
      one = wasmBackend.alloc('float32', 300),
      out = wasmBackend.alloc('float32', 300);
    assert.equal((z as WasmStorage).ptr, (junk as WasmStorage).ptr);
    one.data.fill(1);
    wasmBackend.binary('add', z, one, out, [300], [1], [1]); // the kernel reads z: 0 + 1
    assert.ok(out.data.every((v) => v === 1));
    // a copy that writes only part of its destination leaves zeros elsewhere: [1, 0, 1, 0, ...]
    const junk2 = wasmBackend.alloc('float32', 10);
    junk2.data.fill(5);
    junk2.release();
    const dst = wasmBackend.alloc('float32', 10);
    wasmBackend.copy(one, dst, [5], 0, [1], 0, [2]);
    assert.deepEqual([...dst.data], [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
    // a copy that writes all of it (a permute) skips the clearing and leaves no junk either
    const src = wasmBackend.alloc('float32', 6);
    src.data.set([1, 2, 3, 4, 5, 6]);
    const junk3 = wasmBackend.alloc('float32', 6);
    junk3.data.fill(5);
    junk3.release();
    const t = wasmBackend.alloc('float32', 6);
    wasmBackend.copy(src, t, [3, 2], 0, [1, 3], 0, [2, 1]); // [2, 3] -> [3, 2] transpose
    assert.deepEqual([...t.data], [1, 4, 2, 5, 3, 6]);
    // scatterAdd adds into what out holds: a reused block still reads as zeros there
    const idx = wasmBackend.alloc('int32', 2);
    idx.data.set([1, 1]);
    const junk4 = wasmBackend.alloc('float32', 6);
    junk4.data.fill(5);
    junk4.release();
    const acc = wasmBackend.alloc('float32', 6);
    wasmBackend.scatterAdd(src, idx, acc, { outer: 1, n: 6, inner: 1, m: 2 }); // acc[1] += 1 + 2
    assert.deepEqual([...acc.data], [0, 3, 0, 0, 0, 0]);
  });

  it('growth re-creates views on the new buffer and keeps the contents', () => {
    const heap = new WasmHeap(1, 256, false);
    const a = new WasmStorage(heap, 'float64', 10);
    a.data.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const oldView = a.data;
    const big = new WasmStorage(heap, 'float32', 200_000); // 800 kB > the initial 64 kB page
    assert.ok(heap.buffer.byteLength >= 800_000);
    assert.equal(oldView.length, 0, 'a plain memory detaches the old buffer on growth');
    assert.notEqual(a.data, oldView);
    assert.deepEqual([...a.data], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    big.data[199_999] = 3;
    assert.equal(big.data[199_999], 3);
    assert.throws(() => new WasmStorage(heap, 'float32', 5_000_000), /out of memory.*maximum/);
  });

  it('storages report to the shared accounting and release returns their bytes', () => {
    const before = memory();
    const s = wasmBackend.alloc('float32', 1000);
    assert.equal(memory().bytes - before.bytes, 4000);
    assert.equal(memory().storages - before.storages, 1);
    s.release();
    assert.equal(memory().bytes, before.bytes);
  });
});
