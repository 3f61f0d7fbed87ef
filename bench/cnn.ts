/**
 * Training speed of the benchmark CNN (issue 6): input 1x28x28; conv3x3(1->32) ReLU maxpool2;
 * conv3x3(32->64) ReLU maxpool2; flatten; dense(1600->128) ReLU; dense(128->10); batch 64; SGD with
 * momentum 0.9; softmax cross-entropy. Random Fashion-MNIST-sized inputs (speed does not depend on
 * the values), each batch gathered from a pool of 60,000 as PyTorch's step does. After an untimed warm-up, the timed run is cut into windows of about an eighth of
 * its budget; the headline rate is the median window's (bursts of load from other work on a shared
 * machine move the mean by +-10% between runs), with the mean and the best window beside it. Run alone:
 * `node --import tsx bench/cnn.ts [--quick]`; it prints JSON lines, then a table, for the js
 * reference backend and the default backend.
 *
 * Work per example (multiply-adds x 2), from the layer shapes:
 *   forward   conv1 26*26*32*9*2 = 389,376; conv2 11*11*64*288*2 = 4,460,544;
 *             dense1 1600*128*2 = 409,600; dense2 128*10*2 = 2,560            -> 5,262,080
 *   backward  weight gradients, the same products again                     -> 5,262,080
 *             input gradients of every layer but the first                   -> 4,872,704
 *   total 15,396,864 FLOP = 15.4 MFLOP per example (pooling, ReLU and the loss not counted).
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import * as d from '../src/index.js';
import { getNumThreads, setNumThreads } from '../src/backend/index.js';
import * as nn from '../src/nn/index.js';
import { useNativeGemm } from '../src/backend/wasm/native-gemm.js';
import { ExamplePool, NATIVE_AVAILABLE, useBackend } from './measure.js';

const BATCH = 64;

/** FLOP per example for forward + backward, computed from the shapes above. */
export function cnnFlopsPerExample(): number {
  const conv = (oh: number, ow: number, o: number, cin: number, k: number) => oh * ow * o * cin * k * k * 2;
  const layers = [conv(26, 26, 32, 1, 3), conv(11, 11, 64, 32, 3), 1600 * 128 * 2, 128 * 10 * 2];
  const forward = layers.reduce((a, b) => a + b, 0);
  const inputGrads = forward - layers[0]!; // the image needs no gradient
  return forward * 2 + inputGrads;
}

export function makeCnn(generator: d.Generator): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 32, 3, { generator }),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 3, { generator }),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(1600, 128, { generator }),
    new nn.ReLU(),
    new nn.Linear(128, 10, { generator }),
  );
}

/**
 * The step the benchmark times: the batch gather (64 inputs of `inputShape`, NCHW images or flat
 * for the CLI's layer specs, from a pool of 60,000 random examples: ExamplePool), then SGD (lr 0.01,
 * momentum 0.9) on softmax cross-entropy of `net`; everything the step makes is freed when it
 * returns. dispose() frees the pool.
 */
export function cnnTrainStep(net: nn.Module, generator: d.Generator, inputShape: number[] = [1, 28, 28]): { step: () => void; dispose: () => void } {
  const pool = new ExamplePool(inputShape, BATCH, generator);
  const opt = new d.SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
  const step = (): void =>
    d.scope(() => {
      const [x, y] = pool.next();
      const { grads } = d.valueAndGrad(() => nn.crossEntropy(net.forward(x), y), net.parameters());
      opt.step(grads);
    });
  return { step, dispose: () => pool.dispose() };
}

export interface CnnBenchOptions {
  /** Shorter time budgets. */
  quick?: boolean;
  /** Backends to measure (default: 'js' and the default backend, with one and all threads for wasm). */
  configs?: [backend: string, threads: number][];
}

export interface CnnResult {
  name: 'cnn-train';
  backend: string;
  threads: number;
  batch: number;
  /** The median of the timed windows' rates (the headline: robust to bursts of load from others). */
  examples_per_second: number;
  /** The whole timed run's rate, every window included. */
  mean_examples_per_second: number;
  /** The fastest window's rate (the MLP rows' rule, measure.ts). */
  best_window_examples_per_second: number;
  windows: number;
  gflops_effective: number;
  iters: number;
  seconds: number;
}

