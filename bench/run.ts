/**
 * `npm run bench`: GEMM GFLOP/s (n = 128..1024) and MLP 784-512-256-10 training examples/s
 * (batch 32, 128, 512) on the js reference backend and the wasm backend (one thread and all
 * threads), the same workloads on TF.js's wasm backend and jax-js (peers.ts), the CNN, the
 * per-example gradients, and the time from process start to the first finished training step
 * (startup.ts), and training speed while the live dashboard is busy (dashboard.ts); PyTorch and
 * OpenBLAS on the GEMM, MLP and CNN workloads (torch.ts), with Descent's ratios to them. Prints one JSON object per line, then a table; every rate is also given as a
 * ratio to the js reference backend on the same workload in the same run. Each rate is the best
 * of ~10 timing windows (see measure.ts). `--quick` shortens every budget.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import * as d from '../src/index.js';
import { wasmFeatures } from '../src/backend/index.js';
import { benchCnn } from './cnn.js';
import { benchBrowser } from './browser.js';
import { benchDashboard } from './dashboard.js';
import { benchFitLoop } from './fit-loop.js';
import { makeMlp, trainStep } from './mlp.js';
import { benchPeers } from './peers.js';
import { benchWebgpu } from './webgpu.js';
import { benchPerExample } from './per-example.js';
import { benchStartup } from './startup.js';
import { benchRecipe } from './recipe.js';
import { benchTorch } from './torch.js';
import type { Result } from './measure.js';
import { ExamplePool, NATIVE_AVAILABLE, rateOf, timeIt, useBackend } from './measure.js';

const quick = process.argv.includes('--quick');
const allThreads = os.availableParallelism();
const configs: [string, number][] = [
  ['js', 1],
  ['wasm', 1],
];
if (allThreads > 1) configs.push(['wasm', allThreads]);
if (NATIVE_AVAILABLE) configs.push(['native', 1], ...(allThreads > 1 ? [['native', allThreads] as [string, number]] : []));
const results: Result[] = [];
/** The js reference backend's rate per workload. */
const jsRates = new Map<string, number>();
const workload = (name: string) => name;

// ------------------------------ PyTorch and OpenBLAS first, so Descent's rows carry the ratios --
// (run with this process idle: their timings are not disturbed by Descent's worker threads)
const torch = benchTorch({ quick });
for (const s of torch.skipped) console.log(JSON.stringify(s));
for (const r of torch.rows) console.log(JSON.stringify(r));
const torchRate = new Map(torch.rows.filter((r) => r.backend === 'pytorch').map((r) => [r.name, rateOf(r)]));
const torchKeptRate = new Map(torch.rows.filter((r) => r.backend === 'pytorch*').map((r) => [r.name, rateOf(r)]));
const blasRate = new Map(torch.rows.filter((r) => r.backend === 'openblas').map((r) => [`${r.name}/${r.threads}`, rateOf(r)]));

/**
 * Records a row; its ratio is to the js row of the same workload, which is always emitted first,
 * and for Descent's own rows to PyTorch's best setting and to OpenBLAS on as many threads.
 */
function emit(r: Result & { ratio_vs_pytorch?: number; ratio_vs_pytorch_malloc_keep?: number; ratio_vs_openblas?: number }): void {
  const rate = rateOf(r);
  if (r.backend === 'js') jsRates.set(workload(r.name), rate);
  const jsRate = jsRates.get(workload(r.name));
  if (jsRate !== undefined) r.ratio_vs_js = Number((rate / jsRate).toFixed(2));
  const descent = r.backend === 'js' || r.backend === 'wasm' || r.backend === 'native';
  const pt = torchRate.get(r.name);
  if (descent && pt !== undefined) r.ratio_vs_pytorch = Number((rate / pt).toFixed(2));
  const kept = torchKeptRate.get(r.name);
  if (descent && kept !== undefined) r.ratio_vs_pytorch_malloc_keep = Number((rate / kept).toFixed(2));
  const ob = blasRate.get(`${r.name}/${r.threads}`);
  if (descent && ob !== undefined) r.ratio_vs_openblas = Number((rate / ob).toFixed(2));
  results.push(r);
  console.log(JSON.stringify(r));
}

// ---------------------------------------------------------------------------------- GEMM --
for (const n of [128, 256, 512, 1024]) {
  for (const [backend, threads] of configs) {
    useBackend(backend, threads);
    const a = d.keep(d.randn([n, n])),
      b = d.keep(d.randn([n, n]));
    const budget = quick ? 0.1 : backend === 'js' ? 0.6 : 1;
    const t = timeIt(
      () =>
        d.scope(() => {
          d.matmul(a, b);
        }),
      budget,
    );
    const gflops = Number(((2 * n ** 3) / t.perIter / 1e9).toFixed(2));
    emit({ name: `gemm_${n}`, backend, threads, gflops, iters: t.iters, seconds: Number(t.seconds.toFixed(2)) });
    a.dispose();
    b.dispose();
  }
}

