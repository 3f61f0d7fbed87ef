/**
 * The backend contract on every registered backend (registerBackend adds one to this suite
 * unchanged): each kernel of the Backend interface against the reference, by the backend's declared
 * guarantees; the declaration itself on a few hand-worked values; and the divergence guard seeing a
 * NaN in the data. Then the suite checked on backends that break it, to show that it notices.
 */
import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../../src/backend/backend.js';
import type { Storage } from '../../src/core/storage.js';
import { findBackend, getBackend, listBackends, setBackend } from '../../src/backend/index.js';
import { jsBackend } from '../../src/backend/js/index.js';
import { loadNative, nativeStatus } from '../../src/backend/native/addon.js';
import type { NativeIsa } from '../../src/backend/native/addon.js';
import { useNativeGemm } from '../../src/backend/wasm/native-gemm.js';
import * as d from '../../src/index.js';
import { CONTRACT } from './contract-cases.js';
import { Contract, provides } from './contract.js';
import type { KernelName } from './contract.js';

const KERNELS = Object.keys(CONTRACT) as KernelName[];

/** Run one kernel's contract on backend b (seeded by the kernel's place in the table). */
function runCase(b: Backend, k: KernelName): void {
  const c = new Contract(b, 1 + KERNELS.indexOf(k));
  try {
    CONTRACT[k](c);
  } finally {
    c.done();
  }
}

/** A storage of backend b holding `values` (float32). */
function f32(b: Backend, values: number[]) {
  const s = b.alloc('float32', values.length);
  s.data.set(values);
  return s;
}

/** A tiny classification fit on backend `name` with one NaN feature in the third batch. */
async function fitWithNaN(name: string): Promise<d.FitResult> {
  const prev = getBackend().name;
  setBackend(name);
  try {
    d.manualSeed(0);
    const g = new d.Generator(1);
    const x = d.randn([64, 4], { generator: g }),
      y = d.randint(0, 3, [64], { generator: g });
    x.data[2 * 16 * 4 + 5] = NaN; // example 33 (batch 3 of 16), feature 1
    const model = d.mlp([4, 8, 3]);
    const optimizer = new d.SGD(model.parameters(), { lr: 0.1 });
    return await d.fit({
      model,
      optimizer,
      epochs: 1,
      loss: (out, t) => d.crossEntropy(out, t),
      train: new d.DataLoader(new d.TensorDataset(x, y), { batchSize: 16 }),
    });
  } finally {
    setBackend(prev);
  }
}

for (const name of listBackends()) {
  const b = findBackend(name)!;
  const { specials, subnormals } = b.guarantees;
  describe(`backend contract: ${name} (specials '${specials}', subnormals '${subnormals}')`, () => {
    for (const k of KERNELS) {
      it(k, (t) => {
        if (!provides(b, k)) return t.skip(`${name} has no ${k}: the ops use the reference loop`);
        runCase(b, k);
      });
    }

    it('keeps what it declares, on hand-worked values', () => {
      const x = f32(b, [1e-40, -1e-40, 0, Infinity]),
        one = f32(b, [1, 1, 1, 1]),
        out = b.alloc('float32', 4);
      const st = [1];
      b.binary('mul', x, one, out, [4], st, st);
      // x * 1 = x: the subnormals kept as they are (a flushing backend may give +-0), 0 stays 0, Inf stays Inf
      if (subnormals === 'kept') assert.deepEqual(Array.from(out.data.slice(0, 2)), [Math.fround(1e-40), Math.fround(-1e-40)]);
      b.reduce('sum', x, out, [2, 2], [1]);
      // [1e-40 + -1e-40, 0 + Inf] = [0, Inf]
      if (specials === 'ieee') assert.deepEqual(Array.from(out.data.slice(0, 2)), [0, Infinity]);
      const a = f32(b, [0, 1]),
        nan = f32(b, [NaN, 2]),
        p = b.alloc('float32', 1);
      // [0, 1] @ [NaN, 2]^T = 0 * NaN + 2 = NaN: the zero is not skipped
      b.matmul(a, nan, p, { batch: 1, m: 1, n: 1, k: 2, transA: false, transB: false, aOffsets: [0], bOffsets: [0] });
      if (specials === 'ieee') assert.ok(Number.isNaN(p.data[0]!), `0 * NaN + 2 gave ${p.data[0]}`);
      for (const s of [x, one, out, a, nan, p]) s.release();
    });

    it('the divergence guard stops a fit with a NaN in the data', async () => {
      const r = await fitWithNaN(name);
      assert.ok(r.diverged, `${name}: a NaN feature must make the loss or gradient non-finite and stop training`);
      assert.equal(r.diverged.step, 3, 'at the update of the batch holding it');
    });
  });
}

