/** Timing helpers: run a function until a time budget is spent and report the rate. */
import * as d from '../src/index.js';
import { setNumThreads } from '../src/backend/index.js';
import { loadNative } from '../src/backend/native/addon.js';
import { useNativeGemm } from '../src/backend/wasm/native-gemm.js';

export interface Result {
  name: string;
  backend: string;
  threads: number;
  gflops?: number;
  examples_per_second?: number;
  ratio_vs_js?: number;
  iters: number;
  seconds: number;
}

/**
 * Calls fn (after `warmup` untimed calls) until `budget` seconds have passed, timing it in windows
 * of about a tenth of the budget; reports the best window's seconds per call. On a machine shared
 * with other work the best window is the closest to the code's own speed (the mean mixes in
 * however much CPU others took at the time).
 */
export function timeIt(fn: () => void, budget: number, warmup = 1, minIters = 1): { perIter: number; iters: number; seconds: number } {
  for (let i = 0; i < warmup; i++) fn();
  const t0 = performance.now();
  let iters = 0;
  let seconds = 0;
  let best = Infinity;
  while (iters < minIters || seconds < budget) {
    const w0 = performance.now();
    let n = 0;
    do {
      fn();
      n++;
    } while ((performance.now() - w0) / 1000 < budget / 10);
    best = Math.min(best, (performance.now() - w0) / 1000 / n);
    iters += n;
    seconds = (performance.now() - t0) / 1000;
  }
  return { perIter: best, iters, seconds };
}

/** A result's rate: GFLOP/s for GEMM rows, examples per second for training rows. */
export function rateOf(r: Result): number {
  const rate = r.gflops ?? r.examples_per_second;
  if (rate === undefined) throw new Error(`bench: result ${r.name} (${r.backend}) has neither gflops nor examples_per_second`);
  return rate;
}

/**
 * timeIt for work that completes asynchronously (jax-js's blockUntilReady): the same best-window
 * rule, awaiting each call before the next.
 */
export async function timeItAsync(
  fn: () => Promise<unknown> | unknown,
  budget: number,
  warmup = 1,
  minIters = 1,
): Promise<{ perIter: number; iters: number; seconds: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  const t0 = performance.now();
  let iters = 0;
  let seconds = 0;
  let best = Infinity;
  while (iters < minIters || seconds < budget) {
    const w0 = performance.now();
    let n = 0;
    do {
      await fn();
      n++;
    } while ((performance.now() - w0) / 1000 < budget / 10);
    best = Math.min(best, (performance.now() - w0) / 1000 / n);
    iters += n;
    seconds = (performance.now() - t0) / 1000;
  }
  return { perIter: best, iters, seconds };
}

/** Select a backend and thread count for what follows. */
/**
 * Rows name the kernels that ran: 'js' (the reference), 'wasm' (the wasm backend with its own
 * GEMM: the native addon turned off) and 'native' (the wasm backend whose products run in the
 * native addon, issue 15; only where it is built).
 */
export function useBackend(name: string, threads: number): void {
  const native = name === 'native';
  d.setBackend(native ? 'wasm' : name);
  useNativeGemm(native);
  if (name === 'wasm' || native) setNumThreads(threads);
}

/** Whether the native addon is built and loads here (then the 'native' rows run). */
export const NATIVE_AVAILABLE = loadNative() !== null;

/**
 * The examples a training benchmark draws its batches from, and the batch gather that PyTorch's
 * step times too (bench/torch_peer.py): `size` random inputs of `shape` and labels 0..9; each batch
 * is rows [at, at + batch) selected by index, starting over at 0 when the pool runs out.
 */
export class ExamplePool {
  readonly x: d.Tensor;
  readonly y: d.Tensor;
  private at = 0;

  constructor(
    shape: readonly number[],
    readonly batch: number,
    generator: d.Generator,
    readonly size = 60_000,
  ) {
    this.x = d.keep(d.rand([size, ...shape], { generator }));
    this.y = d.keep(d.randint(0, 10, [size], { generator }));
  }

  /** The next batch [inputs, labels], made in the caller's scope. */
  next(): [d.Tensor, d.Tensor] {
    if (this.at + this.batch > this.size) this.at = 0;
    const idx = d.arange(this.at, this.at + this.batch, 1, { dtype: 'int32' });
    this.at += this.batch;
    return [d.indexSelect(this.x, 0, idx), d.indexSelect(this.y, 0, idx)];
  }

  dispose(): void {
    this.x.dispose();
    this.y.dispose();
  }
}
