/**
 * A pool of worker threads that run exported kernels of the same Wasm module on the same shared
 * memory. A parallel call is a list of tasks (kernel + up to 15 i32 arguments) written to a
 * control block in that memory; the calling thread and the workers it wakes claim tasks one at a
 * time until none is left, so a thread that the OS deschedules (other processes on the machine)
 * delays only the task it holds, not a fixed share of the work.
 *
 * Control block, in int32 words:
 *   [0] claim   (round << 24) | (count << 12) | next: claimed by compare-and-swap, so a thread still
 *               finishing an old round can never take a task of the next one
 *   [1] done    tasks finished this round (the caller waits until it equals count)
 *   [2] failed  set when a kernel threw on a worker
 *   [3] parked  set by park(): idle workers stop spinning and sleep at once (another pool, the
 *               native kernels' threads, is about to use the cores); cleared by the next round
 *   [16 * (1 + t) ...]       task t: kernel index, then its 15 arguments   (t < MAX_TASKS)
 *   [16 * (1 + MAX_TASKS + w)]  worker w's wake-up word: bumped (and notified) to start it
 *   [16 * (1 + MAX_TASKS + MAX_WORKERS) ...]  the first failure on a worker this round: the
 *               message's length, the failing kernel's index, then the message's UTF-16 code units
 *               (at most MAX_MESSAGE)
 * Workers are Node's worker_threads (unref'd, so an idle pool never keeps the process alive) or,
 * in a cross-origin isolated page, Web Workers; elsewhere the pool has no workers and the calling
 * thread runs every task.
 */
import type { WasmHeap } from './memory.js';

export const MAX_TASKS = 4095;
const MAX_WORKERS = 64;
const MAX_ARGS = 15;
const REC = 16; // words per record
const MAX_MESSAGE = 240;
/** Polls of a control word before a thread sleeps in Atomics.wait (tens of microseconds). */
const SPIN = 20000;
/** An argument with this value is replaced by the scratch address of the thread that runs the task. */
export const SCRATCH = -1;

/**
 * Claim and run tasks until none is left: the loop both the calling thread and the workers run.
 * (Its source is also pasted into the worker, so it uses nothing from its surroundings.)
 */
function serve(I: Int32Array, base: number, run: (fn: number, args: number[]) => void, onFail: (e: unknown, fn: number) => void): number {
  let ran = 0;
  for (;;) {
    const c = Atomics.load(I, base);
    const next = c & 0xfff, count = (c >>> 12) & 0xfff;
    if (next >= count) return ran;
    if (Atomics.compareExchange(I, base, c, c + 1) !== c) continue;
    const rec = base + 16 * (1 + next);
    try {
      run(I[rec]!, Array.from(I.subarray(rec + 1, rec + 16)));
    } catch (e) {
      onFail(e, I[rec]!);
    }
    ran++;
    Atomics.add(I, base + 1, 1);
    Atomics.notify(I, base + 1);
  }
}

// The worker's body: given \`workerData\` (see WorkerSpawner), instantiate the module on the shared
// memory, then serve rounds as the process lives.
const WORKER_BODY = `
const { module, memory, base, wake, names, scratch, message } = workerData;
const inst = new WebAssembly.Instance(module, { env: { mem: memory } });
const fns = names.map((n) => inst.exports[n]);
const I = new Int32Array(memory.buffer);
const serve = ${serve.toString()};
let last = 0;
for (;;) {
  // spin a little before sleeping: in a training loop the next call usually comes within
  // microseconds, and waking from Atomics.wait costs tens of them
  for (let i = 0; i < ${SPIN} && Atomics.load(I, wake) === last && Atomics.load(I, base + 3) === 0; i++);
  Atomics.wait(I, wake, last);
  last = Atomics.load(I, wake);
  serve(I, base, (fn, args) => fns[fn](...args.map((a) => (a === ${SCRATCH} ? scratch : a))), (e, fn) => {
    // the first failure this round leaves its message for the calling thread
    if (Atomics.compareExchange(I, base + 2, 0, 1) !== 0) return;
    let text = 'an error without a message';
    try { text = String(e && e.message ? e.message : e); } catch {}
    text = text.slice(0, ${MAX_MESSAGE});
    for (let i = 0; i < text.length; i++) I[message + 2 + i] = text.charCodeAt(i);
    I[message + 1] = fn;
    I[message] = text.length;
  });
}
`;

export interface Task {
  /** Index into the pool's kernel names. */
  fn: number;
  args: readonly number[];
}

/**
 * Starts one worker thread that runs `body` (a script that reads a variable \`workerData\`) with
 * `data` as its workerData: Node's worker_threads, or a Web Worker in a cross-origin isolated page
 * (see runtime.ts). The worker must not keep the process alive.
 */
export type WorkerSpawner = (body: string, data: unknown) => void;

/**
 * Whether this thread may block in Atomics.wait. A page's main thread may not (browsers throw);
 * there the calling thread spins on the control word instead (a round's wait is short: the calling
 * thread runs tasks itself and waits only for the ones workers still hold).
 */
function canBlock(I: Int32Array, at: number): boolean {
  try {
    Atomics.wait(I, at, 1, 0); // the word is 0: returns "not-equal" at once where waiting is allowed
    return true;
  } catch {
    return false;
  }
}

