/**
 * Per-example rules owned by the ops (ops/table.ts PER_EXAMPLE): a layer defined here, outside
 * src/, built from ops with rules, gets fast per-example gradients with no registration; names,
 * subclasses and direct calls change nothing; and perExamplePlan says per parameter which path
 * was taken and why. All in float64 against the fallback (one backward pass per example).
 */
import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PerExampleLossFn, PerExampleModel } from '../../src/autograd/per-example.js';
import { clippedGradSum, perExampleGradNorms, perExampleGrads, perExamplePlan, perExampleSummary } from '../../src/autograd/per-example.js';
import * as d from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { OP_NAMES, PER_EXAMPLE } from '../../src/ops/table.js';
import { assertClose, flat } from '../helpers.js';

const f64 = { dtype: 'float64' as const };
const ce: PerExampleLossFn = (out, y, o) => nn.crossEntropy(out, y, o);
const mse: PerExampleLossFn = (out, y, o) => nn.mseLoss(out, y, o);
const g = new d.Generator(31);

/**
 * A layer the library does not know: y = (x @ W) * s + c, with W [in, out] (not transposed, unlike
 * Linear), a per-feature scale s and a shift c. Every parameter meets the examples in an op with a
 * rule (matmul with the parameter on the right; broadcast mul; broadcast add).
 */
class ScaledDense extends nn.Module {
  readonly W: d.Tensor;
  readonly s: d.Tensor;
  readonly c: d.Tensor;
  constructor(inF: number, outF: number, seed: number) {
    super();
    const gen = new d.Generator(seed);
    this.W = this.registerParameter('W', d.randn([inF, outF], { ...f64, generator: gen }));
    this.s = this.registerParameter('s', d.randn([outF], { ...f64, generator: gen }));
    this.c = this.registerParameter('c', d.randn([outF], { ...f64, generator: gen }));
  }
  forward(x: d.Tensor): d.Tensor {
    return d.add(d.mul(d.matmul(x, this.W), this.s), this.c);
  }
}

/** Its own embedding: rows of a table gathered by index (indexSelect), then summed over the positions. */
class BagOfRows extends nn.Module {
  readonly table: d.Tensor;
  constructor(n: number, dim: number) {
    super();
    this.table = this.registerParameter('table', d.randn([n, dim], { ...f64, generator: new d.Generator(32) }));
  }
  forward(idx: d.Tensor): d.Tensor {
    const [B, T] = idx.shape as [number, number];
    return d.sum(d.reshape(d.indexSelect(this.table, 0, d.reshape(idx, [-1])), [B, T, -1]), 1);
  }
}

/** y = (x - mu) and y = (a - x), elementwise: the sub rule on either side. */
class Centre extends nn.Module {
  readonly mu = this.registerParameter('mu', d.randn([5], { ...f64, generator: new d.Generator(43) }));
  readonly a = this.registerParameter('a', d.randn([5], { ...f64, generator: new d.Generator(44) }));
  forward(x: d.Tensor): d.Tensor {
    return d.mul(d.sub(x, this.mu), d.sub(this.a, x));
  }
}

