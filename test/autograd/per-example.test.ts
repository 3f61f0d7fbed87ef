/** Per-example gradients: fast rules and the fallback against one-example-at-a-time backward passes (float64). */
import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clippedGradSum, perExampleGradNorms, perExampleGrads, perExampleSummary } from '../../src/autograd/per-example.js';
import type { PerExampleLossFn } from '../../src/autograd/per-example.js';
import * as d from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { assertClose, flat } from '../helpers.js';

const f64 = { dtype: 'float64' as const };
const ce: PerExampleLossFn = (out, y, o) => nn.crossEntropy(out, y, o);
const mse: PerExampleLossFn = (out, y, o) => nn.mseLoss(out, y, o);

/** Reference: example i alone through the model, one backward pass each. */
function loopGrads(model: nn.Module, loss: PerExampleLossFn, x: d.Tensor, y: d.Tensor): { losses: number[]; grads: Map<d.Tensor, number[][]> } {
  const B = x.shape[0]!;
  const params = model.parameters();
  const grads = new Map(params.map((p) => [p, [] as number[][]]));
  const losses: number[] = [];
  for (let i = 0; i < B; i++) {
    const xi = d.narrow(x, 0, i, 1),
      yi = d.narrow(y, 0, i, 1);
    const r = d.valueAndGrad(() => d.sum(loss(model.forward(xi), yi, { reduction: 'none' })), params);
    losses.push(r.value.item());
    for (const p of params) grads.get(p)!.push(flat(r.grads.get(p)));
  }
  return { losses, grads };
}

function assertMatchesLoop(model: nn.Module, loss: PerExampleLossFn, x: d.Tensor, y: d.Tensor, method: 'auto' | 'fallback' = 'auto'): d.Tensor[] {
  const B = x.shape[0]!;
  const ref = loopGrads(model, loss, x, y);
  const pe = perExampleGrads(model, loss, x, y, { method });
  assertClose(pe.losses, ref.losses, { atol: 1e-12, rtol: 1e-12 });
  for (const [name, p] of model.namedParameters()) {
    const g = pe.grads.get(p)!;
    assert.deepEqual(g.shape, [B, ...p.shape], name);
    const rows = flat(d.reshape(g, [B, -1]));
    assertClose(rows, ref.grads.get(p)!.flat(), { atol: 1e-10, rtol: 1e-10 }, `${method} ${name}`);
  }
  return pe.fallbackParams;
}

/**
 * y = x * exp(logScale) + shift (elementwise): logScale reaches the examples only through exp,
 * an op with no per-example rule, so it takes the fallback; shift meets them in a broadcast add
 * (a rule), so it is fast.
 */
class ScaleShift extends nn.Module {
  readonly scale: d.Tensor;
  readonly shift: d.Tensor;
  constructor(n: number) {
    super();
    this.scale = this.registerParameter('scale', d.randn([n], { ...f64, generator: new d.Generator(5) }));
    this.shift = this.registerParameter('shift', d.randn([n], { ...f64, generator: new d.Generator(6) }));
  }
  forward(x: d.Tensor): d.Tensor {
    return d.add(d.mul(x, d.exp(this.scale)), this.shift);
  }
}

/** Averages the batch into every example: a layer that mixes examples. */
class BatchMixer extends nn.Module {
  readonly mixesExamples = true;
  forward(x: d.Tensor): d.Tensor {
    return d.sub(x, d.mean(x, 0, true));
  }
}
/** Named like the library's BatchNorm1d but declares nothing and mixes nothing: names decide nothing. */
class BatchNorm1d extends nn.Module {
  forward(x: d.Tensor): d.Tensor {
    return x;
  }
}

/** Ties one weight into two places: a Linear and an extra product outside the Linear. */
class Tied extends nn.Module {
  readonly lin = this.registerModule('lin', new nn.Linear(3, 3, { ...f64, generator: new d.Generator(8) }));
  forward(x: d.Tensor): d.Tensor {
    return d.matmul(d.tanh(this.lin.forward(x)), this.lin.weight);
  }
}