export class ThreadPool {
  private workers = 0;
  private readonly blocking: boolean;
  private readonly ctrl: number;
  private readonly base: number;
  private readonly I: Int32Array;
  private round = 0;

  /**
   * `run(fn, args)` runs a kernel on the calling thread; `scratch(t)` is the scratch block of
   * thread t (0: the calling thread, w + 1: worker w); `spawn` starts a worker (null where there
   * is none: the pool then has no workers).
   */
  constructor(
    private readonly heap: WasmHeap,
    private readonly module: WebAssembly.Module,
    private readonly names: readonly string[],
    private readonly run: (fn: number, args: readonly number[]) => void,
    private readonly scratch: (thread: number) => number,
    private readonly spawn: WorkerSpawner | null,
    readonly maxWorkers: number,
  ) {
    if (maxWorkers > MAX_WORKERS) throw new RangeError(`ThreadPool: at most ${MAX_WORKERS} workers, got ${maxWorkers}`);
    const bytes = 4 * (REC * (1 + MAX_TASKS + MAX_WORKERS) + 2 + MAX_MESSAGE);
    this.ctrl = heap.malloc(bytes);
    this.I = new Int32Array(heap.memory.buffer);
    this.I.fill(0, this.ctrl >> 2, (this.ctrl + bytes) >> 2);
    this.base = this.ctrl >> 2;
    this.blocking = canBlock(this.I, this.base + 2);
  }

  /** Called at the start of every round that wakes workers (the native kernels park their pool). */
  beforeRun: (() => void) | null = null;

  /**
   * Idle workers stop spinning and sleep now: another pool (the native GEMM's threads) is about
   * to run, and on a machine with as many cores as threads a spinning worker would take a core
   * from it. The next round wakes them as usual.
   */
  park(): void {
    Atomics.store(this.I, this.base + 3, 1);
  }

  /** Workers started so far (they start on first use). */
  get started(): number {
    return this.workers;
  }

  /** How many tasks can run at once: the calling thread plus the workers it may start. */
  capacity(): number {
    return 1 + (this.spawn === null ? 0 : this.maxWorkers);
  }

  private messageWord(): number {
    return this.base + REC * (1 + MAX_TASKS + MAX_WORKERS);
  }

  private wakeWord(w: number): number {
    return this.base + REC * (1 + MAX_TASKS + w);
  }

  private ensure(n: number): void {
    if (this.spawn === null) return;
    while (this.workers < Math.min(n, this.maxWorkers)) {
      const wake = this.wakeWord(this.workers);
      const scratch = this.scratch(this.workers + 1);
      const message = this.messageWord();
      this.spawn(WORKER_BODY, { module: this.module, memory: this.heap.memory, base: this.base, wake, names: this.names, scratch, message });
      this.workers++;
    }
  }

  /**
   * Run the tasks on this thread and up to `threads - 1` workers, returning when all are done.
   * Tasks must be independent (each writes its own part of the output).
   */
  runAll(tasks: readonly Task[], threads: number): void {
    const n = tasks.length;
    if (n === 0) return;
    if (n > MAX_TASKS) throw new RangeError(`ThreadPool: at most ${MAX_TASKS} tasks per call, got ${n}`);
    const I = this.I, base = this.base;
    for (let t = 0; t < n; t++) {
      const { fn, args } = tasks[t]!;
      if (args.length > MAX_ARGS) throw new RangeError(`ThreadPool: a task takes at most ${MAX_ARGS} arguments, got ${args.length}`);
      const rec = base + REC * (1 + t);
      I[rec] = fn;
      for (let i = 0; i < args.length; i++) I[rec + 1 + i] = args[i]!;
    }
    Atomics.store(I, base + 1, 0);
    Atomics.store(I, base + 2, 0);
    Atomics.store(I, base + 3, 0);
    this.round = (this.round + 1) & 0x7f;
    Atomics.store(I, base, (this.round << 24) | (n << 12));
    const helpers = Math.min(threads - 1, n - 1);
    if (helpers > 0 && this.beforeRun !== null) this.beforeRun();
    this.ensure(helpers);
    for (let w = 0; w < Math.min(helpers, this.workers); w++) {
      Atomics.add(I, this.wakeWord(w), 1);
      Atomics.notify(I, this.wakeWord(w));
    }
    const mine = this.scratch(0);
    let error: unknown = null;
    serve(I, base, (fn, args) => this.run(fn, args.map((a) => (a === SCRATCH ? mine : a))), (e) => { error ??= e; });
    // wait for the tasks workers still hold
    for (let i = 0; i < SPIN && Atomics.load(I, base + 1) !== n; i++);
    if (this.blocking) for (let d = Atomics.load(I, base + 1); d !== n; d = Atomics.load(I, base + 1)) Atomics.wait(I, base + 1, d);
    else while (Atomics.load(I, base + 1) !== n);
    if (error !== null) throw error;
    if (I[base + 2] !== 0) {
      const at = this.messageWord();
      const text = String.fromCharCode(...I.subarray(at + 2, at + 2 + I[at]!));
      throw new Error(`wasm backend: a kernel (${this.names[I[at + 1]!] ?? 'unknown'}) failed on a worker thread: ${text}`);
    }
  }
}
