import { assertClose } from '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { SGD } from '../../src/optim/index.js';

const f64 = (v: number[]) => d.tensor(v, { dtype: 'float64' });
const TOL = { atol: 1e-12, rtol: 0 };

/** Gradients of f(w) = w1^2 + 3 w2^2: (2 w1, 6 w2). */
function quadGrads(w1: Tensor, w2: Tensor) {
  return d.grad(() => d.add(d.sum(d.square(w1)), d.mul(d.sum(d.square(w2)), 3)), [w1, w2]);
}

describe('SGD', () => {
  it('plain SGD: theta <- theta - lr g, three steps on f = w1^2 + 3 w2^2', () => {
    const w1 = f64([1]),
      w2 = f64([1]);
    const opt = new SGD([w1, w2], { lr: 0.1 });
    // step 1: g = (2, 6)          -> w = (1 - 0.2, 1 - 0.6)          = (0.8, 0.4)
    // step 2: g = (1.6, 2.4)      -> w = (0.8 - 0.16, 0.4 - 0.24)    = (0.64, 0.16)
    // step 3: g = (1.28, 0.96)    -> w = (0.64 - 0.128, 0.16 - 0.096) = (0.512, 0.064)
    const expected = [
      [0.8, 0.4],
      [0.64, 0.16],
      [0.512, 0.064],
    ];
    for (const [e1, e2] of expected) {
      opt.step(quadGrads(w1, w2));
      assertClose(w1, [e1!], TOL);
      assertClose(w2, [e2!], TOL);
    }
  });

  it('momentum 0.9 with dampening 0.5: the first buffer is g itself, later ones damp g', () => {
    const w1 = f64([1]),
      w2 = f64([1]);
    const opt = new SGD([w1, w2], { lr: 0.1, momentum: 0.9, dampening: 0.5 });
    // step 1: g = (2, 6); b = g = (2, 6) (no dampening on the first step);  w = (1 - 0.2, 1 - 0.6) = (0.8, 0.4)
    opt.step(quadGrads(w1, w2));
    assertClose(w1, [0.8], TOL);
    assertClose(w2, [0.4], TOL);
    // step 2: g = (1.6, 2.4); b = 0.9 (2, 6) + 0.5 (1.6, 2.4) = (2.6, 6.6);  w = (0.8 - 0.26, 0.4 - 0.66) = (0.54, -0.26)
    opt.step(quadGrads(w1, w2));
    assertClose(w1, [0.54], TOL);
    assertClose(w2, [-0.26], TOL);
    // step 3: g = (1.08, -1.56); b = 0.9 (2.6, 6.6) + 0.5 (1.08, -1.56) = (2.88, 5.16);  w = (0.54 - 0.288, -0.26 - 0.516) = (0.252, -0.776)
    opt.step(quadGrads(w1, w2));
    assertClose(w1, [0.252], TOL);
    assertClose(w2, [-0.776], TOL);
  });

  it('nesterov momentum 0.5 with weight decay 0.5: g <- g + lambda w, step along g + mu b', () => {
    const w1 = f64([1]),
      w2 = f64([1]);
    const opt = new SGD([w1, w2], { lr: 0.1, momentum: 0.5, weightDecay: 0.5, nesterov: true });
    // step 1: grad (2, 6); g = grad + 0.5 w = (2.5, 6.5); b = (2.5, 6.5); g + 0.5 b = (3.75, 9.75)
    //         w = (1 - 0.375, 1 - 0.975) = (0.625, 0.025)
    opt.step(quadGrads(w1, w2));
    assertClose(w1, [0.625], TOL);
    assertClose(w2, [0.025], TOL);
    // step 2: grad (1.25, 0.15); g = (1.25 + 0.3125, 0.15 + 0.0125) = (1.5625, 0.1625)
    //         b = 0.5 (2.5, 6.5) + g = (2.8125, 3.4125); g + 0.5 b = (2.96875, 1.86875)
    //         w = (0.625 - 0.296875, 0.025 - 0.186875) = (0.328125, -0.161875)
    opt.step(quadGrads(w1, w2));
    assertClose(w1, [0.328125], TOL);
    assertClose(w2, [-0.161875], TOL);
    // step 3: grad (0.65625, -0.97125); g = (0.65625 + 0.1640625, -0.97125 - 0.0809375) = (0.8203125, -1.0521875)
    //         b = 0.5 (2.8125, 3.4125) + g = (2.2265625, 0.6540625); g + 0.5 b = (1.93359375, -0.72515625)
    //         w = (0.328125 - 0.193359375, -0.161875 + 0.072515625) = (0.134765625, -0.089359375)
    opt.step(quadGrads(w1, w2));
    assertClose(w1, [0.134765625], TOL);
    assertClose(w2, [-0.089359375], TOL);
  });

  it('maximize ascends, and weight decay still pulls toward zero', () => {
    const w = f64([1, -2]);
    const opt = new SGD([w], { lr: 0.1, weightDecay: 0.5, maximize: true });
    // g = -grad + 0.5 w with grad = (3, 4): (-3 + 0.5, -4 - 1) = (-2.5, -5); w - 0.1 g = (1.25, -1.5)
    opt.step(new Map([[w, f64([3, 4])]]));
    assertClose(w, [1.25, -1.5], TOL);
  });

  it('works in float32: the parameter and its momentum buffer stay float32', () => {
    const w = d.tensor([1, 2]);
    const opt = new SGD([w], { lr: 0.5, momentum: 0.5 });
    opt.step(new Map([[w, d.tensor([1, 1])]]));
    opt.step(new Map([[w, d.tensor([1, 1])]]));
    // b1 = 1, w = (0.5, 1.5); b2 = 0.5 + 1 = 1.5, w = (0.5 - 0.75, 1.5 - 0.75) = (-0.25, 0.75): exact in float32
    assert.equal(w.dtype, 'float32');
    assert.deepEqual(Array.from(w.data), [-0.25, 0.75]);
    assert.equal(opt.stateDict().tensors['state.0.momentumBuffer']!.dtype, 'float32');
  });

  it('validates its hyperparameters as PyTorch does', () => {
    const w = f64([1]);
    assert.throws(() => new SGD([w], { lr: 0.1, nesterov: true }), /Nesterov momentum requires momentum > 0 and dampening = 0, got momentum 0/);
    assert.throws(() => new SGD([w], { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 }), /Nesterov momentum requires/);
    assert.throws(() => new SGD([w], { lr: 0 }), /SGD \(param group 0\): lr must be a finite number > 0, got 0/);
    assert.throws(() => new SGD([w], { lr: NaN }), /lr must be a finite number > 0, got NaN/);
    assert.throws(() => new SGD([w], { lr: Infinity }), /lr must be a finite number > 0/);
    assert.throws(() => new SGD([w], { lr: 0.1, momentum: -0.5 }), /momentum must be a finite number >= 0, got -0.5/);
    assert.throws(() => new SGD([w], { lr: 0.1, weightDecay: -1 }), /weightDecay must be a finite number >= 0/);
    assert.throws(() => new SGD([w], undefined as unknown as { lr: number }), /lr has no default/);
  });

  it('the fused kernel (Backend.sgdStep) gives the same bits as the composed ops, state dict included', () => {
    const b = d.getBackend() as { sgdStep?: unknown };
    const saved = b.sgdStep;
    assert.ok(saved, 'the backend under test has sgdStep');
    const cases = [
      { momentum: 0 },
      { momentum: 0.9 },
      { momentum: 0.8, dampening: 0.25, weightDecay: 0.01, maximize: true },
      { momentum: 0.9, nesterov: true, weightDecay: 1e-3 },
    ];
    for (const hyper of cases) {
      const run = (fused: boolean) => {
        b.sgdStep = fused ? saved : undefined;
        try {
          d.manualSeed(3);
          const w = d.randn([37, 5]),
            v = d.randn([5]);
          const opt = new SGD([w, v], { lr: 0.05, ...hyper });
          for (let s = 0; s < 4; s++) {
            const g = d.grad(() => d.sum(d.square(d.sub(d.matmul(d.randn([7, 37]), w), v))), [w, v]);
            opt.step(g);
          }
          const st = opt.stateDict();
          const buffers = Object.entries(st.tensors).map(([k, t]) => [k, t.toArray()]);
          assert.equal(buffers.length, hyper.momentum === 0 ? 0 : 2);
          return [w.toArray(), v.toArray(), buffers, JSON.stringify(st.meta)];
        } finally {
          b.sgdStep = saved;
        }
      };
      assert.deepEqual(run(true), run(false), JSON.stringify(hyper));
    }
  });
});
