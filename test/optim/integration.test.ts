import { assertClose } from '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import type { BaseHyper, Optimizer } from '../../src/optim/index.js';
import { Adagrad, Adam, AdamW, CosineAnnealingLR, RMSprop, SGD, clipGradNorm } from '../../src/optim/index.js';

/**
 * f(w) = sum_i c_i (w_i - t_i)^2 over a badly scaled quadratic (curvatures 1 and 10): every
 * optimizer below must bring w within 1e-3 of the minimiser t, in a few hundred steps.
 */
const TARGET = [1, -2, 0.5, 3];
const CURV = [1, 10, 1, 10];

function minimise(make: (w: Tensor) => Optimizer<BaseHyper>, steps: number, anneal: boolean, clip = 0): number[] {
  const w = d.zeros([4], { dtype: 'float64' });
  const t = d.tensor(TARGET, { dtype: 'float64' }),
    c = d.tensor(CURV, { dtype: 'float64' });
  const opt = make(w);
  // Adaptive methods take steps of about lr each near the optimum; annealing lr to 0 lets them settle.
  const sched = anneal ? new CosineAnnealingLR(opt, steps) : null;
  for (let i = 0; i < steps; i++) {
    d.scope(() => {
      const g = d.grad(() => d.sum(d.mul(c, d.square(d.sub(w, t)))), [w]);
      opt.step(clip > 0 ? clipGradNorm(g, clip).grads : g);
    });
    sched?.step();
  }
  return Array.from(w.data);
}

describe('every optimizer minimises a quadratic', () => {
  const cases: [string, (w: Tensor) => Optimizer<BaseHyper>, number, boolean][] = [
    ['SGD', (w) => new SGD([w], { lr: 0.04 }), 300, false],
    ['SGD momentum', (w) => new SGD([w], { lr: 0.02, momentum: 0.9 }), 300, false],
    ['SGD nesterov', (w) => new SGD([w], { lr: 0.02, momentum: 0.9, nesterov: true }), 300, false],
    ['Adam', (w) => new Adam([w], { lr: 0.1 }), 400, true],
    ['Adam amsgrad', (w) => new Adam([w], { lr: 0.1, amsgrad: true }), 400, true],
    ['AdamW (no decay)', (w) => new AdamW([w], { lr: 0.1, weightDecay: 0 }), 400, true],
    ['RMSprop', (w) => new RMSprop([w], { lr: 0.05 }), 400, true],
    ['RMSprop centered momentum', (w) => new RMSprop([w], { lr: 0.01, momentum: 0.9, centered: true }), 400, true],
    ['Adagrad', (w) => new Adagrad([w], { lr: 1 }), 400, false],
  ];
  for (const [name, make, steps, anneal] of cases) {
    it(name, () => {
      assertClose(minimise(make, steps, anneal), TARGET, { atol: 1e-3, rtol: 0 }, name);
    });
  }

  it('SGD with clipped gradients still gets there', () => {
    assertClose(
      minimise((w) => new SGD([w], { lr: 0.04 }), 400, false, 1),
      TARGET,
      { atol: 1e-3, rtol: 0 },
    );
  });

  it('AdamW decays the weights apart from the gradient; Adam adds weight decay to the gradient (one hand-worked step)', () => {
    // theta0 = 1, gradient 0, lr 0.1, weight decay 0.5, betas (0.9, 0.999), eps 1e-8.
    // AdamW: theta1 = theta0 (1 - lr wd) - lr m^/(sqrt(v^) + eps) with m = v = 0: 1 - 0.05 = 0.95.
    // Adam (L2): g = 0 + wd theta0 = 0.5; m^ = 0.5, v^ = 0.25: theta1 = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.9 (+ 2e-9).
    const step = (make: (w: Tensor) => Optimizer<BaseHyper>) => {
      const w = d.tensor([1], { dtype: 'float64' });
      make(w).step(new Map([[w, d.tensor([0], { dtype: 'float64' })]]));
      return w.item();
    };
    assert.ok(Math.abs(step((w) => new AdamW([w], { lr: 0.1, weightDecay: 0.5 })) - 0.95) < 1e-12);
    assert.ok(Math.abs(step((w) => new Adam([w], { lr: 0.1, weightDecay: 0.5 })) - (1 - 0.05 / (0.5 + 1e-8))) < 1e-12);
  });

  it("AdamW's decay pulls the solution toward 0 (so the minimiser moves)", () => {
    const w = minimise((x) => new AdamW([x], { lr: 0.1, weightDecay: 0.5 }), 400, true);
    assert.ok(Math.abs(w[3]!) < 3 - 0.01, `expected |w_4| below 3, got ${w[3]}`);
  });
});
