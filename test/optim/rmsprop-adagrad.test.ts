import { assertClose } from '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import { Adagrad, RMSprop } from '../../src/optim/index.js';
import type { Tensor } from '../../src/index.js';

const f64 = (v: number[]) => d.tensor(v, { dtype: 'float64' });
const TOL = { atol: 1e-12, rtol: 0 };

/** Step two scalar parameters starting at (1, 2) through a fixed gradient sequence; the values after each step. */
function replay(make: (ps: Tensor[]) => { step(g: Map<Tensor, Tensor>): void }, grads: number[][]): number[][] {
  const p1 = f64([1]),
    p2 = f64([2]);
  const opt = make([p1, p2]);
  return grads.map(([a, b]) => {
    opt.step(
      new Map([
        [p1, f64([a!])],
        [p2, f64([b!])],
      ]),
    );
    return [p1.item(), p2.item()];
  });
}

describe('RMSprop', () => {
  it('centered with momentum, three steps by hand (lr 0.1, alpha 0.5, eps 0.1, momentum 0.5)', () => {
    const [s1, s2, s3] = replay(
      (ps) => new RMSprop(ps, { lr: 0.1, alpha: 0.5, eps: 0.1, momentum: 0.5, centered: true }),
      [
        [1, 2],
        [3, -2],
        [0, 0.5],
      ],
    );
    // step 1: g = (1, 2); v = 0.5 g^2 = (0.5, 2); gbar = 0.5 g = (0.5, 1); v - gbar^2 = (0.25, 1)
    //   denom = sqrt + 0.1 = (0.6, 1.1); b = g / denom = (1/0.6, 2/1.1); p = (1 - 0.1/0.6, 2 - 0.2/1.1) = (5/6, 20/11)
    assertClose([s1![0]!, s1![1]!], [5 / 6, 20 / 11], TOL);
    // step 2: g = (3, -2); v = 0.5 v + 0.5 (9, 4) = (4.75, 3); gbar = 0.5 gbar + 0.5 g = (1.75, -0.5)
    //   v - gbar^2 = (4.75 - 3.0625, 3 - 0.25) = (1.6875, 2.75); denom = (sqrt(1.6875) + 0.1, sqrt(2.75) + 0.1)
    //   b = 0.5 b + g / denom
    const b2 = [0.5 / 0.6 + 3 / (Math.sqrt(1.6875) + 0.1), 0.5 * (2 / 1.1) - 2 / (Math.sqrt(2.75) + 0.1)];
    const p2 = [5 / 6 - 0.1 * b2[0]!, 20 / 11 - 0.1 * b2[1]!];
    assertClose([s2![0]!, s2![1]!], p2, TOL);
    // step 3: g = (0, 0.5); v = (2.375, 1.625); gbar = (0.875, 0); v - gbar^2 = (1.609375, 1.625)
    //   b = 0.5 b + g / (sqrt + 0.1) = (0.5 b2_1, 0.5 b2_2 + 0.5 / (sqrt(1.625) + 0.1))
    const b3 = [0.5 * b2[0]!, 0.5 * b2[1]! + 0.5 / (Math.sqrt(1.625) + 0.1)];
    assertClose([s3![0]!, s3![1]!], [p2[0]! - 0.1 * b3[0]!, p2[1]! - 0.1 * b3[1]!], TOL);
    // numerically (an independent float64 replay): (0.38668376698191986, 1.8160662072013465)
    assertClose([s3![0]!, s3![1]!], [0.38668376698191986, 1.8160662072013465], TOL);
  });

  it('plain, with weight decay: g <- g + lambda theta, theta -= lr g / (sqrt(v) + eps)', () => {
    const [s1, , s3] = replay(
      (ps) => new RMSprop(ps, { lr: 0.1, alpha: 0.5, eps: 0.1, weightDecay: 0.5 }),
      [
        [1, 2],
        [3, -2],
        [0, 0.5],
      ],
    );
    // step 1: g = (1, 2) + 0.5 (1, 2) = (1.5, 3); v = 0.5 g^2 = (1.125, 4.5)
    //   p = (1 - 0.1 * 1.5 / (sqrt(1.125) + 0.1), 2 - 0.1 * 3 / (sqrt(4.5) + 0.1))
    assertClose([s1![0]!, s1![1]!], [1 - 0.15 / (Math.sqrt(1.125) + 0.1), 2 - 0.3 / (Math.sqrt(4.5) + 0.1)], TOL);
    // step 2: g = (3 + 0.5 p1, -2 + 0.5 p2); step 3: g = (0 + 0.5 p1, 0.5 + 0.5 p2); replayed in float64:
    assertClose([s3![0]!, s3![1]!], [0.7214258408054519, 1.837611208873051], TOL);
  });

  it('validates its hyperparameters', () => {
    const w = f64([1]);
    assert.throws(() => new RMSprop([w], { alpha: -0.1 }), /RMSprop \(param group 0\): alpha must be a finite number >= 0/);
    assert.throws(() => new RMSprop([w], { momentum: -1 }), /momentum must be a finite number >= 0/);
    assert.throws(() => new RMSprop([w], { centered: 1 as unknown as boolean }), /centered must be true or false/);
    const g = new RMSprop([w]).paramGroups[0]!;
    assert.deepEqual([g.lr, g.alpha, g.eps, g.weightDecay, g.momentum, g.centered], [1e-2, 0.99, 1e-8, 0, 0, false]);
  });
});

