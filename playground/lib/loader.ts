/**
 * The mini-batches of the playground: each epoch a new seeded shuffle of the training points, cut
 * into batches of the current size (the last one shorter). Unlike a plain DataLoader it remembers
 * which points each batch holds (the page highlights them), picks up where it left off when
 * training is paused and played again, and takes a new batch size at the next batch.
 * It is a BatchLoader, so fit() drives it like any loader.
 */
import * as d from 'descent';
import type { Tensor } from './setup.js';

export class PlaygroundLoader {
  batchSize: number;
  private readonly gen: d.Generator;
  private order: Int32Array;
  /** The first point of the next batch to train on, in `order`. */
  private pos = 0;
  /** Points of the batches handed out but not yet trained on, oldest first. */
  private readonly handedOut: Int32Array[] = [];
  /** The points of the batch trained on last. */
  current: Int32Array = new Int32Array(0);

  constructor(
    private readonly x: Tensor,
    private readonly y: Tensor,
    batchSize: number,
    seed: number,
  ) {
    this.batchSize = batchSize;
    this.gen = new d.Generator(seed + 1000);
    this.order = this.gen.permutation(this.n);
  }

  get n(): number {
    return this.x.shape[0]!;
  }

  /** Batches in a full epoch at the current size. */
  get length(): number {
    return Math.ceil(this.n / this.batchSize);
  }

  /** One epoch from the current position: fit() calls this at the start of each epoch. */
  *[Symbol.iterator](): Iterator<Tensor[]> {
    this.handedOut.length = 0;
    let at = this.pos;
    while (at < this.n) {
      const idx = this.order.slice(at, Math.min(this.n, at + this.batchSize));
      at += idx.length;
      this.handedOut.push(idx);
      const it = d.tensor(idx, { dtype: 'int32' });
      yield [d.indexSelect(this.x, 0, it), d.indexSelect(this.y, 0, it)];
    }
  }

  /**
   * The oldest batch handed out is being trained on (fit's step hook calls this): it becomes
   * `current`, and the position moves past it. At the end of the order a new shuffle starts.
   */
  consume(): Int32Array {
    const idx = this.handedOut.shift() ?? new Int32Array(0);
    this.current = idx;
    this.pos += idx.length;
    if (this.pos >= this.n) {
      this.pos = 0;
      this.order = this.gen.permutation(this.n);
    }
    return idx;
  }
}
