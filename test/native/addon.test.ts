/**
 * The native addon's interface: which kernel path it runs and how to force one, its thread
 * count, and its refusals: offsets outside the memory, a grown or detached memory, a thread
 * (worker) that has not attached one. The addon must be built (`npm run build:native`); only
 * DESCENT_SKIP_NATIVE=1 or DESCENT_NATIVE=0 skips these tests.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { nativeStatus } from '../../src/backend/native/addon.js';
import type { NativeIsa } from '../../src/backend/native/addon.js';
import { expectLoaded, initialIsa, memory, native, pathsOnThisCpu, placeC, readC, reset, skipSuite } from './harness.js';

expectLoaded();
const addonFile = fileURLToPath(new URL('../../native/build/Release/descent_native.node', import.meta.url));

/**
 * Each call (its arguments, the message it must throw, the error type: RangeError unless given)
 * throws that error; `label` (optional) names the function in a failure.
 */
function assertRefusals<A>(call: (args: A) => void, cases: readonly (readonly [A, RegExp, ErrorConstructor?])[], label = ''): void {
  for (const [args, message, type = RangeError] of cases)
    assert.throws(
      () => call(args),
      (e: Error) => e instanceof type && message.test(e.message),
      `${label} ${String(args)}`.trim(),
    );
}