function defaultConfigs(): [string, number][] {
  const def = d.getBackend().name;
  const configs: [string, number][] = [['js', 1]];
  if (def === 'wasm') {
    const all = os.availableParallelism();
    if (all > 1) configs.push(['wasm', 1]);
    configs.push(['wasm', Math.max(getNumThreads(), all)]);
    if (NATIVE_AVAILABLE) {
      if (all > 1) configs.push(['native', 1]);
      configs.push(['native', Math.max(getNumThreads(), all)]);
    }
  } else if (def !== 'js') {
    configs.push([def, 1]);
  }
  return configs;
}

export async function benchCnn(options: CnnBenchOptions = {}): Promise<CnnResult[]> {
  const before = d.getBackend().name;
  const threadsBefore = getNumThreads();
  const results: CnnResult[] = [];
  const flops = cnnFlopsPerExample();
  try {
    for (const [backend, threads] of options.configs ?? defaultConfigs()) {
      useBackend(backend, threads);
      const g = new d.Generator(0);
      const { step, dispose } = cnnTrainStep(makeCnn(g), g);
      // the reference backend is two orders of magnitude slower: a couple of steps tell its rate
      const budget = backend === 'js' ? (options.quick ? 0.5 : 3) : options.quick ? 1 : 4;
      // Warm-up, untimed: V8 optimises the JS side of the ~150 ops of a step over the first few
      // dozen steps (a step takes ~1.5x its steady time at first), and the worker threads start.
      const warmup = backend === 'js' ? 0 : options.quick ? 0.3 : 1;
      const w0 = performance.now();
      for (let i = 0; i < 2 || performance.now() - w0 < warmup * 1000; i++) step();
      // Timed: windows of about an eighth of the budget (at least one step each).
      const t0 = performance.now();
      let iters = 0,
        seconds = 0;
      const rates: number[] = [];
      while (iters < 2 || seconds < budget) {
        const s0 = performance.now();
        let n = 0;
        do {
          step();
          n++;
        } while (performance.now() - s0 < (budget * 1000) / 8);
        rates.push((BATCH * n * 1000) / (performance.now() - s0));
        iters += n;
        seconds = (performance.now() - t0) / 1000;
      }
      rates.sort((a, b) => a - b);
      const median = rates.length % 2 === 1 ? rates[rates.length >> 1]! : (rates[rates.length / 2 - 1]! + rates[rates.length / 2]!) / 2;
      const mean = (BATCH * iters) / seconds;
      results.push({
        name: 'cnn-train',
        backend,
        threads: backend === 'wasm' || backend === 'native' ? threads : 1,
        batch: BATCH,
        examples_per_second: Math.round(median),
        mean_examples_per_second: Math.round(mean),
        best_window_examples_per_second: Math.round(rates.at(-1)!),
        windows: rates.length,
        gflops_effective: Number(((median * flops) / 1e9).toFixed(2)),
        iters,
        seconds: Number(seconds.toFixed(2)),
      });
      dispose();
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    d.setBackend(before);
    useNativeGemm(true);
    if (before === 'wasm') setNumThreads(threadsBefore);
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await benchCnn({ quick: process.argv.includes('--quick') });
  for (const r of results) console.log(JSON.stringify(r));
  console.log(
    `\nbenchmark CNN, batch ${BATCH}, ${(cnnFlopsPerExample() / 1e6).toFixed(1)} MFLOP per example (forward + backward); cores=${os.availableParallelism()}; node ${process.version}`,
  );
  console.log(
    `${'backend'.padEnd(8)} ${'threads'.padStart(7)} ${'examples/s'.padStart(11)} ${'GFLOP/s'.padStart(8)} ${'mean'.padStart(7)} ${'best'.padStart(7)}   (examples/s: median of timed windows)`,
  );
  for (const r of results)
    console.log(
      `${r.backend.padEnd(8)} ${String(r.threads).padStart(7)} ${String(r.examples_per_second).padStart(11)} ${String(r.gflops_effective).padStart(8)} ${String(r.mean_examples_per_second).padStart(7)} ${String(r.best_window_examples_per_second).padStart(7)}`,
    );
}
