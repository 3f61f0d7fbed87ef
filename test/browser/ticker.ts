/**
 * Whether a thread stayed responsive: a 16 ms timer's longest gap between ticks. A count of ticks
 * against the time elapsed measures speed and fails on a loaded machine; the longest gap measures
 * what a user sees (a page that froze), and it is the whole run when fit() never yields.
 */
export class Ticker {
  ticks = 0;
  private last = 0;
  private from = -1;
  private longest = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor() {
    this.timer = setInterval(() => {
      this.ticks++;
      const t = performance.now();
      if (this.from >= 0) this.longest = Math.max(this.longest, t - this.last);
      this.last = t;
    }, 16);
  }

  /** Starts measuring gaps now (after the first steps' compilation). */
  start(): void {
    this.from = this.last = performance.now();
    this.longest = 0;
  }

  /** Stops the timer; the longest gap in ms since start(), the last one (to now) included. */
  stop(): { maxGapMs: number; measuredMs: number } {
    clearInterval(this.timer);
    const t = performance.now();
    if (this.from < 0) return { maxGapMs: NaN, measuredMs: 0 };
    return { maxGapMs: Math.max(this.longest, t - this.last), measuredMs: t - this.from };
  }
}

/** The same as source text, for the pages whose scripts are strings. */
export const TICKER_SOURCE = `class Ticker {
  ticks = 0; last = 0; from = -1; longest = 0;
  constructor() { this.timer = setInterval(() => { this.ticks++; const t = performance.now(); if (this.from >= 0) this.longest = Math.max(this.longest, t - this.last); this.last = t; }, 16); }
  start() { this.from = this.last = performance.now(); this.longest = 0; }
  stop() { clearInterval(this.timer); const t = performance.now(); return this.from < 0 ? { maxGapMs: NaN, measuredMs: 0 } : { maxGapMs: Math.max(this.longest, t - this.last), measuredMs: t - this.from }; }
}`;

/**
 * Asserts a thread stayed responsive: no gap between ticks over `boundMs` and none over a third
 * of the measured time (a fit() that never yielded has one gap as long as the whole run).
 */
export function responsive(r: { maxGapMs: number; measuredMs: number }, boundMs = 500): string | undefined {
  if (!(r.measuredMs > 0)) return `nothing was measured (${r.measuredMs} ms)`;
  if (!(r.maxGapMs <= boundMs)) return `the longest gap between ticks was ${r.maxGapMs.toFixed(0)} ms (over ${boundMs} ms)`;
  if (!(r.maxGapMs <= r.measuredMs / 3))
    return `the longest gap between ticks, ${r.maxGapMs.toFixed(0)} ms, is over a third of the ${r.measuredMs.toFixed(0)} ms measured`;
  return undefined;
}