// ------------------------------------------------------------------------------------ MLP --
for (const batch of [32, 128, 512]) {
  for (const [backend, threads] of configs) {
    useBackend(backend, threads);
    const g = new d.Generator(0);
    const net = makeMlp(g);
    const pool = new ExamplePool([784], batch, g);
    const budget = quick ? 0.2 : backend === 'js' ? 1.5 : 2;
    // the batch gather is timed with the step, as PyTorch's is
    const t = timeIt(() => d.scope(() => trainStep(net, ...pool.next())), budget, 2);
    const eps = Number((batch / t.perIter).toFixed(0));
    emit({
      name: `mlp_784_512_256_10_b${batch}`,
      backend,
      threads,
      examples_per_second: eps,
      iters: t.iters,
      seconds: Number(t.seconds.toFixed(2)),
    });
    for (const t2 of [...net.params, ...net.velocity]) t2.dispose();
    pool.dispose();
  }
}

// What follows runs on the default kernels: the native ones where they are built.
useBackend(NATIVE_AVAILABLE ? 'native' : 'wasm', allThreads);

// ------------------------------------------- the same GEMM and MLP on TF.js and jax-js --
for (const r of await benchPeers({ quick })) emit(r);

// ------------------------------- WebGPU (issue 16): Descent, TF.js and jax-js on one adapter --
for (const r of benchWebgpu({ quick })) emit(r);

// ---------------------------------------------------------------------- CNN (issue 6) --
for (const r of await benchCnn({ quick })) emit({ ...r });

// ------------------------------------------------- per-example gradients (issue 5) --
// Reported as time relative to one ordinary backward pass on the same batch, same command.
for (const r of benchPerExample(quick))
  console.log(JSON.stringify({ ...r, backend: d.getBackend().name, threads: d.getBackend().name === 'wasm' ? allThreads : 1 }));

// ------------------------------------ what yielding to the event loop costs fit() (issue 13) --
const fitLoop = await benchFitLoop({ quick });
for (const r of fitLoop) console.log(JSON.stringify(r));

// ----------------------------- training while the live dashboard is busy (issue 12) --
const dashboard = await benchDashboard({ quick });
for (const r of dashboard) console.log(JSON.stringify(r));

// ----------------------------------- the MLP in a page of headless Chromium (issue 14) --
const browserRows = await benchBrowser({ quick });
for (const r of browserRows) console.log(JSON.stringify(r));

// ------------------------- the full Fashion-MNIST MLP recipe, CLI against PyTorch (issue 15) --
// Child processes in turns, with this process idle.
const recipe = benchRecipe({ quick });
for (const r of recipe) console.log(JSON.stringify(r));

// ------------------------------------- data parallelism over MPI, 2 ranks (issue 17) --
// bench/mpi.ts runs its own mpirun jobs; its JSON lines and table are passed through.
const mpiBench = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'mpi.ts'), ...(quick ? ['--quick'] : [])], {
  encoding: 'utf8',
  timeout: 900_000,
});
const mpiOut = mpiBench.status === 0 ? mpiBench.stdout.trim() : '';
if (mpiBench.status !== 0)
  console.log(
    JSON.stringify({
      name: 'mpi_data_parallel',
      skipped: `bench/mpi.ts: ${(mpiBench.stderr || mpiBench.error?.message || `exit ${mpiBench.status}`).trim().split('\n').at(-1)}`,
    }),
  );
else for (const line of mpiOut.split('\n').filter((l) => l.startsWith('{'))) console.log(line);

// ------------------------------------------ process start to first training step --
// Fresh child processes, so it runs last, with this process idle.
const startup = await benchStartup({ quick });
for (const r of startup) console.log(JSON.stringify(r));