/** Fast against fallback for every public function: grads, norms, the summary and the clipped sum. */
function assertFastEqualsFallback(model: PerExampleModel & nn.Module, loss: PerExampleLossFn, x: d.Tensor, y: d.Tensor): void {
  const fast = perExampleGrads(model, loss, x, y);
  const slow = perExampleGrads(model, loss, x, y, { method: 'fallback' });
  assert.deepEqual(fast.fallbackParams, [], JSON.stringify(fast.plan));
  assert.equal(slow.fallbackParams.length, model.parameters().length);
  for (const [name, p] of model.namedParameters()) assertClose(flat(fast.grads.get(p)!), flat(slow.grads.get(p)!), { atol: 1e-10, rtol: 1e-10 }, name);
  const B = x.shape[0]!;
  const normSq = new Array(B).fill(0);
  for (const t of slow.grads.values()) flat(d.sum(d.square(d.reshape(t, [B, -1])), 1)).forEach((v, i) => (normSq[i] += v));
  assertClose(perExampleGradNorms(model, loss, x, y).norms, normSq.map(Math.sqrt), { atol: 1e-10, rtol: 1e-10 });
  const s = perExampleSummary(model, loss, x, y);
  const dots = new Array(B).fill(0);
  for (const p of model.parameters())
    flat(d.sum(d.mul(d.reshape(slow.grads.get(p)!, [B, -1]), d.reshape(s.meanGrads.get(p)!, [1, -1])), 1)).forEach((v, i) => (dots[i] += v));
  assertClose(s.normSq, normSq, { atol: 1e-10, rtol: 1e-10 });
  assertClose(s.dotsWithMean, dots, { atol: 1e-10, rtol: 1e-10 });
  const C = Math.sqrt([...normSq].sort((a, b) => a - b)[B >> 1]!);
  const factors = normSq.map((v) => Math.min(1, C / Math.sqrt(v)));
  const clipped = clippedGradSum(model, loss, x, y, C);
  for (const p of model.parameters()) {
    const expected = d.sum(d.mul(slow.grads.get(p)!, d.reshape(d.tensor(factors, f64), [B, ...p.shape.map(() => 1)])), 0);
    assertClose(flat(clipped.grads.get(p)!), flat(expected), { atol: 1e-10, rtol: 1e-10 });
  }
}

