import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { assertClose } from '../helpers.js';

const F64 = (seed: number) => ({ dtype: 'float64' as const, generator: new d.Generator(seed) });

describe('reverse-mode autodiff', () => {
  it('hand-worked: y = sum(w * x + b)^2 style chain', () => {
    // L = (w*x + b)^2 with w = 3, x = 2, b = 1: u = 7, L = 49; dL/dw = 2u*x = 28, dL/db = 2u = 14
    const w = d.tensor(3, { dtype: 'float64' }),
      b = d.tensor(1, { dtype: 'float64' }),
      x = d.tensor(2, { dtype: 'float64' });
    const { value, grads } = d.valueAndGrad(() => d.square(d.add(d.mul(w, x), b)), [w, b]);
    assert.equal(value.item(), 49);
    assert.equal(grads.get(w).item(), 28);
    assert.equal(grads.get(b).item(), 14);
    assert.equal(value.requiresGrad, false);
  });

  it('a tensor used twice gets the sum of both paths', () => {
    // L = x*x + x: dL/dx = 2x + 1 = 7 at x = 3
    const x = d.tensor(3, { dtype: 'float64' });
    assert.equal(
      d
        .grad(() => d.add(d.mul(x, x), x), [x])
        .get(x)
        .item(),
      7,
    );
  });

  it('broadcast inputs get gradients summed back to their own shape', () => {
    // L = sum(a + b) with a [2,3], b [3]: dL/db_j = 2 (used once per row)
    const a = d.zeros([2, 3]),
      b = d.zeros([3]),
      c = d.zeros([2, 1]);
    const g = d.grad(() => d.sum(d.mul(d.add(a, b), c)), [a, b, c]);
    assert.deepEqual(g.get(b).shape, [3]);
    assert.deepEqual(g.get(c).shape, [2, 1]);
    const g2 = d.grad(() => d.sum(d.add(a, b)), [b]);
    assert.deepEqual(g2.get(b).toArray(), [2, 2, 2]);
  });

  it('returns zeros for tensors the output does not depend on, and a clear error for ones not asked for', () => {
    const x = d.ones([2]),
      y = d.ones([3]);
    const g = d.grad(() => d.sum(x), [x, y]);
    assert.deepEqual(g.get(y).toArray(), [0, 0, 0]);
    assert.throws(() => g.get(d.ones([1])), /no gradient for tensor \[1\] float32: it was not among the tensors asked for/);
    assert.throws(() => d.grad(() => x, [x]), /returned shape \[2\]; differentiate a scalar/);
  });

  it('noGrad and detach cut the graph', () => {
    const x = d.tensor([2], { dtype: 'float64' });
    // L = x * detach(x): the detached factor is a constant, so dL/dx = x = 2 (not 2x = 4)
    assert.deepEqual(
      d
        .grad(() => d.sum(d.mul(x, d.detach(x))), [x])
        .get(x)
        .toArray(),
      [2],
    );
    const g = d.grad(
      () =>
        d.add(
          d.sum(x),
          d.noGrad(() => d.sum(d.mul(x, x))),
        ),
      [x],
    );
    assert.deepEqual(g.get(x).toArray(), [1]);
  });

  it('gradCheck itself fails on a wrong gradient', () => {
    // x * detach(x) has autodiff gradient x but true derivative 2x: the check must say so.
    const r = d.gradCheck((x) => d.mul(x, d.detach(x)), [d.randn([4], F64(1))]);
    assert.equal(r.ok, false);
  });

  it('a chain of 100,000 ops does not overflow the stack', () => {
    const x = d.tensor(1, { dtype: 'float64' });
    const g = d.grad(() => {
      let y: Tensor = x;
      for (let i = 0; i < 100_000; i++) y = d.mul(y, 1.00001);
      return y;
    }, [x]);
    assertClose(g.get(x), 1.00001 ** 100_000, { rtol: 1e-9 });
  });

  it('VJP of a non-scalar output', () => {
    // y = 2x: <v, dy/dx> = 2v
    const x = d.ones([3], { dtype: 'float64' });
    const { grads } = d.vjp(() => d.mul(x, 2), [x], d.tensor([1, 2, 3], { dtype: 'float64' }));
    assert.deepEqual(grads.get(x).toArray(), [2, 4, 6]);
  });
});

