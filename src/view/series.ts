/**
 * A growing (x, y) series that stays small: points arrive one per optimizer step, and when there
 * are more than `maxPoints`, neighbouring points are merged pairwise (their mean, weighted by how
 * many steps each holds), so a run of a million steps still draws a few thousand points that show
 * its shape. Non-finite values (a diverging loss) are kept as gaps, never averaged in.
 */
export class StepSeries {
  readonly xs: number[] = [];
  readonly ys: (number | null)[] = [];
  /** Finite values merged into each point. */
  private readonly counts: number[] = [];
  /** Steps per point: doubles each time the series is halved. */
  private stride = 1;

  constructor(private readonly maxPoints: number) {
    if (!(maxPoints >= 2)) throw new RangeError(`maxPoints is ${maxPoints}, expected at least 2`);
  }

  get length(): number {
    return this.xs.length;
  }

  /** Add the value of step `x` (steps increase; a value for the last bucket again is merged into it). */
  push(x: number, y: number): void {
    const bucket = Math.floor((x - 1) / this.stride);
    const last = this.xs.length - 1;
    if (last >= 0 && Math.floor((this.xs[last]! - 1) / this.stride) === bucket) this.merge(last, x, y);
    else {
      this.xs.push(x);
      this.ys.push(Number.isFinite(y) ? y : null);
      this.counts.push(Number.isFinite(y) ? 1 : 0);
    }
    if (this.xs.length > this.maxPoints) this.halve();
  }

  private merge(i: number, x: number, y: number): void {
    this.xs[i] = x;
    if (!Number.isFinite(y)) return;
    const n = this.counts[i]!;
    this.ys[i] = n === 0 ? y : this.ys[i]! + (y - this.ys[i]!) / (n + 1);
    this.counts[i] = n + 1;
  }

  private halve(): void {
    this.stride *= 2;
    let out = 0;
    for (let i = 0; i < this.xs.length; i++) {
      const bucket = Math.floor((this.xs[i]! - 1) / this.stride);
      if (out > 0 && Math.floor((this.xs[out - 1]! - 1) / this.stride) === bucket) {
        const n = this.counts[out - 1]!,
          m = this.counts[i]!;
        this.xs[out - 1] = this.xs[i]!;
        if (m > 0) this.ys[out - 1] = n === 0 ? this.ys[i]! : (this.ys[out - 1]! * n + this.ys[i]! * m) / (n + m);
        this.counts[out - 1] = n + m;
      } else {
        this.xs[out] = this.xs[i]!;
        this.ys[out] = this.ys[i]!;
        this.counts[out] = this.counts[i]!;
        out++;
      }
    }
    this.xs.length = this.ys.length = this.counts.length = out;
  }
}

/**
 * An exponential moving average with bias correction (TensorBoard's smoothing): the first values
 * are not pulled towards zero. Non-finite values are skipped.
 */
export class Smoother {
  private value = 0;
  private weight = 0;
  constructor(private readonly beta: number) {
    if (!(beta >= 0 && beta < 1)) throw new RangeError(`smoothing is ${beta}, expected a number in [0, 1)`);
  }
  add(y: number): number | null {
    if (Number.isFinite(y)) {
      this.value = this.beta * this.value + (1 - this.beta) * y;
      this.weight = this.beta * this.weight + (1 - this.beta);
    }
    return this.weight > 0 ? this.value / this.weight : null;
  }
}