describe('per-example rules owned by the ops', () => {
  it('a layer defined outside src/ gets fast per-example gradients equal to the fallback (grads, norms, summary, clipped sum)', () => {
    const model = new nn.Sequential(new ScaledDense(4, 5, 33), new Centre(), new nn.Tanh(), new ScaledDense(5, 3, 34));
    const x = d.randn([6, 4], { ...f64, generator: g }),
      y = d.tensor([0, 2, 1, 2, 0, 1], { dtype: 'int32' });
    assertFastEqualsFallback(model, ce, x, y);
    // [B, T, in] inputs: the matmul rule sums over T inside each example (Gram-matrix norms).
    assertFastEqualsFallback(new ScaledDense(4, 2, 35), mse, d.randn([5, 3, 4], { ...f64, generator: g }), d.randn([5, 3, 2], { ...f64, generator: g }));
    const bag = new nn.Sequential(new BagOfRows(7, 3), new nn.Linear(3, 2, { ...f64, generator: new d.Generator(36) }));
    const idx = d.tensor(
      [
        [1, 0, 3, 1],
        [2, 2, 2, 0],
        [4, 5, 6, 1],
        [0, 0, 0, 0],
        [6, 1, 6, 1],
      ],
      { dtype: 'int32' },
    );
    assertFastEqualsFallback(bag, mse, idx, d.randn([5, 2], { ...f64, generator: g }));
  });

  it('a subclass, a class whose name a minifier changed, and a layer called by another path stay fast', () => {
    class MyLinear extends nn.Linear {}
    const renamed = new MyLinear(4, 3, { ...f64, generator: new d.Generator(37) });
    Object.defineProperty(MyLinear, 'name', { value: 'a' });
    // Another way in: the Linear's parameters used through the functional op, bypassing its forward.
    const lin = new nn.Linear(3, 2, { ...f64, generator: new d.Generator(38) });
    const model = {
      forward: (x: d.Tensor) => d.linear(d.relu(renamed.forward(x)), lin.weight, lin.bias!),
      parameters: () => [...renamed.parameters(), ...lin.parameters()],
    };
    const x = d.randn([6, 4], { ...f64, generator: g }),
      y = d.randn([6, 2], { ...f64, generator: g });
    const fast = perExampleGrads(model, mse, x, y),
      slow = perExampleGrads(model, mse, x, y, { method: 'fallback' });
    assert.deepEqual(fast.fallbackParams, []);
    for (const p of model.parameters()) assertClose(flat(fast.grads.get(p)!), flat(slow.grads.get(p)!), { atol: 1e-10, rtol: 1e-10 });
  });

  it('perExamplePlan names each parameter, its path and the reason', () => {
    /** logScale reaches the examples only through exp (no rule): the fallback, with that reason. */
    class ExpScale extends nn.Module {
      readonly logScale = this.registerParameter('logScale', d.zeros([4], f64));
      forward(x: d.Tensor): d.Tensor {
        return d.mul(x, d.exp(this.logScale));
      }
    }
    const model = new nn.Sequential(new ExpScale(), new nn.Linear(4, 3, { ...f64, generator: new d.Generator(39) }));
    const x = d.randn([6, 4], { ...f64, generator: g }),
      y = d.randn([6, 3], { ...f64, generator: g });
    assert.deepEqual(perExamplePlan(model, mse, x, y), [
      { name: '0.logScale', shape: [4], path: 'fallback', reason: "fallback: used by op 'exp', which has no per-example rule" },
      { name: '1.weight', shape: [3, 4], path: 'fast', reason: 'fast: matmul rule' },
      { name: '1.bias', shape: [3], path: 'fast', reason: 'fast: add rule' },
    ]);
    assert.deepEqual(
      perExampleGrads(model, mse, x, y).plan.map((e) => e.path),
      ['fallback', 'fast', 'fast'],
    );
    assert.ok(perExamplePlan(model, mse, x, y, { method: 'fallback' }).every((e) => e.reason === "fallback: method 'fallback' was asked for"));
    // A shared layer called twice: its uses add up.
    const shared = new nn.Linear(4, 4, { ...f64, generator: new d.Generator(40) });
    const twice = new nn.Sequential(shared, new nn.Tanh(), shared);
    assert.deepEqual(
      perExamplePlan(twice, mse, x, d.randn([6, 4], { ...f64, generator: g })).map((e) => e.reason),
      ['fast: 2 uses (matmul, matmul rules)', 'fast: 2 uses (add, add rules)'],
    );
    // A parameter the loss never reaches: fast, with zero gradients.
    const extra = new nn.Linear(4, 3, { ...f64, generator: new d.Generator(45) });
    const spare = d.ones([2], f64);
    const unused = { forward: (t: d.Tensor) => extra.forward(t), parameters: () => [...extra.parameters(), spare] };
    const r = perExampleGrads(unused, mse, x, y);
    assert.deepEqual(r.plan[2], { name: 'param 2', shape: [2], path: 'fast', reason: 'fast: not reached by the loss (its gradients are zero)' });
    assert.deepEqual(r.grads.get(spare)!.shape, [6, 2]);
    assert.ok(flat(r.grads.get(spare)!).every((v) => v === 0));
    // A grouped convolution's weight is a stack of matrices, which the matmul rule does not take.
    const grouped = new nn.Conv2d(2, 4, 3, { ...f64, groups: 2, generator: new d.Generator(41) });
    const conv = new nn.Sequential(grouped, new nn.Flatten(), new nn.Linear(64, 3, f64));
    const plan = perExamplePlan(conv, ce, d.randn([3, 2, 6, 6], { ...f64, generator: g }), d.tensor([0, 1, 2], { dtype: 'int32' }));
    assert.match(plan[0]!.reason, /^fallback: matmul: the parameter side has shape \[2, 2, 9\], not a matrix$/);
    assert.deepEqual(
      plan.slice(1).map((e) => e.path),
      ['fast', 'fast', 'fast'],
    );
  });

  it('every op has an entry in the per-example table (a rule or null)', () => {
    assert.deepEqual(Object.keys(PER_EXAMPLE).sort(), [...OP_NAMES].sort());
    assert.deepEqual(OP_NAMES.filter((n) => PER_EXAMPLE[n] !== null).sort(), ['add', 'indexSelect', 'matmul', 'mul', 'sub']);
  });

  it('no instance is patched: the layers have no own forward during or after the pass', () => {
    const model = nn.mlp([4, 5, 3], { ...f64, generator: new d.Generator(42) });
    let seen = false;
    const loss: PerExampleLossFn = (out, y, o) => {
      seen = [...model.namedModules()].every(([, m]) => !Object.hasOwn(m, 'forward'));
      return ce(out, y, o);
    };
    perExampleGrads(model, loss, d.randn([6, 4], { ...f64, generator: g }), d.tensor([0, 2, 1, 2, 0, 1], { dtype: 'int32' }));
    assert.ok(seen);
  });
});
