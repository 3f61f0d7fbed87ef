/**
 * Splitting a memory-bound kernel call across the thread pool. The call covers `count` independent
 * units (image planes, channels, rows, elements) and `args(start, len)` gives the arguments that
 * make it cover units [start, start + len) only; each task writes its own part of the output, so the
 * results are the same bits as one call's. Small calls run in place: a hand-off costs ~10 us, about
 * what copying 2^15 floats does.
 */
import { nativeGemmActive } from './native-gemm.js';
import { runtime } from './runtime.js';
import type { Task } from './threads.js';

/** Elements (touched per call) below which a kernel runs on the calling thread alone. */
export const PARALLEL_MIN_ELEMENTS = 1 << 15;

/**
 * The same where the native kernels run the products (and the SGD update): there the wasm workers
 * are parked, asleep, whenever the native pool has run, so a round must wake them, and a wake-up
 * (30-80 us on a 2-core VM) costs more than the work up to about 2^18 elements. Measured: the
 * MLP's bias adds, ReLUs and ReLU gradients ([128, 512]) took 30-80 us a call on two threads in
 * the training step and 15-40 us on the calling thread alone.
 */
export const PARALLEL_MIN_ELEMENTS_NATIVE = 1 << 18;

/** The threshold in force: PARALLEL_MIN_ELEMENTS, or PARALLEL_MIN_ELEMENTS_NATIVE while native kernels are in use. */
export function parallelMinElements(): number {
  return nativeGemmActive() ? PARALLEL_MIN_ELEMENTS_NATIVE : PARALLEL_MIN_ELEMENTS;
}

/**
 * Run kernel `name` over `count` units holding `elements` elements in all, in ranges of a multiple
 * of `align` units: two ranges per thread, so a thread the OS deschedules delays a quarter of the
 * work rather than half.
 */
export function parallelFor(name: string, count: number, elements: number, args: (start: number, len: number) => number[], align = 1): void {
  const rt = runtime();
  const threads = Math.min(rt.threads, rt.pool.capacity());
  if (threads <= 1 || count < 2 || elements < parallelMinElements()) {
    rt.kernel(name)(...args(0, count));
    return;
  }
  const parts = Math.min(count, elements >= 4 * PARALLEL_MIN_ELEMENTS ? 2 * threads : threads);
  const step = Math.ceil(count / parts / align) * align;
  const fn = rt.fnIndex(name);
  const tasks: Task[] = [];
  for (let s = 0; s < count; s += step) tasks.push({ fn, args: args(s, Math.min(step, count - s)) });
  rt.pool.runAll(tasks, threads);
}

/** Run a list of independent calls of kernel `name` (given by their arguments) across the pool. */
export function parallelCalls(name: string, calls: readonly number[][]): void {
  const rt = runtime();
  const threads = Math.min(rt.threads, rt.pool.capacity());
  if (threads <= 1 || calls.length < 2) {
    const k = rt.kernel(name);
    for (const a of calls) k(...a);
    return;
  }
  const fn = rt.fnIndex(name);
  rt.pool.runAll(calls.map((args) => ({ fn, args })), threads);
}
