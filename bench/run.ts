/**
 * `npm run bench`: GEMM GFLOP/s (n = 128..1024) and MLP 784-512-256-10 training examples/s
 * (batch 32, 128, 512) on the js reference backend and the wasm backend (one thread and all
 * threads). Prints one JSON object per line, then a table; speeds are also given as a ratio to
 * the js backend measured in the same run. Each rate is the best of ~10 timing windows (see
 * measure.ts). `--quick` shortens every budget.
 */
import os from 'node:os';
import * as d from '../src/index.js';
import { wasmFeatures } from '../src/backend/index.js';
import { benchCnn } from './cnn.js';
import { makeMlp, trainStep, trainStepFused } from './mlp.js';
import { benchPerExample } from './per-example.js';
import type { Result } from './measure.js';
import { timeIt, useBackend } from './measure.js';

const quick = process.argv.includes('--quick');
const allThreads = os.availableParallelism();
const configs: [string, number][] = [['js', 1], ['wasm', 1]];
if (allThreads > 1) configs.push(['wasm', allThreads]);
const results: Result[] = [];

function emit(r: Result, jsRate: number | undefined): void {
  const rate = r.gflops ?? r.examples_per_s!;
  if (jsRate !== undefined) r.ratio_vs_js = Number((rate / jsRate).toFixed(2));
  results.push(r);
  console.log(JSON.stringify(r));
}

// ---------------------------------------------------------------------------------- GEMM --
for (const n of [128, 256, 512, 1024]) {
  let jsRate: number | undefined;
  for (const [backend, threads] of configs) {
    useBackend(backend, threads);
    const a = d.keep(d.randn([n, n])), b = d.keep(d.randn([n, n]));
    const budget = quick ? 0.1 : backend === 'js' ? 0.6 : 1;
    const t = timeIt(() => d.scope(() => { d.matmul(a, b); }), budget);
    const gflops = Number(((2 * n ** 3) / t.perIter / 1e9).toFixed(2));
    if (backend === 'js') jsRate = gflops;
    emit({ name: `gemm_${n}`, backend, threads, gflops, iters: t.iters, seconds: Number(t.seconds.toFixed(2)) }, jsRate);
    a.dispose();
    b.dispose();
  }
}

// ------------------------------------------------------------------------------------ MLP --
for (const batch of [32, 128, 512]) {
  let jsRate: number | undefined;
  // the last configuration repeats all-threads wasm with the fused SGD-momentum kernel
  for (const [backend, threads, fused] of [...configs, [...configs[configs.length - 1]!, true] as const] as [string, number, boolean?][]) {
    useBackend(backend, threads);
    const g = new d.Generator(0);
    const net = makeMlp(g);
    const x = d.keep(d.rand([batch, 784], { generator: g }));
    const y = d.keep(d.randint(0, 10, [batch], { generator: g }));
    const budget = quick ? 0.2 : backend === 'js' ? 1.5 : 2;
    const step = fused ? trainStepFused : trainStep;
    const t = timeIt(() => step(net, x, y), budget, 2);
    const eps = Number((batch / t.perIter).toFixed(0));
    if (backend === 'js') jsRate = eps;
    emit({ name: `mlp_784_512_256_10_b${batch}${fused ? '_fused_sgd' : ''}`, backend, threads, examples_per_s: eps, iters: t.iters, seconds: Number(t.seconds.toFixed(2)) }, jsRate);
    for (const t2 of [...net.params, ...net.velocity, x, y]) t2.dispose();
  }
}

// ---------------------------------------------------------------------- CNN (issue 6) --
{
  let jsRate: number | undefined;
  for (const r of await benchCnn({ quick })) {
    if (r.backend === 'js') jsRate = r.examples_per_s;
    emit({ ...r }, jsRate);
  }
}

// ------------------------------------------------- per-example gradients (issue 5) --
// Reported as time relative to one ordinary backward pass on the same batch, same command.
for (const r of benchPerExample(quick)) console.log(JSON.stringify({ ...r, backend: d.getBackend().name, threads: d.getBackend().name === 'wasm' ? allThreads : 1 }));

// ---------------------------------------------------------------------------------- table --
const f = wasmFeatures();
console.log(`\nwasm features: simd=${f.simd} relaxedSimd=${f.relaxedSimd} threads=${f.threads}; cores=${allThreads}; node ${process.version}`);
console.log(`${'benchmark'.padEnd(34)} ${'backend'.padEnd(8)} ${'threads'.padStart(7)} ${'rate'.padStart(12)} ${'unit'.padEnd(11)} ${'vs js'.padStart(7)}`);
for (const r of results) {
  const [rate, unit] = r.gflops !== undefined ? [r.gflops, 'GFLOP/s'] : [r.examples_per_s!, 'examples/s'];
  console.log(`${r.name.padEnd(34)} ${r.backend.padEnd(8)} ${String(r.threads).padStart(7)} ${String(rate).padStart(12)} ${unit.padEnd(11)} ${(r.ratio_vs_js !== undefined ? r.ratio_vs_js.toFixed(2) + 'x' : '').padStart(7)}`);
}
