/**
 * A float64 finite-difference gradient check for every differentiable primitive op (the table is
 * typed by op name, so a new op without an entry here does not compile) and for the composed ops.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../api/internal.js';
import type { OpName, Tensor } from '../api/internal.js';
import '../helpers.js';

const gen = new d.Generator(2024);
const F64 = { dtype: 'float64' as const, generator: gen };
const rn = (shape: number[]) => d.randn(shape, F64);
/** Values bounded away from 0 (for kinks and poles): |x| in [0.3, 1.3]. */
const away = (shape: number[]) => {
  const x = rn(shape);
  return d.mul(d.sign(x), d.add(d.abs(x), 0.3));
};
const pos = (shape: number[]) => d.add(d.abs(rn(shape)), 0.5);
const idx = (values: number[], shape?: number[]) => d.tensor(values, { dtype: 'int32', shape });

interface Case {
  label: string;
  f: (...xs: Tensor[]) => Tensor;
  inputs: Tensor[];
}
type Check = Case[] | 'not differentiable' | { byHand: () => void };

const UNARY_SHAPES = [[], [1], [2, 3], [1, 4, 1], [7]];
const BINARY_SHAPES: [number[], number[]][] = [
  [
    [2, 3],
    [2, 3],
  ],
  [
    [3, 1, 4],
    [2, 4],
  ],
  [[1], [3, 2]],
  [[], [2, 3]],
  [
    [4, 1],
    [1, 5],
  ],
];

function unary(f: (x: Tensor) => Tensor, make: (s: number[]) => Tensor = away): Case[] {
  return UNARY_SHAPES.map((s) => ({ label: `[${s}]`, f, inputs: [make(s)] }));
}
function binary(f: (a: Tensor, b: Tensor) => Tensor, makeA: (s: number[]) => Tensor = rn, makeB: (s: number[]) => Tensor = rn): Case[] {
  return BINARY_SHAPES.map(([a, b]) => ({ label: `[${a}] with [${b}]`, f, inputs: [makeA(a), makeB(b)] }));
}