const g = new d.Generator(1);
const X = d.randn([6, 4], { ...f64, generator: g });
const Yc = d.tensor([0, 2, 1, 2, 0, 1], { dtype: 'int32' });

describe('perExampleGrads', () => {
  it('Linear fast path equals one-example-at-a-time backward passes (MLP, cross-entropy)', () => {
    const model = nn.mlp([4, 5, 3], { activation: 'tanh', ...f64, generator: new d.Generator(2) });
    assert.deepEqual(assertMatchesLoop(model, ce, X, Yc), [], 'every parameter took the fast path');
  });

  it('the generic fallback equals the loop too, for everything and for a layer without a rule', () => {
    const model = nn.mlp([4, 5, 3], { activation: 'tanh', ...f64, generator: new d.Generator(2) });
    assert.equal(assertMatchesLoop(model, ce, X, Yc, 'fallback').length, 4);
    const mixed = new nn.Sequential(
      new ScaleShift(4),
      new nn.Linear(4, 3, { ...f64, generator: new d.Generator(3) }),
      new nn.Sigmoid(),
      new nn.Linear(3, 2, { ...f64, generator: new d.Generator(4) }),
    );
    const first = mixed.at(0) as ScaleShift;
    assert.deepEqual(assertMatchesLoop(mixed, mse, X, d.randn([6, 2], { ...f64, generator: g })), [first.scale]);
  });

  it('handles Linear on [B, T, in] inputs (sum over T inside each example), no bias, and weight tying', () => {
    const seq = new nn.Sequential(
      new nn.Linear(4, 3, { ...f64, generator: new d.Generator(9), bias: false }),
      new nn.GELU(),
      new nn.Linear(3, 2, { ...f64, generator: new d.Generator(10) }),
    );
    const x3 = d.randn([5, 7, 4], { ...f64, generator: g });
    const y3 = d.randn([5, 7, 2], { ...f64, generator: g });
    assert.deepEqual(assertMatchesLoop(seq, mse, x3, y3), []);
    assertClippedSum(seq, mse, x3, y3);
    // The tied weight is also used by a matmul outside the Linear: both uses have the matmul rule, and they add up.
    const tied = new Tied();
    assert.deepEqual(assertMatchesLoop(tied, mse, d.narrow(X, 1, 0, 3), d.randn([6, 3], { ...f64, generator: g })), []);
  });

  it('their mean over the batch is the gradient of the mean loss', () => {
    const model = nn.mlp([4, 8, 3], { activation: 'relu', ...f64, generator: new d.Generator(11) });
    const pe = perExampleGrads(model, ce, X, Yc);
    const batch = d.grad(() => nn.crossEntropy(model.forward(X), Yc), model.parameters());
    for (const p of model.parameters()) assertClose(d.mean(pe.grads.get(p)!, 0), batch.get(p).toArray() as number[], { atol: 1e-10, rtol: 0 });
  });

  it('refuses layers that mix examples, suggesting GroupNorm/LayerNorm, and losses that are not per-example', () => {
    const mixer = new nn.Sequential(new nn.Linear(4, 3, f64), new BatchMixer());
    assert.throws(
      () => perExampleGrads(mixer, mse, X, d.zeros([6, 3], f64)),
      /perExampleGrads: layer '1' \(BatchMixer\) mixes the examples.*undefined.*GroupNorm or LayerNorm/,
    );
    // A layer is refused for what it declares, not for its class name.
    const named = new nn.Sequential(new BatchNorm1d(), new nn.Linear(4, 3, f64));
    assert.equal(perExampleGradNorms(named, mse, X, d.zeros([6, 3], f64)).norms.shape[0], 6);
    const meanOnly = ((out: d.Tensor, y: d.Tensor) => nn.mseLoss(out, y)) as PerExampleLossFn;
    assert.throws(
      () => perExampleGrads(new nn.Linear(4, 3, f64), meanOnly, X, d.zeros([6, 3], f64)),
      /the loss returned \[\] for a batch of 6; it must accept \{ reduction: 'none' \}/,
    );
  });

  it('leaves the model as it was (no forward wrappers remain) and frees the graph', () => {
    const model = nn.mlp([4, 5, 3], { ...f64, generator: new d.Generator(2) });
    const before = d.memory().tensors;
    const { grads } = perExampleGrads(model, ce, X, Yc);
    for (const [, m] of model.namedModules()) assert.equal(Object.hasOwn(m, 'forward'), false);
    // what is alive afterwards: the losses and one gradient per parameter
    assert.equal(d.memory().tensors - before, 1 + grads.size);
  });
});