// The wasm backend's products, SGD updates, sums of squares, copies and col2im run in the native addon where it is built (issue 15):
// their contract on each of its kernel paths the CPU has, and on the wasm kernels with the addon off.
describe('backend contract: wasm products on every GEMM path', () => {
  const wasm = findBackend('wasm');
  const addon = loadNative();
  const paths: (NativeIsa | 'wasm')[] = ['wasm'];
  if (addon) {
    const f = addon.features();
    paths.push('generic');
    if (f.avx2 && f.fma) paths.push('avx2');
    if (f.avx512f) paths.push('avx512');
  }
  for (const path of paths)
    for (const kernel of ['matmul', 'sgdStep', 'sumSquares', 'copy', 'col2im'] as const) {
      it(`${kernel} on the ${path === 'wasm' ? 'wasm kernels (native turned off)' : `native ${path} kernels`}`, (t) => {
        if (!wasm) return t.skip('no wasm backend here');
        const isa = addon?.isa();
        useNativeGemm(path !== 'wasm');
        if (path !== 'wasm') addon!.setIsa(path);
        try {
          runCase(wasm, kernel);
        } finally {
          useNativeGemm(true);
          if (isa) addon!.setIsa(isa);
        }
      });
    }
  // The trainer logs the gradient norm from sumSquares: with the addon or without it, the same bits.
  it("sumSquares gives the wasm kernels' bits on every native path (rows split over threads, NaN, Inf, -0, tails)", (t) => {
    if (!wasm || !addon) return t.skip('no native addon here');
    const isa = addon.isa();
    const row = 16384; // wasm/optim.ts SUMSQ_ROW
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const sizes = [1, 3, 4, 7, row - 1, row, row + 5, 4 * row, 9 * row + 5, 26 * row + 3, 401408];
    const specials = [NaN, Infinity, -Infinity, -0, 3e38, 1e-45];
    try {
      for (const n of sizes)
        for (const special of [undefined, ...specials]) {
          if (special !== undefined && n < 4 * row) continue;
          // magnitudes over 2^-20..2^20, so the float64 sums' order shows in their last bits
          const v = Array.from({ length: n }, () => rand() * 2 ** (40 * rand() - 20));
          if (special !== undefined) v[Math.floor(n * 0.7)] = special;
          const x = f32(wasm, v);
          useNativeGemm(false);
          const want = wasm.sumSquares!(x);
          useNativeGemm(true);
          for (const path of paths.filter((p) => p !== 'wasm')) {
            addon.setIsa(path as NativeIsa);
            const got = wasm.sumSquares!(x);
            assert.ok(Object.is(got, want), `n=${n}${special === undefined ? '' : ` with ${special}`} on native ${path}: ${got}, wasm kernels ${want}`);
          }
          x.release();
        }
    } finally {
      useNativeGemm(true);
      addon.setIsa(isa);
    }
  });
  // col2im's sums are in the reference's order on both sides: the same bits with the addon or without.
  it("col2im gives the wasm kernels' bits on every native path (strided, dilated, split over threads, NaN, Inf)", (t) => {
    if (!wasm || !addon) return t.skip('no native addon here');
    const isa = addon.isa();
    let seed = 11;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const win = (n: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number) => ({
      n,
      c,
      h,
      w,
      kh,
      kw,
      strideH: sh,
      strideW: sw,
      dilationH: dh,
      dilationW: dw,
      outH: Math.floor((h - dh * (kh - 1) - 1) / sh) + 1,
      outW: Math.floor((w - dw * (kw - 1) - 1) / sw) + 1,
    });
    const layouts = [
      win(4, 16, 26, 26, 3, 3, 1, 1, 1, 1),
      win(3, 5, 17, 23, 3, 2, 2, 3, 2, 1),
      win(2, 9, 12, 12, 2, 2, 2, 2, 1, 1),
      win(1, 1, 5, 5, 5, 5, 1, 1, 1, 1),
    ];
    try {
      for (const l of layouts)
        for (const special of [undefined, NaN, Infinity, -0]) {
          const count = l.c * l.kh * l.kw * l.n * l.outH * l.outW;
          // magnitudes over 2^-20..2^20, so the order of each pixel's sum shows in its last bits
          const v = Array.from({ length: count }, () => rand() * 2 ** (40 * rand() - 20));
          if (special !== undefined) v[Math.floor(count / 3)] = special;
          const cols: Storage = f32(wasm, v),
            want: Storage = wasm.alloc('float32', l.n * l.c * l.h * l.w),
            got: Storage = wasm.alloc('float32', l.n * l.c * l.h * l.w);
          useNativeGemm(false);
          wasm.col2im!(cols, want, l);
          useNativeGemm(true);
          for (const path of paths.filter((p) => p !== 'wasm')) {
            addon.setIsa(path as NativeIsa);
            got.data.fill(7); // cleared by the kernel
            wasm.col2im!(cols, got, l);
            const a: Uint32Array = new Uint32Array(got.data.buffer, got.data.byteOffset, got.size),
              b: Uint32Array = new Uint32Array(want.data.buffer, want.data.byteOffset, want.size);
            const at: number = a.findIndex((x, i) => x !== b[i] && !(Number.isNaN(got.data[i]!) && Number.isNaN(want.data[i]!)));
            assert.equal(at, -1, `${JSON.stringify(l)} ${special ?? ''} on native ${path}: pixel ${at} is ${got.data[at]}, wasm kernels ${want.data[at]}`);
          }
          for (const s of [cols, want, got]) s.release();
        }
    } finally {
      useNativeGemm(true);
      addon.setIsa(isa);
    }
  });
  it('the native kernels are in use wherever they are built (or DESCENT_SKIP_NATIVE says they are not)', (t) => {
    if (process.env.DESCENT_SKIP_NATIVE === '1' || process.env.DESCENT_NATIVE === '0')
      return t.skip('the native kernels are skipped here by DESCENT_SKIP_NATIVE=1 or DESCENT_NATIVE=0');
    assert.ok(
      addon,
      `the native addon did not load (${nativeStatus().reason}): run \`npm run build:native\`, or set DESCENT_SKIP_NATIVE=1 where it cannot be built`,
    );
  });
});