const PRIMITIVES: { [K in OpName]: Check } = {
  neg: unary(d.neg),
  exp: unary(d.exp),
  log: unary(d.log, pos),
  log1p: unary(d.log1p, pos),
  sqrt: unary(d.sqrt, pos),
  abs: unary(d.abs),
  sign: 'not differentiable',
  relu: unary(d.relu),
  sigmoid: unary(d.sigmoid),
  tanh: unary(d.tanh),
  erf: unary(d.erf),
  sin: unary(d.sin),
  cos: unary(d.cos),
  add: binary(d.add),
  sub: binary(d.sub),
  mul: binary(d.mul),
  div: binary(d.div, rn, away),
  pow: [...binary(d.pow, pos, rn), { label: 'constant exponent 3 on signed base', f: (a) => d.pow(a, 3), inputs: [rn([2, 3])] }],
  maximum: binary(d.maximum),
  minimum: binary(d.minimum),
  // x kept away from the kink, where the derivative in x is 0 (the rule returns none)
  reluBackward: binary(d.reluBackward, rn, away),
  eq: 'not differentiable',
  ne: 'not differentiable',
  lt: 'not differentiable',
  le: 'not differentiable',
  gt: 'not differentiable',
  ge: 'not differentiable',
  where: [
    {
      label: 'broadcast cond [3,1], a [3,4], b [4]',
      f: (a, b) => d.where(d.tensor([[1], [0], [1]], { dtype: 'float64' }), a, b),
      inputs: [rn([3, 4]), rn([4])],
    },
    { label: 'scalar branch', f: (a) => d.where(d.gt(a, 0), a, 0), inputs: [away([5])] },
  ],
  cast: {
    byHand: () => {
      // y = sum(cast(x, float32)): dy/dx = 1 for every element, returned in x's dtype (float64)
      const x = rn([2, 2]);
      const g = d.grad(() => d.cast(d.sum(d.cast(x, 'float32')), 'float64'), [x]).get(x);
      assert.equal(g.dtype, 'float64');
      assert.deepEqual(g.toArray(), [
        [1, 1],
        [1, 1],
      ]);
    },
  },
  sum: [
    { label: 'all axes', f: (x) => d.sum(x), inputs: [rn([3, 4])] },
    { label: 'axis 1 keepdims', f: (x) => d.sum(x, 1, true), inputs: [rn([2, 3, 4])] },
    { label: 'axes [0, 2]', f: (x) => d.sum(x, [0, 2]), inputs: [rn([2, 1, 3])] },
  ],
  max: [
    { label: 'all', f: (x) => d.max(x), inputs: [rn([3, 4])] },
    { label: 'axis -1', f: (x) => d.max(x, -1), inputs: [rn([2, 5])] },
    { label: 'axes [0, 2] keepdims', f: (x) => d.max(x, [0, 2], true), inputs: [rn([3, 2, 4])] },
  ],
  min: [
    { label: 'axis 0', f: (x) => d.min(x, 0), inputs: [rn([4, 3])] },
    { label: 'all keepdims', f: (x) => d.min(x, undefined, true), inputs: [rn([1, 6])] },
  ],
  argmax: 'not differentiable',
  argmin: 'not differentiable',
  matmul: [
    { label: '[3,4] @ [4,5]', f: (a, b) => d.matmul(a, b), inputs: [rn([3, 4]), rn([4, 5])] },
    { label: 'batched broadcast [2,1,3,4] @ [5,4,2]', f: (a, b) => d.matmul(a, b), inputs: [rn([2, 1, 3, 4]), rn([5, 4, 2])] },
    { label: 'transA [4,3]^T @ [4,2]', f: (a, b) => d.matmul(a, b, { transA: true }), inputs: [rn([4, 3]), rn([4, 2])] },
    { label: 'transB [3,4] @ [2,4]^T', f: (a, b) => d.matmul(a, b, { transB: true }), inputs: [rn([3, 4]), rn([2, 4])] },
    { label: 'both transposed, batched', f: (a, b) => d.matmul(a, b, { transA: true, transB: true }), inputs: [rn([2, 4, 3]), rn([2, 5, 4])] },
    { label: 'vector @ matrix @ vector', f: (v, m) => d.matmul(d.matmul(v, m), v), inputs: [rn([3]), rn([3, 3])] },
  ],
  reshape: [{ label: '[2,3,4] -> [4,-1]', f: (x) => d.reshape(x, [4, -1]), inputs: [rn([2, 3, 4])] }],
  clone: unary(d.clone),
  permute: [{ label: '[2,3,4] by [2,0,1]', f: (x) => d.permute(x, [2, 0, 1]), inputs: [rn([2, 3, 4])] }],
  expand: [
    { label: '[3,1] -> [2,3,4]', f: (x) => d.expand(x, [2, 3, 4]), inputs: [rn([3, 1])] },
    { label: '[] -> [5]', f: (x) => d.expand(x, [5]), inputs: [rn([])] },
  ],
  slice: [{ label: '[4,5] rows 1:3, cols -2:', f: (x) => d.slice(x, [[1, 3], [-2]]), inputs: [rn([4, 5])] }],
  pad: [{ label: '[2,3] padded (1,2) on the last axis with 0.5', f: (x) => d.pad(x, [[1, 2]], 0.5), inputs: [rn([2, 3])] }],
  concat: [{ label: '[2,3] + [2,1] + [2,2] on axis 1', f: (a, b, c) => d.concat([a, b, c], 1), inputs: [rn([2, 3]), rn([2, 1]), rn([2, 2])] }],
  gather: [{ label: 'pick per row', f: (x) => d.gather(x, 1, idx([2, 0, 1, 1, 0, 0], [3, 2])), inputs: [rn([3, 4])] }],
  scatterAdd: [{ label: 'duplicate targets add up', f: (s) => d.scatterAdd(s, 1, idx([2, 2, 0, 1], [2, 2]), [2, 3]), inputs: [rn([2, 2])] }],
  indexSelect: [{ label: 'rows 2, 0, 2', f: (x) => d.indexSelect(x, 0, idx([2, 0, 2])), inputs: [rn([3, 2])] }],
  indexAdd: [{ label: 'into 4 rows', f: (s) => d.indexAdd(s, 0, idx([3, 1, 3]), [4, 2]), inputs: [rn([3, 2])] }],
  im2col: [
    { label: '[2,2,4,5] 2x3 windows', f: (x) => d.im2col(x, [2, 3]), inputs: [rn([2, 2, 4, 5])] },
    {
      label: 'stride 2, dilation [1,2], padding 1 (overlapping)',
      f: (x) => d.im2col(x, 3, { stride: 2, dilation: [1, 2], padding: 1 }),
      inputs: [rn([1, 2, 5, 6])],
    },
  ],
  col2im: [
    { label: 'overlapping 2x2 windows, stride 1', f: (c) => d.col2im(c, [2, 1, 3, 4], 2), inputs: [rn([1, 2, 2, 2, 2, 3])] },
    { label: 'stride [2,1], dilation 2', f: (c) => d.col2im(c, [1, 2, 6, 5], 2, { stride: [2, 1], dilation: 2 }), inputs: [rn([2, 2, 2, 1, 2, 3])] },
  ],
  windowArgmax: 'not differentiable',
  softmaxCrossEntropy: [
    { label: 'x [4,3], classes [2,0,1,2]', f: (x) => d.softmaxCrossEntropy(x, idx([2, 0, 1, 2])), inputs: [rn([4, 3])] },
    { label: 'x [3,5] spread by 20, one class', f: (x) => d.softmaxCrossEntropy(d.mul(x, 20), idx([4, 4, 4])), inputs: [rn([3, 5])] },
  ],
  softmaxCrossEntropyGrad: [
    { label: 'x [4,3] and g [4]', f: (x, g) => d.softmaxCrossEntropyGrad(x, idx([2, 0, 1, 2]), g), inputs: [rn([4, 3]), rn([4])] },
    { label: 'one column', f: (x, g) => d.softmaxCrossEntropyGrad(x, idx([0, 0]), g), inputs: [rn([2, 1]), rn([2])] },
  ],
};