describe('perExampleGradNorms', () => {
  it('equal the norms of the materialised per-example gradients (fast T = 1, Gram T > 1, fallback)', () => {
    const cases: [nn.Module, PerExampleLossFn, d.Tensor, d.Tensor][] = [
      [nn.mlp([4, 5, 3], { ...f64, generator: new d.Generator(2) }), ce, X, Yc],
      [
        new nn.Sequential(new nn.Linear(4, 3, { ...f64, generator: new d.Generator(9) }), new nn.Tanh(), new nn.Linear(3, 2, f64)),
        mse,
        d.randn([5, 7, 4], { ...f64, generator: g }),
        d.randn([5, 7, 2], { ...f64, generator: g }),
      ],
      [new nn.Sequential(new ScaleShift(4), new nn.Linear(4, 2, f64)), mse, X, d.randn([6, 2], { ...f64, generator: g })],
      [new Tied(), mse, d.narrow(X, 1, 0, 3), d.randn([6, 3], { ...f64, generator: g })],
    ];
    for (const [model, loss, x, y] of cases) {
      const B = x.shape[0]!;
      const { grads } = perExampleGrads(model, loss, x, y);
      const expected = new Array(B).fill(0);
      for (const gr of grads.values()) flat(d.sum(d.reshape(d.square(gr), [B, -1]), 1)).forEach((v, i) => (expected[i] += v));
      const { norms } = perExampleGradNorms(model, loss, x, y);
      assertClose(norms, expected.map(Math.sqrt), { atol: 1e-10, rtol: 1e-10 });
    }
  });
});

describe('clippedGradSum', () => {
  it('equals the sum of the clipped materialised per-example gradients, without forming them', () => {
    const model = new nn.Sequential(new ScaleShift(4), new nn.Linear(4, 5, f64), new nn.ReLU(), new nn.Linear(5, 3, f64));
    const { grads } = perExampleGrads(model, ce, X, Yc);
    const B = 6;
    const normSq = new Array(B).fill(0);
    for (const gr of grads.values()) flat(d.sum(d.reshape(d.square(gr), [B, -1]), 1)).forEach((v, i) => (normSq[i] += v));
    const C = Math.sqrt(normSq.slice().sort((a, b) => a - b)[3]!); // the median-ish norm: some are clipped, some not
    const factors = normSq.map((s) => Math.min(1, C / Math.sqrt(s)));
    assert.ok(factors.some((f) => f < 1) && factors.some((f) => f === 1));
    const r = clippedGradSum(model, ce, X, Yc, C);
    assertClose(r.norms, normSq.map(Math.sqrt), { atol: 1e-10, rtol: 1e-10 });
    for (const p of model.parameters()) {
      const expected = d.sum(d.mul(grads.get(p)!, d.reshape(d.tensor(factors, f64), [B, ...p.shape.map(() => 1)])), 0);
      assertClose(r.grads.get(p)!, expected.toArray() as number[], { atol: 1e-10, rtol: 1e-10 });
    }
  });
});

