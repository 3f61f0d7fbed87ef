/**
 * Splitting a memory-bound kernel call across the thread pool. The call covers `count` independent
 * units (image planes, channels, rows, elements) and `args(start, len)` gives the arguments that
 * make it cover units [start, start + len) only; each task writes its own part of the output, so the
 * results are the same bits as one call's. Small calls run in place: a hand-off costs ~10 us, about
 * what copying 2^15 floats does.
 */
import { runtime } from './runtime.js';
import type { Task } from './threads.js';

/** Elements (touched per call) below which a kernel runs on the calling thread alone. */
export const PARALLEL_MIN_ELEMENTS = 1 << 15;

/**
 * Run kernel `name` over `count` units holding `elements` elements in all, in ranges of a multiple
 * of `align` units: two ranges per thread, so a thread the OS deschedules delays a quarter of the
 * work rather than half.
 */
export function parallelFor(name: string, count: number, elements: number, args: (start: number, len: number) => number[], align = 1): void {
  const rt = runtime();
  const threads = Math.min(rt.threads, rt.pool.capacity());
  if (threads <= 1 || count < 2 || elements < PARALLEL_MIN_ELEMENTS) {
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
