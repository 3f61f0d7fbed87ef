/** Regression, binary, divergence and hinge losses: hand-worked values, reductions, gradients. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { assertClose, flat } from '../helpers.js';

const f64 = (v: number[] | number[][]) => d.tensor(v, { dtype: 'float64' });
const TIGHT = { atol: 1e-12, rtol: 1e-12 };

describe('regression losses (hand-worked)', () => {
  // input [[1, 2], [3, 4]], target [[1, 0], [0, 4]]: differences [[0, 2], [3, 0]]
  const x = f64([
      [1, 2],
      [3, 4],
    ]),
    y = f64([
      [1, 0],
      [0, 4],
    ]);

  it('mseLoss: per example the mean of squares over the non-batch axis', () => {
    // squares [[0, 4], [9, 0]] -> per example [2, 4.5]; sum 6.5; mean 3.25 (= (0+4+9+0)/4)
    assert.deepEqual(nn.mseLoss(x, y, { reduction: 'none' }).toArray(), [2, 4.5]);
    assert.equal(nn.mseLoss(x, y, { reduction: 'sum' }).item(), 6.5);
    assert.equal(nn.mseLoss(x, y).item(), 3.25);
    // 1-D inputs: one element per example, as PyTorch
    assert.deepEqual(nn.mseLoss(f64([1, 3]), f64([0, 0]), { reduction: 'none' }).toArray(), [1, 9]);
  });

  it('l1Loss', () => {
    // |d| = [[0, 2], [3, 0]] -> per example [1, 1.5]; sum 2.5; mean 1.25
    assert.deepEqual(nn.l1Loss(x, y, { reduction: 'none' }).toArray(), [1, 1.5]);
    assert.equal(nn.l1Loss(x, y, { reduction: 'sum' }).item(), 2.5);
    assert.equal(nn.l1Loss(x, y).item(), 1.25);
  });

  it('huberLoss: quadratic below delta, linear above', () => {
    const a = f64([0, 0.5, 3, -2]),
      z = f64([0, 0, 0, 0]);
    // delta 1: 0; 0.5 * 0.25 = 0.125; 1 (3 - 0.5) = 2.5; 1 (2 - 0.5) = 1.5 -> mean 4.125 / 4
    assertClose(nn.huberLoss(a, z, { reduction: 'none' }), [0, 0.125, 2.5, 1.5], TIGHT);
    assertClose(nn.huberLoss(a, z).item(), 1.03125, TIGHT);
    // delta 2: 0; 0.125; 2 (3 - 1) = 4; |d| = 2 is not < 2: 2 (2 - 1) = 2 (= 0.5 * 4, continuous)
    assertClose(nn.huberLoss(a, z, { delta: 2, reduction: 'none' }), [0, 0.125, 4, 2], TIGHT);
    assert.throws(() => nn.huberLoss(a, z, { delta: 0 }), /huberLoss: delta must be > 0, got 0/);
  });

  it('smoothL1Loss: huber / beta; beta = 0 is L1', () => {
    const a = f64([0, 0.5, 3, -2]),
      z = f64([0, 0, 0, 0]);
    // beta 2: 0.5 * 0.25 / 2 = 0.0625; 3 - 1 = 2; 2 - 1 = 1
    assertClose(nn.smoothL1Loss(a, z, { beta: 2, reduction: 'none' }), [0, 0.0625, 2, 1], TIGHT);
    assertClose(nn.smoothL1Loss(a, z, { reduction: 'none' }), [0, 0.125, 2.5, 1.5], TIGHT);
    assertClose(nn.smoothL1Loss(a, z, { beta: 0, reduction: 'none' }), [0, 0.5, 3, 2], TIGHT);
  });

  it('checks shapes, dtypes and the reduction name', () => {
    assert.throws(() => nn.mseLoss(d.ones([4, 1]), d.ones([4])), /mseLoss: input \[4, 1\] float32 and target \[4\] float32 must have the same shape and dtype/);
    assert.throws(() => nn.l1Loss(d.ones([4]), d.ones([4], { dtype: 'float64' })), /l1Loss: .*same shape and dtype/);
    assert.throws(() => nn.mseLoss(d.ones([4]), d.ones([4]), { reduction: 'avg' as 'mean' }), /mseLoss: reduction must be 'mean', 'sum', 'none', got "avg"/);
  });
});

describe('binary losses (hand-worked)', () => {
  it('binaryCrossEntropy, with logs clamped at -100', () => {
    // p = 0.5, y = 1: -log 0.5 = ln 2; p = 0.9, y = 0: -log 0.1; p = 0, y = 0: 0 (the clamped log is multiplied by 0)
    const p = f64([0.5, 0.9, 0]),
      y = f64([1, 0, 0]);
    assertClose(nn.binaryCrossEntropy(p, y, { reduction: 'none' }), [Math.LN2, Math.log(10), 0], TIGHT);
    // weight rescales elementwise: [2 ln 2, ln 10, 0]
    assertClose(nn.binaryCrossEntropy(p, y, { weight: f64([2, 1, 1]), reduction: 'none' }), [2 * Math.LN2, Math.log(10), 0], TIGHT);
    // certain and wrong: -max(log 0, -100) = 100, in both dtypes, with finite gradients
    const q = f64([0, 1]),
      t = f64([1, 0]);
    assert.deepEqual(nn.binaryCrossEntropy(q, t, { reduction: 'none' }).toArray(), [100, 100]);
    assert.deepEqual(nn.binaryCrossEntropy(d.tensor([0, 1]), d.tensor([1, 0]), { reduction: 'none' }).toArray(), [100, 100]);
    assert.ok(flat(d.grad(() => nn.binaryCrossEntropy(q, t), [q]).get(q)).every(Number.isFinite));
  });

  it('binaryCrossEntropyWithLogits: max(x, 0) - x y + log(1 + e^-|x|)', () => {
    const x = f64([0, 2, -3]),
      y = f64([1, 0, 1]);
    // x = 0, y = 1: log 2; x = 2, y = 0: 2 + log(1 + e^-2); x = -3, y = 1: 0 + 3 + log(1 + e^-3)
    const expected = [Math.LN2, 2 + Math.log1p(Math.exp(-2)), 3 + Math.log1p(Math.exp(-3))];
    assertClose(nn.binaryCrossEntropyWithLogits(x, y, { reduction: 'none' }), expected, TIGHT);
    // the same as binaryCrossEntropy of sigmoid(x)
    assertClose(nn.binaryCrossEntropy(d.sigmoid(x), y, { reduction: 'none' }), expected, { atol: 1e-12 });
    // posWeight 3 multiplies the positive term -y log sigmoid(x) = y softplus(-x): [3 ln 2, unchanged, 3 (3 + log(1 + e^-3))]
    assertClose(nn.binaryCrossEntropyWithLogits(x, y, { posWeight: f64([3]), reduction: 'none' }), [3 * expected[0]!, expected[1]!, 3 * expected[2]!], TIGHT);
    assertClose(
      nn.binaryCrossEntropyWithLogits(x, y, { weight: f64([1, 0.5, 2]), reduction: 'none' }),
      [expected[0]!, expected[1]! / 2, 2 * expected[2]!],
      TIGHT,
    );
    // huge logits stay finite: x = 1000, y = 0 costs 1000; x = -1000, y = 0 costs 0
    assertClose(nn.binaryCrossEntropyWithLogits(f64([1000, -1000]), f64([0, 0]), { reduction: 'none' }), [1000, 0], TIGHT);
  });

  it('hingeLoss: max(0, 1 - y s)', () => {
    // 1 - y s = [1 - 2, 1 - 0.5, 1 + 1, 1 - 0.5] = [-1, 0.5, 2, 0.5] -> [0, 0.5, 2, 0.5], mean 0.75
    const s = f64([2, 0.5, -1, -0.5]),
      y = f64([1, 1, 1, -1]);
    assert.deepEqual(nn.hingeLoss(s, y, { reduction: 'none' }).toArray(), [0, 0.5, 2, 0.5]);
    assert.equal(nn.hingeLoss(s, y).item(), 0.75);
    // margin 2: [0, 1.5, 3, 1.5]
    assert.deepEqual(nn.hingeLoss(s, y, { margin: 2, reduction: 'none' }).toArray(), [0, 1.5, 3, 1.5]);
  });
});

describe('klDiv', () => {
  // target t = [[0.5, 0.5], [1, 0]], q = [[0.25, 0.75], [0.5, 0.5]], input = log q
  // example 0: 0.5 ln(0.5/0.25) + 0.5 ln(0.5/0.75) = 0.5 ln(4/3) = 0.14384103622589045
  // example 1: 1 ln(1/0.5) + 0 (t = 0 contributes nothing) = ln 2
  const t = f64([
      [0.5, 0.5],
      [1, 0],
    ]),
    logq = d.log(
      f64([
        [0.25, 0.75],
        [0.5, 0.5],
      ]),
    );
  const kl = [0.5 * Math.log(4 / 3), Math.LN2];

  it('per example is the KL of that example; batchmean and mean divide the sum by B', () => {
    assertClose(nn.klDiv(logq, t, { reduction: 'none' }), kl, TIGHT);
    assertClose(nn.klDiv(logq, t, { reduction: 'sum' }).item(), kl[0]! + kl[1]!, TIGHT);
    assertClose(nn.klDiv(logq, t, { reduction: 'batchmean' }).item(), (kl[0]! + kl[1]!) / 2, TIGHT);
    assertClose(nn.klDiv(logq, t).item(), (kl[0]! + kl[1]!) / 2, TIGHT);
    assert.throws(() => nn.klDiv(logq, t, { reduction: 'avg' as 'mean' }), /klDiv: reduction must be 'mean', 'sum', 'none', 'batchmean'/);
  });

  it('logTarget takes the target as log-probabilities', () => {
    const t2 = f64([
      [0.5, 0.5],
      [0.2, 0.8],
    ]);
    assertClose(nn.klDiv(logq, d.log(t2), { logTarget: true, reduction: 'none' }), flat(nn.klDiv(logq, t2, { reduction: 'none' })), TIGHT);
    // example 1: 0.2 ln(0.2/0.5) + 0.8 ln(0.8/0.5) = 0.19274475702175753
    assertClose(nn.klDiv(logq, t2, { reduction: 'none' }), [kl[0]!, 0.2 * Math.log(0.4) + 0.8 * Math.log(1.6)], TIGHT);
  });
});

// ----------------------------------------------------------------------------- properties --

const gen = new d.Generator(77);
const rn = (shape: number[], dtype: 'float32' | 'float64' = 'float64') => d.randn(shape, { dtype, generator: gen });
const probs = (shape: number[], dtype: 'float32' | 'float64' = 'float64') => d.sigmoid(rn(shape, dtype));
const signs = (shape: number[], dtype: 'float32' | 'float64' = 'float64') => d.sub(d.mul(d.cast(d.gt(rn(shape, dtype), 0), dtype), 2), 1);
const dist = (shape: number[], dtype: 'float32' | 'float64' = 'float64') => d.softmax(rn(shape, dtype), -1);

interface Case {
  name: string;
  loss: (x: Tensor, y: Tensor, r: 'mean' | 'sum' | 'none') => Tensor;
  input: (s: number[], dt?: 'float32' | 'float64') => Tensor;
  target: (s: number[], dt?: 'float32' | 'float64') => Tensor;
}
const CASES: Case[] = [
  { name: 'mseLoss', loss: (x, y, reduction) => nn.mseLoss(x, y, { reduction }), input: rn, target: rn },
  { name: 'l1Loss', loss: (x, y, reduction) => nn.l1Loss(x, y, { reduction }), input: rn, target: rn },
  { name: 'huberLoss', loss: (x, y, reduction) => nn.huberLoss(x, y, { delta: 0.7, reduction }), input: rn, target: rn },
  { name: 'smoothL1Loss', loss: (x, y, reduction) => nn.smoothL1Loss(x, y, { beta: 0.5, reduction }), input: rn, target: rn },
  { name: 'binaryCrossEntropy', loss: (x, y, reduction) => nn.binaryCrossEntropy(x, y, { reduction }), input: probs, target: probs },
  { name: 'binaryCrossEntropyWithLogits', loss: (x, y, reduction) => nn.binaryCrossEntropyWithLogits(x, y, { reduction }), input: rn, target: probs },
  {
    name: 'binaryCrossEntropyWithLogits (posWeight, weight)',
    loss: (x, y, reduction) =>
      nn.binaryCrossEntropyWithLogits(x, y, {
        posWeight: d.full([x.shape[1]!], 2.5, { dtype: x.dtype }),
        weight: d.full([x.shape[1]!], 0.5, { dtype: x.dtype }),
        reduction,
      }),
    input: rn,
    target: probs,
  },
  { name: 'hingeLoss', loss: (x, y, reduction) => nn.hingeLoss(x, y, { reduction }), input: rn, target: signs },
  { name: 'klDiv', loss: (x, y, reduction) => nn.klDiv(d.logSoftmax(x, -1), y, { reduction }), input: rn, target: dist },
  { name: 'klDiv (logTarget)', loss: (x, y, reduction) => nn.klDiv(d.logSoftmax(x, -1), d.log(y), { reduction, logTarget: true }), input: rn, target: dist },
];

describe('loss properties on random inputs', () => {
  for (const c of CASES) {
    it(`${c.name}: 'none' is [B] and >= 0; 'mean' = 'sum' / B = mean('none') exactly`, () => {
      const B = 6;
      const x = c.input([B, 5], 'float32'),
        y = c.target([B, 5], 'float32');
      const none = c.loss(x, y, 'none');
      assert.deepEqual(none.shape, [B]);
      // KL of two distributions is >= 0 (Gibbs); float32 rounding can dip a hair below
      assert.ok(
        flat(none).every((v) => v >= -1e-6),
        `${c.name}: negative loss in ${flat(none)}`,
      );
      const mean = c.loss(x, y, 'mean').item(),
        total = c.loss(x, y, 'sum').item();
      assert.equal(mean, Math.fround(total / B));
      assert.equal(d.mean(none).item(), mean);
    });

    it(`${c.name}: gradient matches finite differences (float64)`, () => {
      const x = c.input([4, 3]),
        y = c.target([4, 3]);
      for (const r of ['mean', 'none'] as const) {
        const res = d.gradCheck((xi) => c.loss(xi, y, r), [x]);
        assert.ok(res.ok, `${c.name} '${r}': ${JSON.stringify(res.pairs)}`);
      }
    });
  }
});