describe('perExampleSummary', () => {
  it('gives the mean gradient, ||g_i||^2 and <g_i, G_hat> as the materialised gradients do (fast, twice-called and fallback layers)', () => {
    const shared = new nn.Linear(4, 4, { ...f64, generator: new d.Generator(12) });
    // `shared` is called twice in one forward pass: its rule sums both calls' contributions.
    const model = new nn.Sequential(new ScaleShift(4), shared, new nn.Tanh(), shared, new nn.Linear(4, 3, { ...f64, generator: new d.Generator(13) }));
    const B = 6;
    const pe = perExampleGrads(model, ce, X, Yc);
    assert.deepEqual(pe.fallbackParams.length, 1);
    const s = perExampleSummary(model, ce, X, Yc);
    const batch = d.grad(() => nn.crossEntropy(model.forward(X), Yc), model.parameters());
    const normSq = new Array(B).fill(0),
      dots = new Array(B).fill(0);
    for (const p of model.parameters()) {
      assertClose(s.meanGrads.get(p)!, batch.get(p).toArray() as number[], { atol: 1e-12, rtol: 0 });
      const rows = d.reshape(pe.grads.get(p)!, [B, -1]);
      flat(d.sum(d.square(rows), 1)).forEach((v, i) => (normSq[i] += v));
      flat(d.sum(d.mul(rows, d.reshape(batch.get(p), [1, -1])), 1)).forEach((v, i) => (dots[i] += v));
    }
    assertClose(s.normSq, normSq, { atol: 1e-10, rtol: 1e-10 });
    assertClose(s.dotsWithMean, dots, { atol: 1e-10, rtol: 1e-10 });
    assertMatchesLoop(model, ce, X, Yc);
    assertClippedSum(model, ce, X, Yc);
  });
});

/** clippedGradSum against clipping the materialised per-example gradients, with about half of them clipped. */
function assertClippedSum(model: nn.Module, loss: PerExampleLossFn, x: d.Tensor, y: d.Tensor): void {
  const B = x.shape[0]!;
  const { grads } = perExampleGrads(model, loss, x, y);
  const normSq = new Array(B).fill(0);
  for (const gr of grads.values()) flat(d.sum(d.reshape(d.square(gr), [B, -1]), 1)).forEach((v, i) => (normSq[i] += v));
  const C = Math.sqrt([...normSq].sort((a, b) => a - b)[B >> 1]!);
  const factors = normSq.map((s) => Math.min(1, C / Math.sqrt(s)));
  const r = clippedGradSum(model, loss, x, y, C);
  for (const p of model.parameters()) {
    const expected = d.sum(d.mul(grads.get(p)!, d.reshape(d.tensor(factors, f64), [B, ...p.shape.map(() => 1)])), 0);
    assertClose(r.grads.get(p)!, expected.toArray() as number[], { atol: 1e-10, rtol: 1e-10 });
  }
}

