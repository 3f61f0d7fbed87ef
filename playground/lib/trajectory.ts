/**
 * Long runs, kept small: a series thinned by merging neighbours once it is full, and the weights'
 * trajectory, every step of the recent past plus a thinned record of all the rest (so the path
 * drawn shows each recent step's jitter and the whole run's shape).
 */

/** (step, value) pairs; when `max` is reached, each two neighbours become their mean. */
export class Thinned {
  steps: number[] = [];
  values: number[] = [];

  constructor(private readonly max: number) {}

  add(step: number, value: number): void {
    this.steps.push(step);
    this.values.push(value);
    if (this.steps.length < this.max) return;
    const s: number[] = [],
      v: number[] = [];
    for (let i = 0; i + 1 < this.steps.length; i += 2) {
      s.push(this.steps[i + 1]!);
      v.push((this.values[i]! + this.values[i + 1]!) / 2);
    }
    this.steps = s;
    this.values = v;
  }
}

export interface TrajectoryPoint {
  step: number;
  weights: Float64Array;
}

export class Trajectory {
  /** Every step of the last `recentSize` steps. */
  recent: TrajectoryPoint[] = [];
  /** Before those, one point every `every` steps, `every` doubling whenever the history is full. */
  history: TrajectoryPoint[] = [];
  private every = 1;

  constructor(
    private readonly recentSize = 150,
    private readonly historySize = 150,
  ) {}

  add(step: number, weights: Float64Array): void {
    this.recent.push({ step, weights });
    if (this.recent.length <= this.recentSize) return;
    const old = this.recent.shift()!;
    if (old.step % this.every !== 0) return;
    this.history.push(old);
    if (this.history.length > this.historySize) {
      this.every *= 2;
      this.history = this.history.filter((p) => p.step % this.every === 0);
    }
  }

  /** The points in order, oldest first. */
  points(): TrajectoryPoint[] {
    return [...this.history, ...this.recent];
  }
}