const COMPOSED: Record<string, Case[]> = {
  mean: [
    { label: 'axis 1', f: (x) => d.mean(x, 1), inputs: [rn([3, 4])] },
    { label: 'all', f: (x) => d.mean(x), inputs: [rn([2, 5])] },
  ],
  variance: [{ label: 'axis 0, unbiased', f: (x) => d.variance(x, 0), inputs: [rn([5, 3])] }],
  std: [{ label: 'all, population', f: (x) => d.std(x, undefined, { correction: 0 }), inputs: [rn([4, 2])] }],
  logSumExp: [
    { label: 'axis -1', f: (x) => d.logSumExp(x, -1), inputs: [rn([3, 5])] },
    { label: 'large logits', f: (x) => d.logSumExp(d.mul(x, 300)), inputs: [rn([4])] },
  ],
  softmax: [
    { label: 'axis -1', f: (x) => d.softmax(x), inputs: [rn([3, 4])] },
    { label: 'axis 0', f: (x) => d.softmax(x, 0), inputs: [rn([3, 2])] },
  ],
  logSoftmax: [{ label: 'axis -1', f: (x) => d.logSoftmax(x), inputs: [rn([2, 6])] }],
  leakyRelu: unary((x) => d.leakyRelu(x, 0.1)),
  elu: unary((x) => d.elu(x)),
  gelu: [...unary((x) => d.gelu(x), rn), ...unary((x) => d.gelu(x, 'tanh'), rn)],
  softplus: unary(d.softplus, rn),
  logSigmoid: unary(d.logSigmoid, rn),
  clamp: unary((x) => d.clamp(x, -0.5, 0.7)),
  rsqrt: unary(d.rsqrt, pos),
  linear: [{ label: 'x [5,3], W [2,3], b [2]', f: (x, w, b) => d.linear(x, w, b), inputs: [rn([5, 3]), rn([2, 3]), rn([2])] }],
  stack: [{ label: 'three [2] on axis 1', f: (a, b, c) => d.stack([a, b, c], 1), inputs: [rn([2]), rn([2]), rn([2])] }],
  conv2d: [
    { label: 'x [2,3,5,4], w [4,3,3,2], bias', f: (x, w, b) => d.conv2d(x, w, b), inputs: [rn([2, 3, 5, 4]), rn([4, 3, 3, 2]), rn([4])] },
    { label: 'stride 2, padding [1,2]', f: (x, w) => d.conv2d(x, w, null, { stride: 2, padding: [1, 2] }), inputs: [rn([1, 2, 5, 5]), rn([3, 2, 3, 3])] },
    {
      label: 'dilation 2, padding same',
      f: (x, w, b) => d.conv2d(x, w, b, { dilation: 2, padding: 'same' }),
      inputs: [rn([2, 1, 5, 6]), rn([2, 1, 3, 2]), rn([2])],
    },
    {
      label: 'groups 2 (4 -> 6 channels)',
      f: (x, w, b) => d.conv2d(x, w, b, { groups: 2, stride: [1, 2] }),
      inputs: [rn([2, 4, 4, 5]), rn([6, 2, 2, 2]), rn([6])],
    },
    { label: 'depthwise (groups = channels), 1x1 kernel', f: (x, w) => d.conv2d(x, w, null, { groups: 3 }), inputs: [rn([1, 3, 3, 3]), rn([3, 1, 1, 1])] },
  ],
  unfold: [{ label: 'PyTorch layout, stride 2, padding 1', f: (x) => d.unfold(x, 2, { stride: 2, padding: 1 }), inputs: [rn([2, 2, 3, 4])] }],
  fold: [{ label: 'PyTorch layout, overlapping, padding 1', f: (c) => d.fold(c, [3, 4], 2, { padding: 1 }), inputs: [rn([2, 8, 20])] }],
  maxPool2d: [
    { label: '2x2, stride 2, odd size', f: (x) => d.maxPool2d(x, 2), inputs: [rn([2, 3, 5, 5])] },
    { label: '3x3, stride 2, padding 1 (overlapping)', f: (x) => d.maxPool2d(x, 3, { stride: 2, padding: 1 }), inputs: [rn([1, 2, 6, 5])] },
    { label: 'dilation 2', f: (x) => d.maxPool2d(x, 2, { stride: 1, dilation: 2 }), inputs: [rn([1, 1, 5, 5])] },
  ],
  avgPool2d: [
    { label: '2x2', f: (x) => d.avgPool2d(x, 2), inputs: [rn([2, 2, 4, 5])] },
    {
      label: '3x3, stride 2, padding 1, countIncludePad false',
      f: (x) => d.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }),
      inputs: [rn([1, 2, 5, 6])],
    },
  ],
  adaptiveAvgPool2d: [{ label: '[5,7] -> [3,2] (uneven bins)', f: (x) => d.adaptiveAvgPool2d(x, [3, 2]), inputs: [rn([2, 2, 5, 7])] }],
  globalAvgPool2d: [{ label: '[2,3,4,5]', f: (x) => d.globalAvgPool2d(x), inputs: [rn([2, 3, 4, 5])] }],
  'flatten/transpose/squeeze/unsqueeze/narrow': [
    { label: 'chain', f: (x) => d.narrow(d.squeeze(d.unsqueeze(d.transpose(d.flatten(x, 1)), 0)), 0, 1, 3), inputs: [rn([2, 3, 2])] },
  ],
};