describe('perExampleGrads: Embedding, LayerNorm and Conv2d fast rules', () => {
  const idx = d.tensor(
    [
      [1, 0, 3, 1],
      [2, 2, 2, 0],
      [4, 5, 6, 1],
      [0, 0, 0, 0],
      [6, 1, 6, 1],
    ],
    { dtype: 'int32' },
  ); // repeats and padding (0)
  const t5 = () => d.randn([5, 2], { ...f64, generator: g });

  it('Embedding (with and without a padding index, [B, T] and [B] indices) equals the loop, with no fallback', () => {
    for (const paddingIdx of [undefined, 0]) {
      const model = new nn.Sequential(
        new nn.Embedding(7, 3, { ...f64, paddingIdx, generator: new d.Generator(14) }),
        new nn.Flatten(),
        new nn.Linear(12, 2, { ...f64, generator: new d.Generator(15) }),
      );
      assert.deepEqual(assertMatchesLoop(model, mse, idx, t5()), [], `paddingIdx ${paddingIdx}`);
      const { grads } = perExampleGrads(model, mse, idx, t5());
      if (paddingIdx === 0)
        assert.ok(
          flat(d.narrow(grads.get(model.parameters()[0]!)!, 1, 0, 1)).every((v) => v === 0),
          'no gradient reaches the padding row',
        );
      assertClippedSum(model, mse, idx, t5());
    }
    const flatIdx = d.tensor([3, 1, 3, 0, 2], { dtype: 'int32' });
    const one = new nn.Sequential(new nn.Embedding(5, 3, { ...f64, generator: new d.Generator(16) }), new nn.Tanh(), new nn.Linear(3, 2, f64));
    assert.deepEqual(assertMatchesLoop(one, mse, flatIdx, t5()), []);
  });

  it('LayerNorm affine parameters ([B, F] and [B, T, F] inputs, with and without bias) equal the loop', () => {
    const withBias = new nn.LayerNorm(6, f64);
    withBias.weight!.assign(d.randn([6], { ...f64, generator: g }));
    withBias.bias!.assign(d.randn([6], { ...f64, generator: g }));
    const model = new nn.Sequential(new nn.Linear(4, 6, { ...f64, generator: new d.Generator(17) }), withBias, new nn.Tanh(), new nn.Linear(6, 3, f64));
    assert.deepEqual(assertMatchesLoop(model, ce, X, Yc), []);
    assertClippedSum(model, ce, X, Yc);
    const seq = new nn.Sequential(
      new nn.Linear(4, 6, { ...f64, generator: new d.Generator(18) }),
      new nn.LayerNorm(6, { ...f64, bias: false }),
      new nn.Linear(6, 2, f64),
    );
    assert.deepEqual(assertMatchesLoop(seq, mse, d.randn([5, 3, 4], { ...f64, generator: g }), d.randn([5, 3, 2], { ...f64, generator: g })), []);
  });

  it('Conv2d via the unfolded input (stride, padding, no bias) equals the loop; the GroupNorm affine and a grouped convolution bias are fast, its weight takes the fallback', () => {
    const model = new nn.Sequential(
      new nn.Conv2d(2, 3, 3, { ...f64, padding: 1, stride: 2, generator: new d.Generator(19) }),
      new nn.ReLU(),
      new nn.Conv2d(3, 2, 2, { ...f64, bias: false, generator: new d.Generator(20) }),
      new nn.Flatten(),
      new nn.Linear(8, 3, f64),
    );
    const x = d.randn([4, 2, 6, 6], { ...f64, generator: g });
    const y = d.tensor([0, 2, 1, 1], { dtype: 'int32' });
    assert.deepEqual(assertMatchesLoop(model, ce, x, y), []);
    assertClippedSum(model, ce, x, y);
    const grouped = new nn.Conv2d(2, 4, 3, { ...f64, groups: 2, generator: new d.Generator(21) });
    const gn = new nn.GroupNorm(2, 4, f64);
    const other = new nn.Sequential(grouped, gn, new nn.Flatten(), new nn.Linear(64, 3, f64));
    assert.deepEqual(assertMatchesLoop(other, ce, x, y), [grouped.weight]);
    const norms = perExampleGradNorms(model, ce, x, y).norms;
    const pe = perExampleGrads(model, ce, x, y).grads;
    const expected = [0, 1, 2, 3].map((i) => Math.sqrt([...pe.values()].reduce((s, t) => s + d.sum(d.square(d.narrow(t, 0, i, 1))).item(), 0)));
    assertClose(norms, expected, { atol: 1e-10, rtol: 1e-10 });
  });

  it('BatchNorm, the library layer, is refused with the reason', () => {
    const bn = new nn.Sequential(new nn.Linear(4, 3, f64), new nn.BatchNorm1d(3, f64));
    assert.throws(
      () => perExampleGrads(bn, mse, X, d.zeros([6, 3], f64)),
      /layer '1' \(BatchNorm1d\) mixes the examples of a batch.*per-example gradients are undefined there; use GroupNorm or LayerNorm/,
    );
    // In eval mode with running statistics it normalises each example by fixed numbers: allowed (fallback).
    bn.eval();
    const target = d.randn([6, 3], { ...f64, generator: g });
    assert.equal(assertMatchesLoop(bn, mse, X, target).length, 2);
  });
});