describe('the identity behind mini-batches: gradient of the mean loss = mean of per-example gradients', () => {
  it('holds for a two-layer network and a batch of 10, to 1e-12 in float64', () => {
    const W1 = d.randn([4, 3], F64(1)),
      b1 = d.randn([4], F64(2)),
      W2 = d.randn([2, 4], F64(3)),
      b2 = d.randn([2], F64(4));
    const X = d.randn([10, 3], F64(5)),
      Y = d.randn([10, 2], F64(6));
    const params = [W1, b1, W2, b2];
    // per-example loss: squared distance ||f(x_i) - y_i||^2, never negative
    const loss = (x: Tensor, y: Tensor) => d.sum(d.square(d.sub(d.linear(d.tanh(d.linear(x, W1, b1)), W2, b2), y)), -1);
    const batch = d.grad(() => d.mean(loss(X, Y)), params);
    const sums = params.map((p) => d.zerosLike(p));
    for (let i = 0; i < 10; i++) {
      const xi = d.narrow(X, 0, i, 1),
        yi = d.narrow(Y, 0, i, 1);
      const gi = d.grad(() => d.sum(loss(xi, yi)), params);
      params.forEach((p, k) => (sums[k] = d.add(sums[k]!, gi.get(p))));
    }
    params.forEach((p, k) => {
      const meanOfPer = d.div(sums[k]!, 10);
      const diff = d.max(d.abs(d.sub(meanOfPer, batch.get(p)))).item();
      assert.ok(diff <= 1e-12, `parameter ${k}: max difference ${diff}`);
      assert.ok(d.max(d.abs(batch.get(p))).item() > 1e-3, 'gradient is not trivially zero');
    });
  });
});

describe('Hessian-vector products', () => {
  it('match finite differences of the gradient', () => {
    const W = d.randn([3, 3], F64(7));
    const x = d.randn([3], F64(8)),
      v = d.randn([3], F64(9));
    // f(x) = sum(tanh(W x)^2) + sum(x^4)/4
    const f = (y: Tensor) => d.add(d.sum(d.square(d.tanh(d.matmul(W, y)))), d.div(d.sum(d.pow(y, 4)), 4));
    const hv = d.hvp(() => f(x), [x], [v]).get(x);
    const eps = 1e-5;
    const gAt = (y: Tensor) => d.grad(() => f(y), [y]).get(y);
    const fd = d.div(d.sub(gAt(d.add(x, d.mul(v, eps))), gAt(d.sub(x, d.mul(v, eps)))), 2 * eps);
    assertClose(hv, fd.toArray(), { atol: 1e-8, rtol: 1e-6 });
  });

  it('for a quadratic x^T A x equals (A + A^T) v exactly', () => {
    const A = d.tensor(
      [
        [1, 2],
        [0, 3],
      ],
      { dtype: 'float64' },
    );
    const x = d.tensor([0.5, -1], { dtype: 'float64' }),
      v = d.tensor([1, 2], { dtype: 'float64' });
    // (A + A^T) = [[2, 2], [2, 6]]; times v = [6, 14]
    assertClose(d.hvp(() => d.matmul(d.matmul(x, A), x), [x], [v]).get(x), [6, 14]);
  });
});

describe('memory: intermediates are freed without dispose', () => {
  it('valueAndGrad frees everything but its value and gradients', () => {
    const w = d.randn([8, 4]),
      x = d.randn([16, 8]);
    const before = d.memory();
    const { value, grads } = d.valueAndGrad(() => d.mean(d.square(d.relu(d.matmul(x, w)))), [w]);
    const after = d.memory();
    // value (a detached view of the loss) + one gradient
    assert.equal(after.tensors - before.tensors, 2);
    assert.equal(after.bytes - before.bytes, 4 + 8 * 4 * 4);
    assert.equal(value.size + grads.get(w).size, 33);
  });

  it('10,000 training steps of a small model keep the live tensor count and bytes flat', () => {
    const gen = new d.Generator(0);
    const W1 = d.randn([16, 4], { generator: gen, std: 0.5 }),
      b1 = d.zeros([16]);
    const W2 = d.randn([1, 16], { generator: gen, std: 0.5 }),
      b2 = d.zeros([1]);
    const X = d.randn([32, 4], { generator: gen });
    const Y = d.sum(d.mul(X, d.tensor([1, -2, 0.5, 3])), 1, true);
    const params = [W1, b1, W2, b2];
    const step = () =>
      d.scope(() => {
        const { value, grads } = d.valueAndGrad(() => d.mean(d.square(d.sub(d.linear(d.relu(d.linear(X, W1, b1)), W2, b2), Y))), params);
        for (const p of params) p.assign(d.sub(p, d.mul(grads.get(p), 0.01)));
        return value.item();
      });
    const first = step();
    for (let i = 0; i < 100; i++) step();
    const m100 = d.memory();
    let last = 0;
    for (let i = 0; i < 9_900; i++) last = step();
    const m10k = d.memory();
    assert.equal(m10k.tensors, m100.tensors, `live tensors grew from ${m100.tensors} to ${m10k.tensors}`);
    assert.equal(m10k.bytes, m100.bytes, `live bytes grew from ${m100.bytes} to ${m10k.bytes}`);
    assert.ok(last < first * 0.1, `loss fell from ${first} to ${last}`);
    console.log(
      `# memory after 100 steps: ${m100.tensors} tensors, ${m100.bytes} bytes; after 10,000: ${m10k.tensors} tensors, ${m10k.bytes} bytes; loss ${first.toFixed(3)} -> ${last.toFixed(5)}`,
    );
  });
});
