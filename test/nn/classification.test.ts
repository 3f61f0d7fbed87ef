/** crossEntropy, nllLoss, multiMarginLoss: PyTorch semantics, hand-worked values, gradients. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { assertClose, flat } from '../helpers.js';
import { softmaxCrossEntropy, softmaxCrossEntropyGrad } from '../../src/ops/index.js';

const f64 = (v: number[][]) => d.tensor(v, { dtype: 'float64' });
const labels = (v: number[]) => d.tensor(v, { dtype: 'int32' });
const TIGHT = { atol: 1e-12, rtol: 1e-12 };

// logits [[1, 2, 3], [1, 1, 1]]:
// row 0: logSumExp = 3 + ln(1 + e^-1 + e^-2) = 3.40760596444438, so logp = [-2.4076..., -1.4076..., -0.4076...]
// row 1: logp = -ln 3 for every class
const logits = f64([
  [1, 2, 3],
  [1, 1, 1],
]);
const L0 = Math.log(1 + Math.exp(-1) + Math.exp(-2)); // 0.40760596444438: -logp[0][2]
const LN3 = Math.log(3);
const logp0 = [-(2 + L0), -(1 + L0), -L0];

describe('crossEntropy with class indices (hand-worked)', () => {
  it('is -log softmax at the target; mean over the batch', () => {
    // targets [2, 0]: [L0, ln 3]
    assertClose(nn.crossEntropy(logits, labels([2, 0]), { reduction: 'none' }), [L0, LN3], TIGHT);
    assertClose(nn.crossEntropy(logits, labels([2, 0])).item(), (L0 + LN3) / 2, TIGHT);
    assertClose(nn.crossEntropy(logits, labels([2, 0]), { reduction: 'sum' }).item(), L0 + LN3, TIGHT);
  });

  it('class weights: per example w[y] loss, mean divided by the sum of the weights', () => {
    const weight = d.tensor([1, 2, 3], { dtype: 'float64' });
    // none: [3 L0, 1 ln 3]; mean = (3 L0 + ln 3) / (3 + 1)
    assertClose(nn.crossEntropy(logits, labels([2, 0]), { weight, reduction: 'none' }), [3 * L0, LN3], TIGHT);
    assertClose(nn.crossEntropy(logits, labels([2, 0]), { weight }).item(), (3 * L0 + LN3) / 4, TIGHT);
    assertClose(nn.crossEntropy(logits, labels([2, 0]), { weight, reduction: 'sum' }).item(), 3 * L0 + LN3, TIGHT);
  });

  it('ignoreIndex: ignored examples give 0 and leave the mean', () => {
    // targets [2, -100]: none [L0, 0]; mean L0 / 1
    assertClose(nn.crossEntropy(logits, labels([2, -100]), { reduction: 'none' }), [L0, 0], TIGHT);
    assertClose(nn.crossEntropy(logits, labels([2, -100])).item(), L0, TIGHT);
    // a custom ignoreIndex, with weights: only example 1 (class 0, weight 1) counts -> ln 3 / 1
    const weight = d.tensor([1, 2, 3], { dtype: 'float64' });
    assertClose(nn.crossEntropy(logits, labels([1, 0]), { ignoreIndex: 1, weight }).item(), LN3, TIGHT);
    // everything ignored: 0 / 0 = NaN, as PyTorch
    assert.ok(Number.isNaN(nn.crossEntropy(logits, labels([-100, -100])).item()));
  });

  it('label smoothing: (1 - eps) nll + (eps / C) sum_c -w_c logp_c', () => {
    // row 0, eps 0.1: 0.9 L0 + (0.1 / 3)(sum of -logp = 3 + 3 L0) = L0 + 0.1
    assertClose(nn.crossEntropy(logits, labels([2, 0]), { labelSmoothing: 0.1, reduction: 'none' }), [L0 + 0.1, LN3], TIGHT);
    // with weights [1, 2, 3] and eps 0.2:
    // row 0: 0.8 * 3 L0 + (0.2/3)(1 (2 + L0) + 2 (1 + L0) + 3 L0) = 2.4 L0 + (0.2/3)(4 + 6 L0)
    // row 1: 0.8 * 1 ln 3 + (0.2/3)(6 ln 3);  mean divides the sum by w[2] + w[0] = 4
    const weight = d.tensor([1, 2, 3], { dtype: 'float64' });
    const r0 = 2.4 * L0 + (0.2 / 3) * (4 + 6 * L0),
      r1 = 0.8 * LN3 + 0.4 * LN3;
    assertClose(nn.crossEntropy(logits, labels([2, 0]), { weight, labelSmoothing: 0.2, reduction: 'none' }), [r0, r1], TIGHT);
    assertClose(nn.crossEntropy(logits, labels([2, 0]), { weight, labelSmoothing: 0.2 }).item(), (r0 + r1) / 4, TIGHT);
    // ignored examples stay 0 with smoothing too
    assertClose(nn.crossEntropy(logits, labels([-100, 0]), { labelSmoothing: 0.2, reduction: 'none' }), [0, LN3], TIGHT);
  });

  it('checks shapes, dtypes and labels', () => {
    assert.throws(() => nn.crossEntropy(d.ones([3]), labels([0])), /crossEntropy: logits must have shape \[B, C\] \(batch, classes\), got \[3\]/);
    assert.throws(() => nn.crossEntropy(logits, labels([2])), /crossEntropy: target must have shape \[2\] \(one class index per example\), got \[1\]/);
    assert.throws(() => nn.crossEntropy(logits, labels([2, 3])), /crossEntropy: target 3 at position 1 is out of range for 3 classes/);
    assert.throws(() => nn.crossEntropy(logits, f64([[1, 0, 0]])), /crossEntropy: target must be int32 class indices \[B\] or class probabilities/);
    assert.throws(() => nn.crossEntropy(logits, labels([0, 0]), { weight: d.ones([2], { dtype: 'float64' }) }), /crossEntropy: weight must have shape \[3\]/);
    assert.throws(() => nn.crossEntropy(logits, labels([0, 0]), { labelSmoothing: 1.5 }), /labelSmoothing must be in \[0, 1\]/);
  });
});

describe('crossEntropy with class probabilities', () => {
  it('is -sum_c t_c logp_c; weights do not change the mean divisor B', () => {
    // row 0 with t = [0.2, 0.3, 0.5]: 0.2 (2 + L0) + 0.3 (1 + L0) + 0.5 L0 = L0 + 0.7; row 1: ln 3
    const soft = f64([
      [0.2, 0.3, 0.5],
      [0, 1, 0],
    ]);
    assertClose(nn.crossEntropy(logits, soft, { reduction: 'none' }), [L0 + 0.7, LN3], TIGHT);
    // weights [1, 2, 3] on one-hot targets [2, 0]: [3 L0, ln 3], mean over B = 2 (not over the weight sum 4)
    const weight = d.tensor([1, 2, 3], { dtype: 'float64' });
    assertClose(
      nn
        .crossEntropy(
          logits,
          f64([
            [0, 0, 1],
            [1, 0, 0],
          ]),
          { weight },
        )
        .item(),
      (3 * L0 + LN3) / 2,
      TIGHT,
    );
  });

  it('one-hot probabilities with smoothing equal class indices with smoothing', () => {
    const x = d.randn([5, 4], { dtype: 'float64', generator: new d.Generator(3) });
    const y = labels([0, 3, 1, 1, 2]);
    const a = nn.crossEntropy(x, y, { labelSmoothing: 0.15, reduction: 'none' });
    const b = nn.crossEntropy(x, d.oneHot(y, 4, 'float64'), { labelSmoothing: 0.15, reduction: 'none' });
    assertClose(a, flat(b), TIGHT);
  });
});

describe('nllLoss and its agreement with crossEntropy', () => {
  it('picks -logp at the target', () => {
    // [[-1, -2], [-0.5, -3]] with targets [1, 0]: [2, 0.5], mean 1.25
    const lp = f64([
      [-1, -2],
      [-0.5, -3],
    ]);
    assert.deepEqual(nn.nllLoss(lp, labels([1, 0]), { reduction: 'none' }).toArray(), [2, 0.5]);
    assert.equal(nn.nllLoss(lp, labels([1, 0])).item(), 1.25);
    // weights [4, 1]: [1 * 2, 4 * 0.5] = [2, 2], mean 4 / (1 + 4)
    assert.equal(nn.nllLoss(lp, labels([1, 0]), { weight: d.tensor([4, 1], { dtype: 'float64' }) }).item(), 0.8);
  });

  it('crossEntropy(logits) = nllLoss(logSoftmax(logits)) for every option', () => {
    const x = d.randn([8, 5], { dtype: 'float64', generator: new d.Generator(8) });
    const y = labels([0, 4, 2, -100, 1, 3, 3, 0]);
    const weight = d.rand([5], { dtype: 'float64', generator: new d.Generator(9) });
    for (const options of [{}, { weight }, { weight, reduction: 'sum' as const }, { reduction: 'none' as const }]) {
      const ce = nn.crossEntropy(x, y, options),
        nll = nn.nllLoss(d.logSoftmax(x, 1), y, options);
      assert.deepEqual(ce.shape, nll.shape);
      assertClose(flat(ce), flat(nll), TIGHT);
    }
  });

  it('stays finite for logits of +-1e4, with finite gradients', () => {
    // row 0, target 1: 1e4 - (-1e4) = 2e4; row 1, target 0: logSumExp = 1e4 + ln 2, loss 2e4 + ln 2
    const x = d.tensor([
      [1e4, -1e4, 0],
      [-1e4, 1e4, 1e4],
    ]);
    const y = labels([1, 0]);
    const none = flat(nn.crossEntropy(x, y, { reduction: 'none' }));
    assertClose(none, [2e4, 2e4 + Math.LN2], { rtol: 1e-6 });
    const g = d.grad(() => nn.crossEntropy(x, y), [x]).get(x);
    // d mean / d logits = (softmax - onehot) / B: row 0 [1, -1, 0] / 2, row 1 [-1, 0.5, 0.5] / 2
    assertClose(
      g,
      [
        [0.5, -0.5, 0],
        [-0.5, 0.25, 0.25],
      ],
      { atol: 1e-6 },
    );
  });
});

describe('multiMarginLoss', () => {
  it('matches the PyTorch documentation example and its options', () => {
    // x = [0.1, 0.2, 0.4, 0.8], y = 3: (1/4)((1 - 0.8 + 0.1) + (1 - 0.8 + 0.2) + (1 - 0.8 + 0.4)) = 1.3 / 4 = 0.325
    const x = f64([[0.1, 0.2, 0.4, 0.8]]),
      y = labels([3]);
    assertClose(nn.multiMarginLoss(x, y).item(), 0.325, TIGHT);
    // p = 2: (0.09 + 0.16 + 0.36) / 4 = 0.1525
    assertClose(nn.multiMarginLoss(x, y, { p: 2 }).item(), 0.1525, TIGHT);
    // margin 0.5: only class 2 violates (0.5 - 0.4 = 0.1): 0.1 / 4 = 0.025
    assertClose(nn.multiMarginLoss(x, y, { margin: 0.5 }).item(), 0.025, TIGHT);
    // weight[3] = 2 multiplies each term: 0.65
    assertClose(nn.multiMarginLoss(x, y, { weight: d.tensor([1, 1, 1, 2], { dtype: 'float64' }) }).item(), 0.65, TIGHT);
    // two examples: the second (y = 0, x = [2, 0, 0, 0]) beats every class by >= 1, loss 0; mean (0.325 + 0) / 2
    const x2 = f64([
      [0.1, 0.2, 0.4, 0.8],
      [2, 0, 0, 0],
    ]);
    assertClose(nn.multiMarginLoss(x2, labels([3, 0]), { reduction: 'none' }), [0.325, 0], TIGHT);
    assertClose(nn.multiMarginLoss(x2, labels([3, 0])).item(), 0.1625, TIGHT);
    assert.throws(() => nn.multiMarginLoss(x, labels([4])), /multiMarginLoss: target 4 at position 0 is out of range for 4 classes/);
    assert.throws(() => nn.multiMarginLoss(x, y, { p: 3 as 1 }), /multiMarginLoss: p must be 1 or 2, got 3/);
  });
});

// ----------------------------------------------------------------------------- properties --

const gen = new d.Generator(31);
type R = 'mean' | 'sum' | 'none';
const B = 6,
  C = 4;
const randLabels = () => d.randint(0, C, [B], { generator: gen });
const CASES: { name: string; loss: (x: d.Tensor, y: d.Tensor, r: R) => d.Tensor; target: (dt: 'float32' | 'float64') => d.Tensor }[] = [
  { name: 'crossEntropy', loss: (x, y, reduction) => nn.crossEntropy(x, y, { reduction }), target: randLabels },
  { name: 'crossEntropy (smoothing)', loss: (x, y, reduction) => nn.crossEntropy(x, y, { reduction, labelSmoothing: 0.1 }), target: randLabels },
  {
    name: 'crossEntropy (probabilities)',
    loss: (x, y, reduction) => nn.crossEntropy(x, y, { reduction }),
    target: (dtype) => d.softmax(d.randn([B, C], { dtype, generator: gen }), 1),
  },
  { name: 'nllLoss', loss: (x, y, reduction) => nn.nllLoss(d.logSoftmax(x, 1), y, { reduction }), target: randLabels },
  { name: 'multiMarginLoss', loss: (x, y, reduction) => nn.multiMarginLoss(x, y, { reduction }), target: randLabels },
  { name: 'multiMarginLoss (p = 2)', loss: (x, y, reduction) => nn.multiMarginLoss(x, y, { reduction, p: 2 }), target: randLabels },
];

describe('classification loss properties on random inputs', () => {
  for (const c of CASES) {
    it(`${c.name}: 'none' is [B] and >= 0; 'mean' = 'sum' / B = mean('none') exactly`, () => {
      const x = d.randn([B, C], { generator: gen }),
        y = c.target('float32');
      const none = c.loss(x, y, 'none');
      assert.deepEqual(none.shape, [B]);
      assert.ok(
        flat(none).every((v) => v >= 0),
        `${c.name}: negative loss in ${flat(none)}`,
      );
      const mean = c.loss(x, y, 'mean').item();
      assert.equal(mean, Math.fround(c.loss(x, y, 'sum').item() / B));
      assert.equal(d.mean(none).item(), mean);
    });

    it(`${c.name}: gradient matches finite differences (float64)`, () => {
      const x = d.randn([B, C], { dtype: 'float64', generator: gen }),
        y = c.target('float64');
      for (const r of ['mean', 'none'] as const) {
        const res = d.gradCheck((xi) => c.loss(xi, y, r), [x]);
        assert.ok(res.ok, `${c.name} '${r}': ${JSON.stringify(res.pairs)}`);
      }
    });
  }

  it('crossEntropy with weights, ignoreIndex and smoothing: gradient matches finite differences', () => {
    const x = d.randn([B, C], { dtype: 'float64', generator: gen });
    const y = labels([0, 3, -1, 2, 2, 1]);
    const weight = d.tensor([0.5, 1, 2, 3], { dtype: 'float64' });
    const res = d.gradCheck((xi) => nn.crossEntropy(xi, y, { weight, ignoreIndex: -1, labelSmoothing: 0.2 }), [x]);
    assert.ok(res.ok, JSON.stringify(res.pairs));
    // the ignored example gets no gradient at all
    const g = d.grad(() => nn.crossEntropy(x, y, { weight, ignoreIndex: -1, labelSmoothing: 0.2 }), [x]).get(x);
    assert.deepEqual(flat(g).slice(2 * C, 3 * C), [0, 0, 0, 0]);
  });
});

describe('the fused softmax cross-entropy kernels against the ops they replace', () => {
  // Rows with NaN, +-Inf, huge and tiny logits, one class; float32 and float64. The fused
  // kernels (backend crossEntropyRows / crossEntropyRowsGrad, or the reference loops) do the
  // composed ops' steps in their order with their roundings, so every value is identical.
  const rows: number[][] = [
    [1, 2, 3, 4],
    [-80, 0.5, 88, 3],
    [NaN, 1, 2, 3],
    [Infinity, 1, 2, 3],
    [-Infinity, 1, 2, 3],
    [-Infinity, -Infinity, -Infinity, -Infinity],
    [1e-30, -1e-30, 0, -0],
    [3.4e38, -3.4e38, 1, 2],
  ];
  const targets = [3, 2, 1, 0, 1, 2, 0, 0];
  for (const dtype of ['float32', 'float64'] as const) {
    it(`${dtype}: losses and gradients are bit for bit the composed ones`, () => {
      const x = d.tensor(rows, { dtype });
      const y = labels(targets);
      const g = d.tensor([0.5, -1, 2, 1, 1, 0.25, 3, 1], { dtype });
      const fused = softmaxCrossEntropy(x, y);
      const composed = d.neg(d.reshape(d.gather(d.logSoftmax(x, 1), 1, d.reshape(y, [-1, 1])), [-1]));
      assert.deepEqual(flat(fused), flat(composed));
      const grad = softmaxCrossEntropyGrad(x, y, g);
      const want = d.mul(d.sub(d.softmax(x, 1), d.oneHot(y, 4, dtype)), d.reshape(g, [-1, 1]));
      assert.deepEqual(flat(grad), flat(want));
    });
  }
});
