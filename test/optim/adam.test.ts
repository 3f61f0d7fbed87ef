import { assertClose } from '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { Adam, AdamW } from '../../src/optim/index.js';
import type { AdamOptions } from '../../src/optim/index.js';

const f64 = (v: number[]) => d.tensor(v, { dtype: 'float64' });
const TOL = { atol: 1e-12, rtol: 0 };

// A fixed gradient sequence for two scalar parameters p = (p1, p2) starting at (1, 2):
//   g1 = (1, 2), g2 = (3, -2), g3 = (0, 0.5)
// with lr 0.1, betas (0.5, 0.75) and a large eps 0.1 (so its place in the formula shows).
const GRADS = [
  [1, 2],
  [3, -2],
  [0, 0.5],
];

function replay(make: (ps: Tensor[]) => Adam | AdamW): Tensor[][] {
  const p1 = f64([1]),
    p2 = f64([2]);
  const opt = make([p1, p2]);
  return GRADS.map(([a, b]) => {
    opt.step(
      new Map([
        [p1, f64([a!])],
        [p2, f64([b!])],
      ]),
    );
    return [d.tensor([p1.item()], { dtype: 'float64' }), d.tensor([p2.item()], { dtype: 'float64' })];
  });
}

const base: AdamOptions = { lr: 0.1, betas: [0.5, 0.75], eps: 0.1 };

describe('Adam', () => {
  it('three steps by hand: moments, bias corrections, eps outside the root', () => {
    const [s1, s2, s3] = replay((ps) => new Adam(ps, base));
    // step 1: m = 0.5 g = (0.5, 1); v = 0.25 g^2 = (0.25, 1); 1 - 0.5^1 = 0.5, 1 - 0.75^1 = 0.25
    //   denom = sqrt(v) / sqrt(0.25) + 0.1 = (1.1, 2.1); step size 0.1 / 0.5 = 0.2
    //   p = (1 - 0.2 * 0.5 / 1.1, 2 - 0.2 * 1 / 2.1) = (10/11, 40/21)
    assertClose(s1![0]!, [10 / 11], TOL);
    assertClose(s1![1]!, [40 / 21], TOL);
    // step 2: m = 0.5 m + 0.5 (3, -2) = (1.75, -0.5); v = 0.75 v + 0.25 (9, 4) = (2.4375, 1.75)
    //   1 - 0.5^2 = 0.75, 1 - 0.75^2 = 0.4375; denom = (sqrt(2.4375/0.4375) + 0.1, sqrt(1.75/0.4375) + 0.1 = 2.1)
    //   p1 = 10/11 - (0.1/0.75) 1.75 / denom1;  p2 = 40/21 + (0.1/0.75) 0.5 / 2.1 = 40/21 + 2/63 = 122/63
    const p1s2 = 10 / 11 - ((0.1 / 0.75) * 1.75) / (Math.sqrt(2.4375 / 0.4375) + 0.1);
    assertClose(s2![0]!, [p1s2], TOL);
    assertClose(s2![1]!, [122 / 63], TOL);
    // step 3: m = 0.5 m + 0.5 (0, 0.5) = (0.875, 0); v = 0.75 v + 0.25 (0, 0.25) = (1.828125, 1.375)
    //   1 - 0.5^3 = 0.875, 1 - 0.75^3 = 0.578125
    //   p1 -= (0.1/0.875) 0.875 / (sqrt(1.828125/0.578125) + 0.1);  p2 unchanged (m2 = 0)
    assertClose(s3![0]!, [p1s2 - 0.1 / (Math.sqrt(1.828125 / 0.578125) + 0.1)], TOL);
    assertClose(s3![1]!, [122 / 63], TOL);
  });

  it('amsgrad divides by the largest v so far: same as Adam until v shrinks at step 3', () => {
    const [s1, s2, s3] = replay((ps) => new Adam(ps, { ...base, amsgrad: true }));
    // steps 1-2: v only grows, so vmax = v and the result is Adam's
    assertClose(s1![0]!, [10 / 11], TOL);
    assertClose(s2![1]!, [122 / 63], TOL);
    const p1s2 = 10 / 11 - ((0.1 / 0.75) * 1.75) / (Math.sqrt(2.4375 / 0.4375) + 0.1);
    assertClose(s2![0]!, [p1s2], TOL);
    // step 3: v = (1.828125, 1.375) < vmax = (2.4375, 1.75): the max of the UNcorrected v, then
    //   divided by the current correction 1 - 0.75^3 = 0.578125:  p1 -= 0.1 / (sqrt(2.4375/0.578125) + 0.1)
    assertClose(s3![0]!, [p1s2 - 0.1 / (Math.sqrt(2.4375 / 0.578125) + 0.1)], TOL);
    assertClose(s3![1]!, [122 / 63], TOL);
  });

  it('Adam weight decay is an L2 term in the gradient (so it enters m and v)', () => {
    const [s1] = replay((ps) => new Adam(ps, { ...base, weightDecay: 0.5 }));
    // step 1: g = g1 + 0.5 p = (1.5, 3); m = (0.75, 1.5); v = (0.5625, 2.25); denom = (0.75/0.5 + 0.1, 1.5/0.5 + 0.1) = (1.6, 3.1)
    //   p = (1 - 0.2 * 0.75 / 1.6, 2 - 0.2 * 1.5 / 3.1) = (0.90625, 2 - 0.3/3.1)
    assertClose(s1![0]!, [0.90625], TOL);
    assertClose(s1![1]!, [2 - 0.3 / 3.1], TOL);
  });

  it('float32 parameters keep float32 state', () => {
    const w = d.tensor([1, 2]);
    const opt = new Adam([w], { lr: 0.1, amsgrad: true });
    opt.step(new Map([[w, d.tensor([1, -1])]]));
    assert.equal(w.dtype, 'float32');
    for (const t of Object.values(opt.stateDict().tensors)) assert.equal(t.dtype, 'float32');
    // First Adam step moves each coordinate by about lr against the gradient's sign: g/(|g| + eps).
    assertClose(w, [0.9, 2.1], { atol: 1e-6 });
  });

  it('validates its hyperparameters', () => {
    const w = f64([1]);
    assert.throws(() => new Adam([w], { betas: [1, 0.999] }), /Adam \(param group 0\): betas\[0\] must be in \[0, 1\), got 1/);
    assert.throws(() => new Adam([w], { betas: [0.9, -0.1] }), /betas\[1\] must be in \[0, 1\)/);
    assert.throws(() => new Adam([w], { betas: [0.9] as unknown as [number, number] }), /betas must be a pair/);
    assert.throws(() => new Adam([w], { eps: -1 }), /eps must be a finite number >= 0/);
    assert.throws(() => new Adam([w], { lr: -1e-3 }), /lr must be a finite number > 0, got -0.001/);
    assert.throws(() => new AdamW([w], { weightDecay: NaN }), /AdamW \(param group 0\): weightDecay must be a finite number >= 0, got NaN/);
  });
});