describe('Adagrad', () => {
  it('lrDecay, three steps by hand: clr = lr / (1 + (t - 1) lrDecay) (lr 0.1, lrDecay 0.5, eps 0.1)', () => {
    const [s1, s2, s3] = replay(
      (ps) => new Adagrad(ps, { lr: 0.1, lrDecay: 0.5, eps: 0.1 }),
      [
        [3, 4],
        [4, 3],
        [12, -12],
      ],
    );
    // step 1: clr = 0.1; s = (9, 16), sqrt = (3, 4); p = (1 - 0.1 * 3 / 3.1, 2 - 0.1 * 4 / 4.1)
    const p1 = [1 - 0.3 / 3.1, 2 - 0.4 / 4.1];
    assertClose([s1![0]!, s1![1]!], p1, TOL);
    // step 2: clr = 0.1 / 1.5; s = (9 + 16, 16 + 9) = (25, 25), sqrt = 5; p -= clr (4, 3) / 5.1
    const p2 = [p1[0]! - ((0.1 / 1.5) * 4) / 5.1, p1[1]! - ((0.1 / 1.5) * 3) / 5.1];
    assertClose([s2![0]!, s2![1]!], p2, TOL);
    // step 3: clr = 0.1 / 2 = 0.05; s = (25 + 144, 25 + 144) = (169, 169), sqrt = 13; p -= 0.05 (12, -12) / 13.1
    assertClose([s3![0]!, s3![1]!], [p2[0]! - 0.6 / 13.1, p2[1]! + 0.6 / 13.1], TOL);
    assertClose([s3![0]!, s3![1]!], [0.8051366980347092, 1.9090248648332913], TOL);
  });

  it('initialAccumulatorValue starts the sum (lr 0.1, eps 0, s0 = 16)', () => {
    const [s1, s2, s3] = replay(
      (ps) => new Adagrad(ps, { lr: 0.1, eps: 0, initialAccumulatorValue: 16 }),
      [
        [3, 0],
        [0, 4],
        [-3, -4],
      ],
    );
    // step 1: s = (16 + 9, 16 + 0) = (25, 16); p = (1 - 0.1 * 3 / 5, 2 - 0) = (0.94, 2)
    assertClose([s1![0]!, s1![1]!], [0.94, 2], TOL);
    // step 2: s = (25, 32); p = (0.94, 2 - 0.1 * 4 / sqrt(32)) = (0.94, 2 - 0.1 / sqrt(2))
    assertClose([s2![0]!, s2![1]!], [0.94, 2 - 0.1 / Math.SQRT2], TOL);
    // step 3: s = (34, 48); p = (0.94 + 0.3 / sqrt(34), p2 + 0.4 / sqrt(48))
    assertClose([s3![0]!, s3![1]!], [0.94 + 0.3 / Math.sqrt(34), 2 - 0.1 / Math.SQRT2 + 0.4 / Math.sqrt(48)], TOL);
  });

  it('weight decay and maximize', () => {
    // g = (1, 1) + 1 * (1, 2) = (2, 3); s = (4, 9); p = (1 - 0.1 * 2/2, 2 - 0.1 * 3/3) = (0.9, 1.9)
    const [wd] = replay((ps) => new Adagrad(ps, { lr: 0.1, eps: 0, weightDecay: 1 }), [[1, 1]]);
    assertClose([wd![0]!, wd![1]!], [0.9, 1.9], TOL);
    // maximize: g = -(1, 1); s = (1, 1); p = (1 + 0.1, 2 + 0.1)
    const [mx] = replay((ps) => new Adagrad(ps, { lr: 0.1, eps: 0, maximize: true }), [[1, 1]]);
    assertClose([mx![0]!, mx![1]!], [1.1, 2.1], TOL);
  });

  it('validates its hyperparameters', () => {
    const w = f64([1]);
    assert.throws(() => new Adagrad([w], { lrDecay: -1 }), /Adagrad \(param group 0\): lrDecay must be a finite number >= 0, got -1/);
    assert.throws(() => new Adagrad([w], { initialAccumulatorValue: -1 }), /initialAccumulatorValue must be a finite number >= 0/);
    assert.throws(() => new Adagrad([w], { eps: Infinity }), /eps must be a finite number >= 0, got Infinity/);
  });
});
