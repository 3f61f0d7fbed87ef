/**
 * Giving the event loop its turn during training. A training epoch is synchronous work; left
 * alone it would freeze a page (no repaint, no input, no progress) and starve Node's timers and
 * servers. The trainer yields once at least `everyMs` have passed since the last yield, through
 * setImmediate in Node, else a MessageChannel round trip (setTimeout
 * is clamped to >= 4 ms in browsers after a few nested calls, which would cost real time).
 */

export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  // Node: setImmediate runs after the poll phase, so timers and I/O get their turn, at a quarter
  // of a MessageChannel round trip's cost (~14 us against ~60 us, measured here).
  if (typeof g.setImmediate === 'function') return new Promise((resolve) => g.setImmediate!(resolve));
  // Browsers: a message is an ordinary task, queued behind due timers, input and rendering.
  // (scheduler.yield() is not used: its continuation is scheduled ahead of other tasks, and a
  // page's timers did not run at all during a fit in Chromium.)
  // Two hops: after the first message, timers that fell due meanwhile are queued ahead of the
  // second (with one hop Chromium ran a 16 ms timer only about every other yield).
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const { port1, port2 } = new MessageChannel();
      let hops = 0;
      port1.onmessage = () => {
        if (++hops < 2) return port2.postMessage(null);
        port1.close();
        resolve();
      };
      port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Yields when `everyMs` have passed since the last yield; `everyMs` = Infinity never yields. */
export class Pacer {
  private last = performance.now();

  constructor(readonly everyMs: number) {
    if (!(everyMs >= 0)) throw new RangeError(`fit: yieldEveryMs must be a non-negative number of milliseconds, got ${everyMs}`);
  }

  /** A promise to await when it is time to yield, else undefined (no await, no cost). */
  due(): Promise<void> | undefined {
    const now = performance.now();
    if (now - this.last < this.everyMs) return undefined;
    this.last = now;
    return yieldToEventLoop().then(() => {
      this.last = performance.now();
    });
  }
}