describe('the contract itself', () => {
  it('covers every method of every registered backend', () => {
    for (const name of listBackends()) {
      const b = findBackend(name)!;
      const methods = Object.keys(b).filter((k) => typeof (b as unknown as Record<string, unknown>)[k] === 'function');
      for (const m of methods) assert.ok(m in CONTRACT, `${name}.${m} has no contract case`);
    }
    assert.ok(listBackends().includes('js'));
  });

  /** The reference with one kernel replaced, declaring `guarantees`. */
  const broken = (guarantees: Backend['guarantees'], patch: Partial<Backend>): Backend => ({ ...jsBackend, name: 'js', guarantees, ...patch });
  const IEEE = { specials: 'ieee', subnormals: 'kept' } as const;

  it('notices a product that skips zeros (0 * NaN) when NaN is promised, and accepts it when not', () => {
    const skipZeros: Partial<Backend> = {
      matmul(a, bb, out, l) {
        jsBackend.matmul(a, bb, out, l);
        // what a "skip zero rows" shortcut does: NaN outputs become whatever the finite terms gave
        for (let i = 0; i < out.data.length; i++) if (Number.isNaN(out.data[i]!)) out.data[i] = 0;
      },
    };
    assert.throws(() => runCase(broken(IEEE, skipZeros), 'matmul'), /specials: 'ieee'/);
    runCase(broken({ specials: 'finite-only', subnormals: 'kept' }, skipZeros), 'matmul');
  });

  it('notices flushed subnormals when they are promised, and accepts them when declared flushed', () => {
    const flush: Partial<Backend> = {
      unary(op, x, out) {
        jsBackend.unary(op, x, out);
        for (let i = 0; i < out.data.length; i++) if (Math.abs(out.data[i]!) < 2 ** -126) out.data[i] = 0;
      },
    };
    assert.throws(() => runCase(broken(IEEE, flush), 'unary'));
    runCase(broken({ specials: 'ieee', subnormals: 'flushed' }, flush), 'unary');
  });

  it('notices a tail-loop bug at an odd size', () => {
    const tail: Partial<Backend> = {
      binary(op, a, bb, out, shape, as, bs) {
        jsBackend.binary(op, a, bb, out, shape, as, bs);
        if (out.data.length === 7) out.data[6] = 0; // the last element of a 4-wide loop forgotten
      },
    };
    assert.throws(() => runCase(broken(IEEE, tail), 'binary'), /n=7|\[7\]/);
  });
});
