/** One-pass SGD-momentum and Adam updates: the Wasm kernels against the same equations in a plain loop. */
import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adamStep, sgdStep } from '../../src/backend/wasm/index.js';
import { Generator } from '../../src/index.js';
import { assertSame, pair, randomValues } from './kernels.js';

const g = new Generator(5);

describe('fused optimizer updates', () => {
  it('SGD: momentum, dampening, weight decay, nesterov and the first step agree bit for bit (lengths 1..1023, NaN, +-Infinity, +-0 and subnormals included)', () => {
    for (const n of [1, 7, 33, 257, 1023]) {
      for (const o of [
        { lr: 0.1 },
        { lr: 0.05, momentum: 0.9, first: true },
        { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2 },
        { lr: 0.01, momentum: 0.8, nesterov: true },
      ]) {
        const [pj, pw] = pair('float32', randomValues(g, n, true)),
          [gj, gw] = pair('float32', randomValues(g, n, true)),
          [vj, vw] = pair('float32', randomValues(g, n, true));
        sgdStep(pj, gj, vj, o); // js storages: the plain loop
        sgdStep(pw, gw, vw, o); // wasm storages: the SIMD kernel
        assertSame(pw.data, pj.data, `sgd param n=${n} ${JSON.stringify(o)}`);
        assertSame(vw.data, vj.data, `sgd velocity n=${n}`);
        assertSame(gw.data, gj.data, 'the gradient is not modified');
      }
    }
  });

  it('SGD by hand: p = 1, g = 0.5, v = 2, momentum 0.9, lr 0.1: v = 0.9*2 + 0.5 = 2.3, p = 1 - 0.23 = 0.77', () => {
    const [, p] = pair('float32', [1]),
      [, gr] = pair('float32', [0.5]),
      [, v] = pair('float32', [2]);
    sgdStep(p, gr, v, { lr: 0.1, momentum: 0.9 });
    assert.equal(v.data[0], Math.fround(2.3));
    assert.equal(p.data[0], Math.fround(1 - Math.fround(Math.fround(0.1) * Math.fround(2.3))));
  });

  it('Adam and AdamW agree with the loop bit for bit over three steps (NaN, +-Infinity, +-0 and subnormals included)', () => {
    for (const decoupled of [false, true])
      for (const n of [1, 7, 33, 257]) {
        const [pj, pw] = pair('float32', randomValues(g, n, true)),
          [mj, mw] = pair('float32', new Float64Array(n)),
          [vj, vw] = pair('float32', new Float64Array(n));
        for (let step = 1; step <= 3; step++) {
          const [gj, gw] = pair('float32', randomValues(g, n, true));
          const o = { lr: 1e-3, weightDecay: 0.01, decoupled, step };
          adamStep(pj, gj, mj, vj, o);
          adamStep(pw, gw, mw, vw, o);
          assertSame(pw.data, pj.data, `adam decoupled=${decoupled} step ${step}`);
          assertSame(mw.data, mj.data, 'first moment');
          assertSame(vw.data, vj.data, 'second moment');
        }
      }
  });

  it('Adam by hand, first step: m = 0.1 g, v = 0.001 g^2, so the step is lr * g/|g| (eps aside)', () => {
    // mhat = m/(1-0.9) = g, vhat = v/(1-0.999) = g^2: p = 1 - 0.01 * 0.5/(0.5 + 1e-8)
    const [, p] = pair('float32', [1]),
      [, gr] = pair('float32', [0.5]),
      [, m] = pair('float32', [0]),
      [, v] = pair('float32', [0]);
    adamStep(p, gr, m, v, { lr: 0.01, step: 1 });
    assert.ok(Math.abs(p.data[0]! - 0.99) < 1e-6, `${p.data[0]}`);
    assert.throws(() => adamStep(p, gr, m, v, { lr: 0.01, step: 0 }), /step must be an integer >= 1/);
  });
});