describe('native addon: interface', { skip: skipSuite }, () => {
  const addon = native!;
  const isas = native ? pathsOnThisCpu(native) : [];

  it('runs the widest path the CPU has (or DESCENT_NATIVE_ISA) and says so', () => {
    const forced = process.env.DESCENT_NATIVE_ISA;
    assert.equal(initialIsa, forced || isas[isas.length - 1]);
    assert.deepEqual(nativeStatus(), { loaded: true, isa: initialIsa });
    console.log(`native paths on this CPU: ${isas.join(', ')}`);
  });

  it('refuses offsets and extents outside the memory with a RangeError naming the argument, touching nothing', () => {
    reset();
    const len = memory.buffer.byteLength;
    const c = placeC(2, 2, () => 7);
    const before = readC(c);
    const call = (args: number[]): void => (addon.sgemm as (...x: number[]) => void)(...args);
    // m, n, k, a, rsA, csA, b, rsB, csB, c, ldc, accumulate, threads
    const cases: [number[], RegExp][] = [
      [[2, 2, 2, len, 2, 1, 0, 2, 1, c.off, c.rs, 0, 1], /\ba\b/],
      [[2, 2, 2, len - 12, 2, 1, 0, 2, 1, c.off, c.rs, 0, 1], /\ba spans/],
      [[2, 2, 2, 0, 2, 1, len - 8, 2, 1, c.off, c.rs, 0, 1], /\bb spans/],
      [[2, 2, 2, 0, 2, 1, 0, 2, 1, len - 8, 2, 0, 1], /\bc spans/],
      [[2, 2, 2, 4, -2, 1, 0, 2, 1, c.off, c.rs, 0, 1], /\ba spans/], // row 1 would sit at byte -4
      [[2, 2, 2, 0, 2, 1, 0, 1, 2 ** 29, c.off, c.rs, 0, 1], /\bb spans/],
      [[2, 2, 2, 2, 2, 1, 0, 2, 1, c.off, c.rs, 0, 1], /a = 2 is not a multiple of 4/],
      [[-1, 2, 2, 0, 2, 1, 0, 2, 1, c.off, c.rs, 0, 1], /\bm must be an integer/],
      [[2, 2.5, 2, 0, 2, 1, 0, 2, 1, c.off, c.rs, 0, 1], /\bn must be an integer/],
      [[2, 2, 2, 0, 2, 1, 0, 2, 1, c.off, 1, 0, 1], /ldc = 1 is less than n = 2/],
      [[2, 2, 2, 0, 2, 1, 0, 2, 1, c.off, c.rs, 2, 1], /accumulate must be an integer in \[0, 1\]/],
      [[2, 2, 2, 0, 2, 1, 0, 2, 1, c.off, c.rs, 0, -1], /threads must be/],
      [[2, 2, 2, 2 ** 60, 2, 1, 0, 2, 1, c.off, c.rs, 0, 1], /\ba must be an integer/],
    ];
    assertRefusals(call, cases);
    assert.throws(() => (addon.sgemm as (...x: unknown[]) => void)(2, 2, '2', 0, 2, 1, 0, 2, 1, c.off, c.rs, 0, 1), TypeError);
    assert.throws(() => (addon.sgemm as (...x: unknown[]) => void)(2, 2, 2), TypeError);
    assert.deepEqual(readC(c), before);
    reset();
  });

  it("refuses the SGD update's bad offsets, sizes and flags the same way, touching nothing", () => {
    reset();
    const len = memory.buffer.byteLength;
    const c = placeC(2, 2, () => 7);
    const before = readC(c);
    const call = (args: number[]): void => (addon.sgdStep as (...x: number[]) => void)(...args);
    // p, g, bIn, pOut, bOut, n, lr, momentum, keep, weightDecay, flags, threads; flags 4: momentum
    const ok = [c.off, c.off, c.off, c.off, c.off, 4, 0.1, 0.9, 1, 0, 4, 1];
    const with_ = (i: number, v: number): number[] => ok.map((x, j) => (j === i ? v : x));
    const cases: [number[], RegExp][] = [
      [with_(0, len - 8), /sgdStep: p spans/],
      [with_(1, len), /sgdStep: g spans/],
      [with_(2, len - 4), /sgdStep: bIn spans/],
      [with_(3, len - 12), /sgdStep: pOut spans/],
      [with_(4, len - 4), /sgdStep: bOut spans/],
      [with_(0, 2), /sgdStep: p = 2 is not a multiple of 4/],
      [with_(5, -1), /sgdStep: n must be an integer/],
      [with_(5, 2 ** 60), /sgdStep: n must be an integer/],
      [with_(10, 32), /sgdStep: flags must be an integer in \[0, 31\]/],
      [with_(11, -1), /sgdStep: threads must be/],
    ];
    assertRefusals(call, cases);
    // without momentum the buffers are neither read nor checked; with it after the first step both are
    assert.doesNotThrow(() => call([c.off, c.off, len, c.off, len, 4, 0, 0, 1, 0, 0, 1]));
    assert.doesNotThrow(() => call([c.off, c.off, len, c.off, c.off, 4, 0, 0.9, 1, 0, 4 | 8, 1]));
    assert.throws(() => (addon.sgdStep as (...x: unknown[]) => void)(...ok.slice(0, 6), '0.1', ...ok.slice(7)), TypeError);
    assert.throws(() => (addon.sgdStep as (...x: unknown[]) => void)(c.off), TypeError);
    assert.deepEqual(readC(c), before, 'lr 0 updates leave the values as they were');
    reset();
  });

  it('refuses bad arguments to the sums of squares the same way, touching nothing', () => {
    reset();
    const len = memory.buffer.byteLength;
    const c = placeC(1, 16, () => 3); // 16 contiguous float32: x in the first 8, out's 2 float64 after them
    const before = readC(c);
    const call = (args: number[]): void => (addon.sumSquaresRows as (...x: number[]) => void)(...args);
    const out = (c.off + 32 + 7) & ~7;
    // x, out, rows, cols, threads
    const ok = [c.off, out, 2, 4, 1];
    const with_ = (i: number, v: number): number[] => ok.map((x, j) => (j === i ? v : x));
    const cases: [number[], RegExp][] = [
      [with_(0, len - 28), /sumSquaresRows: x spans/],
      [with_(1, len - 8), /sumSquaresRows: out spans/],
      [with_(0, 2), /sumSquaresRows: x = 2 is not a multiple of 4/],
      [with_(1, out + 4), /sumSquaresRows: out = \d+ is not a multiple of 8/],
      [with_(2, -1), /sumSquaresRows: rows must be an integer/],
      [with_(3, 2 ** 31), /sumSquaresRows: cols must be an integer/],
      [with_(4, -1), /sumSquaresRows: threads must be/],
    ];
    assertRefusals(call, cases);
    assert.deepEqual(readC(c), before, 'a refused call writes nothing');
    // rows = 0 touches nothing (so its offsets are not checked); cols = 0 writes zero sums
    assert.doesNotThrow(() => call([len, len, 0, 4, 1]));
    call([c.off, out, 2, 0, 1]);
    assert.deepEqual(Array.from(new Float64Array(memory.buffer, out, 2)), [0, 0]);
    call(ok);
    assert.deepEqual(Array.from(new Float64Array(memory.buffer, out, 2)), [36, 36], 'rows of four 3s: 4 * 9 each');
    assert.throws(() => (addon.sumSquaresRows as (...x: unknown[]) => void)(c.off, out, '2', 4, 1), TypeError);
    assert.throws(() => (addon.sumSquaresRows as (...x: unknown[]) => void)(c.off), TypeError);
    reset();
  });

  it('refuses bad copy and col2im arguments the same way, touching nothing; copies and sums what it is given', () => {
    reset();
    const len = memory.buffer.byteLength;
    const c = placeC(1, 32, (_, j) => j); // 32 contiguous float32: 0, 1, ..., 31
    const before = readC(c);
    const copy = (...args: unknown[]): void => (addon.copyNd as (...x: unknown[]) => void)(...args);
    const lay = (...v: number[]): Int32Array => Int32Array.from(v);
    const copyCases: [unknown[], RegExp, ErrorConstructor][] = [
      [[c.off, len - 8, lay(4, 1, 1), 1], /copyNd: dst spans/, RangeError],
      [[len - 4, c.off, lay(4, 1, 1), 1], /copyNd: src spans/, RangeError],
      [[c.off + 64, c.off, lay(2, 2, -40, 1, 2, 1), 1], /copyNd: src spans bytes \[-?\d+/, RangeError], // a negative stride reaching below 0
      [[c.off + 2, c.off, lay(4, 1, 1), 1], /copyNd: src = \d+ is not a multiple of 4/, RangeError],
      [[c.off, c.off, [4, 1, 1], 1], /copyNd: layout must be an Int32Array/, TypeError],
      [[c.off, c.off, lay(4, 1), 1], /copyNd: layout must hold 3 x rank entries/, RangeError],
      [[c.off, c.off, new Int32Array(27).fill(1), 1], /copyNd: layout must hold 3 x rank entries for a rank from 1 to 8, got 27/, RangeError],
      [[c.off, c.off, lay(-1, 1, 1), 1], /copyNd: layout dimension 0 has size -1/, RangeError],
      [[c.off, c.off, lay(4, 1, 1), -1], /copyNd: threads must be/, RangeError],
      [[c.off, c.off, lay(4, 1, 1)], /copyNd: expected 4 arguments/, TypeError],
    ];
    assertRefusals((args) => copy(...args), copyCases, 'copyNd');
    assert.deepEqual(readC(c), before, 'a refused copy writes nothing');
    // a transpose of the 2 x 4 block [0..7] into elements 8..15, and a zero-size block touching nothing
    copy(c.off, c.off + 32, lay(4, 2, 1, 4, 2, 1), 1);
    assert.deepEqual(Array.from(readC(c).subarray(8, 16)), [0, 4, 1, 5, 2, 6, 3, 7]);
    assert.doesNotThrow(() => copy(len, len, lay(0, 5, 1, 1, 1, 1), 1));
    // overlapping ranges: a row with unit strides moves as memmove moves it (here: a shift right by one)
    copy(c.off, c.off + 4, lay(4, 1, 1), 2);
    assert.deepEqual(Array.from(readC(c).subarray(0, 5)), [0, 0, 1, 2, 3]);
    // a destination written more than once (stride 0) is never split over threads: the last row wins, every time
    reset();
    const rows = placeC(1, 4096 * 64, (_, j) => Math.floor(j / 64)); // 2^18 elements: large enough to split
    const dst = placeC(1, 64, () => -1);
    for (let i = 0; i < 100; i++) {
      copy(rows.off, dst.off, lay(4096, 64, 64, 1, 0, 1), 2);
      assert.deepEqual(Array.from(readC(dst)), Array<number>(64).fill(4095), `run ${i}`);
    }

    reset();
    const img = placeC(1, 64, () => 9); // out: a 1 x 1 x 4 x 4 image (16), its 36 columns after it
    const col2im = (...args: number[]): void => (addon.col2im as (...x: number[]) => void)(...args);
    // cols, out, n, c, h, w, kh, kw, sh, sw, dh, dw, outH, outW, threads: 2 x 2 windows of 3 x 3, stride 1
    const ok = [img.off + 64, img.off, 1, 1, 4, 4, 3, 3, 1, 1, 1, 1, 2, 2, 1];
    const with_ = (i: number, v: number): number[] => ok.map((x, j) => (j === i ? v : x));
    const colCases: [number[], RegExp][] = [
      [with_(12, 3), /col2im: 3 x 2 windows of 3 x 3 \(stride 1 x 1, dilation 1 x 1\) do not fit a 4 x 4 image/],
      [with_(10, 2), /col2im: 2 x 2 windows of 3 x 3 \(stride 1 x 1, dilation 2 x 1\) do not fit/],
      [with_(0, len - 32), /col2im: cols spans/],
      [with_(1, len - 32), /col2im: out spans/],
      [with_(2, 2 ** 31), /col2im: n must be an integer/],
      [with_(2, 2 ** 30).map((x, j) => (j === 3 ? 2 ** 30 : x)), /col2im: the image or its columns hold more than 2\^53 elements/],
    ];
    const beforeImg = readC(img);
    assertRefusals((args) => col2im(...args), colCases, 'col2im');
    assert.deepEqual(readC(img), beforeImg, 'a refused col2im writes nothing');
    // no columns (outH = 0): zeros at once, whatever the (huge) window and dilation; cols is not read
    const zeroed = [len, img.off, 1, 1, 4, 4, 2 ** 31 - 1, 1, 1, 1, 2 ** 31 - 1, 1, 0, 2, 2];
    col2im(...zeroed);
    assert.deepEqual(Array.from(readC(img).subarray(0, 16)), Array<number>(16).fill(0));
    // stride 0 with several windows is allowed (each window at the same place)
    col2im(img.off + 64, img.off, 1, 1, 4, 4, 1, 1, 0, 0, 1, 1, 2, 2, 1);
    assert.deepEqual(Array.from(readC(img).subarray(0, 16)), [36, ...Array<number>(15).fill(0)]);
    // all 36 column entries 9: each pixel gets 9 times the number of windows covering it
    col2im(...ok);
    assert.deepEqual(Array.from(readC(img).subarray(0, 16)), [9, 18, 18, 9, 18, 36, 36, 18, 18, 36, 36, 18, 9, 18, 18, 9]);
    reset();
  });

  it('sees a grown memory only through a new view, and an emptied (detached) view as empty', () => {
    const grown = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
    addon.setMemory(new Uint8Array(grown.buffer));
    grown.grow(1);
    const args = [1, 1, 1, 65536, 1, 1, 65540, 1, 1, 65544, 1, 0, 1] as const;
    assert.throws(() => addon.sgemm(...args), RangeError); // the old view ends at 64 KiB
    addon.setMemory(new Uint8Array(grown.buffer));
    new Float32Array(grown.buffer).set([3, 5], 16384);
    addon.sgemm(...args);
    assert.equal(new Float32Array(grown.buffer)[16386], 15);
    const plain = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    addon.setMemory(new Uint8Array(plain.buffer));
    plain.grow(1); // detaches the old buffer: the addon must not use its pointer
    assert.throws(() => addon.sgemm(1, 1, 1, 0, 1, 1, 4, 1, 1, 8, 1, 0, 1), /outside the memory of 0 bytes/);
    reset();
  });

  it('loads in a worker thread, with its own memory (none until setMemory), path and thread count', async () => {
    const body = `const { parentPort } = require('node:worker_threads'); const a = require(${JSON.stringify(addonFile)});
      a.setIsa('generic'); a.setNumThreads(1);
      try { a.sgemm(1, 1, 1, 0, 1, 1, 4, 1, 1, 8, 1, 0, 1); parentPort.postMessage('no error'); } catch (e) { parentPort.postMessage(e.message); }`;
    const threads = addon.getNumThreads();
    const message = await new Promise((resolve, reject) => {
      const w = new Worker(body, { eval: true });
      w.once('message', (m) => void w.terminate().then(() => resolve(m)));
      w.once('error', reject);
    });
    assert.match(String(message), /call setMemory/);
    assert.equal(addon.isa(), initialIsa, "the worker's setIsa changed this thread's path");
    assert.equal(addon.getNumThreads(), threads);
  });

  it('selects paths: setIsa refuses unknown names and ones this CPU lacks; DESCENT_NATIVE_ISA forces one at load', () => {
    assert.throws(() => addon.setIsa('sse9' as NativeIsa), /unknown ISA 'sse9'/);
    for (const isa of ['generic', 'avx2', 'avx512'] as const) {
      if (isas.includes(isa)) {
        addon.setIsa(isa);
        assert.equal(addon.isa(), isa);
      } else assert.throws(() => addon.setIsa(isa), new RegExp(`has no ${isa} path`));
    }
    reset();
    const probe = (env: string): string => {
      const r = spawnSync(process.execPath, ['-e', `try { console.log(require(${JSON.stringify(addonFile)}).isa()) } catch (e) { console.log(e.message) }`], {
        env: { ...process.env, DESCENT_NATIVE_ISA: env },
        encoding: 'utf8',
      });
      return r.stdout.trim();
    };
    assert.equal(probe('generic'), 'generic');
    assert.match(probe('avx3'), /DESCENT_NATIVE_ISA=avx3: unknown ISA/);
  });

  it('sets and reports its default thread count', () => {
    const n = addon.getNumThreads();
    assert.ok(Number.isInteger(n) && n >= 1);
    addon.setNumThreads(3);
    assert.equal(addon.getNumThreads(), 3);
    assert.throws(() => addon.setNumThreads(0), RangeError);
    addon.setNumThreads(n);
  });
});