describe('AdamW', () => {
  it('three steps by hand: decoupled decay theta (1 - lr lambda) before the Adam step', () => {
    const [s1, s2, s3] = replay((ps) => new AdamW(ps, { ...base, weightDecay: 0.5 }));
    // The gradients do not see the decay, so m, v and the Adam steps are those of the Adam test:
    //   a1 = (1/11, 2/21), a2 = ((0.1/0.75) 1.75 / (sqrt(2.4375/0.4375) + 0.1), -2/63), a3 = (0.1/(sqrt(1.828125/0.578125) + 0.1), 0)
    // and each step is p <- p (1 - 0.1 * 0.5) - a = 0.95 p - a.
    const a1 = [1 / 11, 2 / 21];
    const a2 = [((0.1 / 0.75) * 1.75) / (Math.sqrt(2.4375 / 0.4375) + 0.1), -2 / 63];
    const a3 = [0.1 / (Math.sqrt(1.828125 / 0.578125) + 0.1), 0];
    // step 1: (0.95 - 1/11, 1.9 - 2/21)
    const p1 = [0.95 * 1 - a1[0]!, 0.95 * 2 - a1[1]!];
    assertClose(s1![0]!, [p1[0]!], TOL);
    assertClose(s1![1]!, [p1[1]!], TOL);
    const p2 = [0.95 * p1[0]! - a2[0]!, 0.95 * p1[1]! - a2[1]!];
    assertClose(s2![0]!, [p2[0]!], TOL);
    assertClose(s2![1]!, [p2[1]!], TOL);
    const p3 = [0.95 * p2[0]! - a3[0]!, 0.95 * p2[1]! - a3[1]!];
    assertClose(s3![0]!, [p3[0]!], TOL);
    assertClose(s3![1]!, [p3[1]!], TOL);
    // Numerically: step 1 is (0.8590909..., 1.8047619...), step 3 (0.6319941958..., 1.6589563492...)
    assertClose(s1![0]!, [0.8590909090909091], TOL);
    assertClose(s3![0]!, [0.6319941958236653], TOL);
    assertClose(s3![1]!, [1.658956349206349], TOL);
  });

  it('differs from Adam with the same weightDecay, and equals Adam when weightDecay is 0', () => {
    const adam = replay((ps) => new Adam(ps, { ...base, weightDecay: 0.5 }));
    const adamw = replay((ps) => new AdamW(ps, { ...base, weightDecay: 0.5 }));
    // step 1: Adam (L2) gives p1 = 0.90625, AdamW gives 0.95 - 1/11 = 0.85909...
    assert.ok(Math.abs(adam[0]![0]!.item() - adamw[0]![0]!.item()) > 0.04);
    const plain = replay((ps) => new Adam(ps, base));
    const w0 = replay((ps) => new AdamW(ps, { ...base, weightDecay: 0 }));
    plain.forEach((s, i) => s.forEach((t, j) => assert.equal(w0[i]![j]!.item(), t.item())));
    assert.equal(new AdamW([f64([1])]).paramGroups[0]!.weightDecay, 1e-2);
    assert.equal(new Adam([f64([1])]).paramGroups[0]!.weightDecay, 0);
  });
});
