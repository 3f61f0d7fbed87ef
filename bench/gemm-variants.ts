/**
 * GFLOP/s of gemm_f32 micro-kernel variants (MR x NR tile, unroll factor), one thread, on a square
 * product and the benchmark CNN's three conv2 products. Not part of `npm run bench`; for choosing
 * the tile: `node --import tsx bench/gemm-variants.ts 4x8x1,4x12x4 [plain]` (plain: no relaxed FMA).
 * MR must be 4: emitPackA's vector paths assume it (pack.ts).
 */
import v8 from 'node:v8';
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
v8.setFlagsFromString('--no-liftoff');
const { ModuleBuilder } = await import('../src/backend/wasm/asm.js');
const { emitGemm } = await import('../src/backend/wasm/gemm.js');
const variants = (process.argv[2] ?? '4x12x4,4x12x1,4x12x2,4x8x1,3x12x1,6x8x1,5x8x1,4x16x1,3x16x1,2x16x1')
  .split(',')
  .map((s) => s.split('x').map(Number) as [number, number, number]);
const shapes: [number, number, number][] = [
  [512, 512, 512],
  [64, 7744, 288],
  [64, 288, 7744],
  [288, 7744, 64],
];
for (const [mr, nr, unroll] of variants) {
  const mem = new WebAssembly.Memory({ initial: 2000, maximum: 2000 });
  const m = new ModuleBuilder({ initial: 2000, maximum: 2000, shared: false });
  emitGemm(m, process.argv[3] !== 'plain', { mr, nr, unroll });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(m.bytes()), { env: { mem } });
  const gemm = inst.exports.gemm_f32 as (...a: number[]) => void;
  const f32 = new Float32Array(mem.buffer);
  for (let i = 0; i < 8_000_000; i++) f32[i] = (i % 17) * 0.01;
  const out: string[] = [];
  for (const [M, N, K] of shapes) {
    const A = 0,
      B = 4 * 3_000_000,
      C = 4 * 6_000_000,
      W = 4 * 20_000_000;
    const run = () => gemm(M, N, K, A, K * 4, 4, B, N * 4, 4, C, N * 4, W);
    run();
    run();
    let it = 0;
    const t0 = performance.now();
    let t = 0;
    while (t < 400) {
      run();
      it++;
      t = performance.now() - t0;
    }
    out.push(`${M}x${N}x${K}: ${((2 * M * N * K * it) / t / 1e6).toFixed(1)}`);
  }
  console.log(`${mr}x${nr} unroll ${unroll}: ${out.join('  ')}`);
}