function runCases(name: string, cases: Case[]): void {
  for (const c of cases) {
    it(`gradcheck ${name} ${c.label}`, () => {
      const r = d.gradCheck(c.f, c.inputs);
      assert.ok(r.ok, `${name} ${c.label}: autodiff vs finite differences ${JSON.stringify(r.pairs)}`);
    });
  }
}

describe('gradient checks of every primitive op (float64, central differences, random directions)', () => {
  for (const name of d.OP_NAMES) {
    const check = PRIMITIVES[name];
    if (check === 'not differentiable') {
      it(`${name} is not differentiable: records no backward`, () => assert.equal(d.isDifferentiable(name), false));
    } else if (Array.isArray(check)) {
      assert.ok(d.isDifferentiable(name));
      runCases(name, check);
    } else {
      it(`gradcheck ${name} by hand`, check.byHand);
    }
  }
});

describe('gradient checks of composed ops', () => {
  for (const [name, cases] of Object.entries(COMPOSED)) runCases(name, cases);
});

describe('second derivatives (gradients of gradients)', () => {
  // For each f, check the map x -> <grad_x <f(x), w>, u>, whose gradient is the Hessian-vector product.
  const second: Record<string, [(x: Tensor) => Tensor, Tensor]> = {
    exp: [d.exp, rn([3])],
    log: [d.log, pos([3])],
    sqrt: [d.sqrt, pos([4])],
    sigmoid: [d.sigmoid, rn([4])],
    tanh: [d.tanh, rn([3])],
    erf: [d.erf, rn([3])],
    sin: [d.sin, rn([3])],
    'mul (x*x*x)': [(x) => d.mul(d.mul(x, x), x), rn([3])],
    div: [(x) => d.div(1, x), away([3])],
    pow: [(x) => d.pow(x, 2.5), pos([3])],
    'matmul (x^T A x)': [
      (x) =>
        d.matmul(
          d.matmul(
            x,
            d.tensor(
              [
                [2, 1],
                [0, 3],
              ],
              { dtype: 'float64' },
            ),
          ),
          x,
        ),
      rn([2]),
    ],
    'sum of squares': [(x) => d.sum(d.mul(x, x), 0), rn([3, 2])],
    max: [(x) => d.mul(d.max(x, 1), d.max(x, 1)), rn([2, 3])],
    logSumExp: [(x) => d.logSumExp(x), rn([4])],
    softmax: [(x) => d.softmax(x), rn([4])],
    'crossEntropy (the fused op and its gradient op)': [(x) => d.crossEntropy(x, idx([1, 0, 2]), { reduction: 'none' }), rn([3, 3])],
    'crossEntropy mean': [(x) => d.crossEntropy(x, idx([3, 0]), { reduction: 'mean' }), rn([2, 4])],
  };
  for (const [name, [f, x]] of Object.entries(second)) {
    it(`gradcheck of the gradient of ${name}`, () => {
      const w = d.randn(d.noGrad(() => f(x)).shape, F64);
      const u = d.randn(x.shape, F64);
      const gradDotU = (y: Tensor) => d.sum(d.mul(d.grad(() => d.sum(d.mul(f(y), w)), [y]).get(y), u));
      const r = d.gradCheck(gradDotU, [x]);
      assert.ok(r.ok, `${name}: ${JSON.stringify(r.pairs)}`);
    });
  }
});