// ---------------------------------------------------------------------------------- table --
const f = wasmFeatures();
const ratio = (x: number | undefined) => (x !== undefined ? x.toFixed(2) + 'x' : '').padStart(7);
console.log(`\nwasm features: simd=${f.simd} relaxedSimd=${f.relaxedSimd} threads=${f.threads}; cores=${allThreads}; node ${process.version}`);
console.log(
  `${'benchmark'.padEnd(34)} ${'backend'.padEnd(10)} ${'threads'.padStart(7)} ${'rate'.padStart(12)} ${'unit'.padEnd(11)} ${'vs js'.padStart(7)} ${'vs torch'.padStart(8)} ${'vs BLAS'.padStart(7)} ${'vs torch*'.padStart(9)}`,
);
for (const r of torch.rows) results.push(r);
// rows of one workload together (Descent's, then the peers'), workloads in the order first run
const order = [...new Set(results.map((r) => workload(r.name)))];
const grouped = order.flatMap((w) => results.filter((r) => workload(r.name) === w));
const ext = (r: Result) => r as Result & { ratio_vs_pytorch?: number; ratio_vs_openblas?: number; ratio_vs_pytorch_malloc_keep?: number };
for (const r of grouped) {
  const unit = r.gflops !== undefined ? 'GFLOP/s' : 'examples/s';
  console.log(
    `${r.name.padEnd(34)} ${r.backend.padEnd(10)} ${String(r.threads).padStart(7)} ${String(rateOf(r)).padStart(12)} ${unit.padEnd(11)} ${ratio(r.ratio_vs_js)} ${ratio(ext(r).ratio_vs_pytorch).padStart(8)} ${ratio(ext(r).ratio_vs_openblas)} ${ratio(ext(r).ratio_vs_pytorch_malloc_keep).padStart(9)}`,
  );
}
console.log('(GEMM and MLP rows: the best timed window; cnn-train: the median window, its JSON lines give the mean and the best window too)');
console.log(
  "(pytorch: each setting's median of 3 processes, the best setting; pytorch*: the same with glibc keeping freed memory, MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ raised, for reference: not a peer setting)",
);
console.log(
  `\n${'fit() yielding to the event loop'.padEnd(34)} ${'backend'.padEnd(10)} ${'threads'.padStart(7)} ${'examples/s'.padStart(12)} ${'yield'.padEnd(11)} ${'vs never'.padStart(8)}`,
);
for (const r of fitLoop) {
  console.log(
    `${r.name.padEnd(34)} ${r.backend.padEnd(10)} ${String(r.threads).padStart(7)} ${String(r.examples_per_second).padStart(12)} ${r.variant.padEnd(11)} ${r.ratio_vs_no_yield === undefined ? '' : r.ratio_vs_no_yield.toFixed(3).padStart(8)}`,
  );
}
console.log(
  `\n${'training with the live dashboard'.padEnd(34)} ${'backend'.padEnd(10)} ${'threads'.padStart(7)} ${'examples/s'.padStart(12)} ${'dashboard'.padEnd(11)} ${'vs none'.padStart(7)}`,
);
for (const r of dashboard) {
  console.log(
    `${r.name.padEnd(34)} ${r.backend.padEnd(10)} ${String(r.threads).padStart(7)} ${String(r.examples_per_second).padStart(12)} ${r.variant.padEnd(11)} ${ratio(r.ratio_vs_no_dashboard)}`,
  );
}
console.log(
  `\n${'MLP b128 in Chromium and Node'.padEnd(34)} ${'runtime'.padEnd(10)} ${'threads'.padStart(7)} ${'examples/s'.padStart(12)} ${'vs Node all'.padEnd(11)} ${'vs 1 thr'.padStart(8)}`,
);
for (const r of browserRows) {
  console.log(
    `${r.name.padEnd(34)} ${(r.runtime + (r.backend === 'native' ? '+nat' : '')).padEnd(10)} ${String(r.threads).padStart(7)} ${String(r.examples_per_second).padStart(12)} ${(r.ratio_vs_node_all_threads === undefined ? '' : r.ratio_vs_node_all_threads.toFixed(2) + 'x').padEnd(11)} ${r.ratio_vs_one_thread === undefined ? '' : (r.ratio_vs_one_thread.toFixed(2) + 'x').padStart(8)}`,
  );
}
if (mpiOut)
  console.log(
    mpiOut
      .split('\n')
      .filter((l) => !l.startsWith('{'))
      .join('\n'),
  );
console.log(
  `\n${'full recipe (descent train --json)'.padEnd(34)} ${'backend'.padEnd(10)} ${'threads'.padStart(7)} ${'examples/s'.padStart(12)} ${'test acc'.padEnd(11)} ${'vs torch'.padStart(8)}`,
);
for (const r of recipe) {
  console.log(
    `${r.name.padEnd(34)} ${r.backend.padEnd(10)} ${String(r.threads).padStart(7)} ${String(r.examples_per_second ?? 'skipped').padStart(12)} ${String(r.test_accuracy ?? r.skipped ?? '').padEnd(11)} ${ratio(r.ratio_vs_pytorch).padStart(8)}${r.round_ratios_vs_pytorch ? `   rounds ${r.round_ratios_vs_pytorch.map((x) => x.toFixed(2) + 'x').join(' ')}` : ''}`,
  );
}
console.log(
  `\n${'process start to first step'.padEnd(34)} ${'backend'.padEnd(10)} ${'threads'.padStart(7)} ${'median ms'.padStart(12)} ${'loaded from'.padEnd(11)} ${'vs js'.padStart(7)}  (target < 300 ms; ${startup[0]?.runs ?? 0} runs for Descent's default backend)`,
);
for (const r of startup) {
  console.log(
    `${r.name.padEnd(34)} ${r.backend.padEnd(10)} ${String(r.threads).padStart(7)} ${String(r.ms).padStart(12)} ${r.variant.padEnd(11)} ${ratio(r.ratio_vs_js)}`,
  );
}
