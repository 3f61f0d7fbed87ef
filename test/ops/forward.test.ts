/** Hand-worked values for each op family, with the arithmetic beside each expectation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../api/internal.js';
import { assertClose } from '../helpers.js';

const f64 = (v: d.NestedArray) => d.tensor(v as number[], { dtype: 'float64' });

describe('elementwise', () => {
  it('unary functions', () => {
    const x = f64([-1, 0, 2]);
    assertClose(d.exp(x), [1 / Math.E, 1, Math.E ** 2]);
    assertClose(d.relu(x), [0, 0, 2]);
    assertClose(d.sign(x), [-1, 0, 1]);
    assertClose(d.abs(x), [1, 0, 2]);
    assertClose(d.sigmoid(x), [1 / (1 + Math.E), 0.5, 1 / (1 + Math.exp(-2))]);
    // erf(1) = 0.8427007929497149 (tabulated), erf(3) = 0.9999779095030014
    assertClose(d.erf(f64([1, -1, 3, 0.1])), [0.8427007929497149, -0.8427007929497149, 0.9999779095030014, 0.1124629160182849], { atol: 1e-14, rtol: 0 });
    assertClose(d.leakyRelu(x, 0.1), [-0.1, 0, 2]);
    assertClose(d.elu(x), [Math.exp(-1) - 1, 0, 2]);
    // gelu(1) = 1 * Phi(1) = 0.8413447460685429
    assertClose(d.gelu(f64([1])), [0.8413447460685429], { atol: 1e-14 });
    // softplus(2) = log(1 + e^2) = 2.1269280110429727; stays finite at 1000
    assertClose(d.softplus(f64([2, 1000, -1000])), [2.1269280110429727, 1000, 0], { atol: 1e-12 });
    assertClose(d.clamp(x, -0.5, 1), [-0.5, 0, 1]);
    assertClose(d.rsqrt(f64([4])), [0.5]);
  });

  it('reluBackward passes g where x > 0 only, NaN gradients included (as threshold_backward)', () => {
    const g = f64([5, NaN, 7, NaN, -3]);
    const x = f64([-1, -2, 0, 4, 1e-300]);
    // x > 0 at the last two positions only; masked positions are 0 even where g is NaN
    assert.deepEqual(d.reluBackward(g, x).toArray(), [0, 0, 0, NaN, -3]);
    // relu's gradient is exactly this gate: 0 at x = 0, as PyTorch
    const xs = f64([-1, 0, 2]);
    assert.deepEqual(
      d
        .grad(() => d.sum(d.mul(d.relu(xs), f64([2, 3, 4]))), [xs])
        .get(xs)
        .toArray(),
      [0, 0, 4],
    );
  });

  it('log(0) is -Infinity, not NaN', () => {
    assert.deepEqual(d.log(d.tensor([0])).toArray(), [-Infinity]);
    assert.deepEqual(d.logSoftmax(d.tensor([0, -Infinity])).toArray(), [0, -Infinity]);
  });

  it('binary arithmetic and comparisons', () => {
    const a = d.tensor([1, 2, 3]),
      b = d.tensor([3, 2, 1]);
    assert.deepEqual(d.sub(a, b).toArray(), [-2, 0, 2]);
    assert.deepEqual(d.div(a, 2).toArray(), [0.5, 1, 1.5]);
    assert.deepEqual(d.pow(a, 2).toArray(), [1, 4, 9]);
    assert.deepEqual(d.maximum(a, b).toArray(), [3, 2, 3]);
    assert.deepEqual(d.minimum(a, b).toArray(), [1, 2, 1]);
    assert.deepEqual(d.eq(a, b).toArray(), [0, 1, 0]);
    assert.deepEqual(d.ne(a, b).toArray(), [1, 0, 1]);
    assert.deepEqual(d.lt(a, b).toArray(), [1, 0, 0]);
    assert.deepEqual(d.le(a, b).toArray(), [1, 1, 0]);
    assert.deepEqual(d.gt(a, b).toArray(), [0, 0, 1]);
    assert.deepEqual(d.ge(a, b).toArray(), [0, 1, 1]);
    assert.deepEqual(d.where(d.gt(a, 1), a, -1).toArray(), [-1, 2, 3]);
    assert.deepEqual(d.cast(d.tensor([1.7, -1.7]), 'int32').toArray(), [1, -1]);
  });

  it('maximum splits the gradient evenly on ties', () => {
    // d max(a, b)/da = 1 if a > b, 0 if a < b, 1/2 if equal
    const a = f64([1, 2, 3]),
      b = f64([2, 2, 2]);
    const g = d.grad(() => d.sum(d.maximum(a, b)), [a, b]);
    assert.deepEqual(g.get(a).toArray(), [0, 0.5, 1]);
    assert.deepEqual(g.get(b).toArray(), [1, 0.5, 0]);
  });
});

describe('reductions', () => {
  const x = d.tensor([
    [1, 5, 3],
    [4, 2, 6],
  ]);
  it('sum, mean, max, min over axes with and without keepdims', () => {
    assert.equal(d.sum(x).item(), 21);
    assert.deepEqual(d.sum(x, 0).toArray(), [5, 7, 9]);
    assert.deepEqual(d.sum(x, 1, true).toArray(), [[9], [12]]);
    assert.deepEqual(d.mean(x, [0, 1], true).toArray(), [[3.5]]);
    assert.deepEqual(d.max(x, 1).toArray(), [5, 6]);
    assert.deepEqual(d.min(x, 0).toArray(), [1, 2, 3]);
    assert.deepEqual(d.argmax(x, 1).toArray(), [1, 2]);
    assert.deepEqual(d.argmin(x, 0).toArray(), [0, 1, 0]);
    assert.equal(d.argmax(x).item(), 5);
    assert.deepEqual(d.argmax(x, 1, true).shape, [2, 1]);
  });

  it('variance and std: unbiased by default', () => {
    // row 0: mean 3, squared deviations 4 + 4 + 0 = 8; /(3-1) = 4, /3 = 8/3
    assertClose(d.variance(x, 1), [4, 4]);
    assertClose(d.variance(x, 1, { correction: 0 }), [8 / 3, 8 / 3]);
    assertClose(d.std(x, 1), [2, 2]);
  });

  it('max sends its gradient to the largest element', () => {
    const v = f64([[1, 7, 3]]);
    assert.deepEqual(
      d
        .grad(() => d.sum(d.max(v, 1)), [v])
        .get(v)
        .toArray(),
      [[0, 1, 0]],
    );
  });

  it('logSumExp, softmax and logSoftmax stay finite for logits of +-1e4', () => {
    const big = d.tensor([
      [1e4, -1e4, 0],
      [1e4, 1e4, 1e4],
    ]);
    // row 0: logsumexp = 1e4 + log(1 + e^-1e4 + e^-2e4) = 1e4 exactly in float32
    assertClose(d.logSumExp(big, 1), [1e4, 1e4 + Math.log(3)], { rtol: 1e-6 });
    assertClose(d.softmax(big), [
      [1, 0, 0],
      [1 / 3, 1 / 3, 1 / 3],
    ]);
    assertClose(
      d.logSoftmax(big),
      [
        [0, -2e4, -1e4],
        [-Math.log(3), -Math.log(3), -Math.log(3)],
      ],
      { rtol: 1e-6, atol: 1e-5 },
    );
    const g = d
      .grad(
        () =>
          d.sum(
            d.mul(
              d.logSoftmax(big),
              d.tensor([
                [1, 0, 0],
                [0, 1, 0],
              ]),
            ),
          ),
        [big],
      )
      .get(big);
    assert.ok(Array.from(g.data).every(Number.isFinite));
    // d/dx of logsoftmax(x)[0] = onehot(0) - softmax(x) = [0, 0, 0] in row 0
    assertClose(g, [
      [0, 0, 0],
      [-1 / 3, 2 / 3, -1 / 3],
    ]);
    assert.deepEqual(d.logSumExp(d.tensor([-Infinity, -Infinity])).item(), -Infinity);
  });
});

describe('movement', () => {
  const x = d.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  it('reshape, flatten, transpose, permute, expand', () => {
    assert.deepEqual(d.reshape(x, [3, -1]).toArray(), [
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    assert.deepEqual(d.flatten(x).toArray(), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(d.transpose(x).toArray(), [
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    assert.deepEqual(d.permute(d.reshape(x, [1, 2, 3]), [2, 0, 1]).shape, [3, 1, 2]);
    assert.deepEqual(d.expand(d.tensor([[1], [2]]), [2, 3]).toArray(), [
      [1, 1, 1],
      [2, 2, 2],
    ]);
  });

  it('slice, narrow, pad, concat, stack', () => {
    assert.deepEqual(d.slice(x, [null, [1]]).toArray(), [
      [2, 3],
      [5, 6],
    ]);
    assert.deepEqual(d.slice(x, [[-1]]).toArray(), [[4, 5, 6]]);
    assert.deepEqual(d.narrow(x, 1, 1, 1).toArray(), [[2], [5]]);
    assert.deepEqual(d.pad(d.tensor([1, 2]), [[1, 2]], 9).toArray(), [9, 1, 2, 9, 9]);
    assert.deepEqual(d.concat([x, d.tensor([[7, 8, 9]])], 0).toArray(), [
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    assert.deepEqual(d.stack([d.tensor([1, 2]), d.tensor([3, 4])], 1).toArray(), [
      [1, 3],
      [2, 4],
    ]);
  });

  it('gather, indexSelect, scatterAdd, indexAdd, oneHot', () => {
    const i = (v: number[], shape?: number[]) => d.tensor(v, { dtype: 'int32', shape });
    assert.deepEqual(d.gather(x, 1, i([2, 0], [2, 1])).toArray(), [[3], [4]]);
    assert.deepEqual(d.indexSelect(x, 1, i([2, 2, 0])).toArray(), [
      [3, 3, 1],
      [6, 6, 4],
    ]);
    assert.deepEqual(d.scatterAdd(d.tensor([[1, 2]]), 1, i([1, 1], [1, 2]), [1, 3]).toArray(), [[0, 3, 0]]);
    assert.deepEqual(d.indexAdd(d.tensor([[1], [2], [3]]), 0, i([0, 0, 1]), [2, 1]).toArray(), [[3], [3]]);
    assert.deepEqual(d.oneHot(i([2, 0]), 3).toArray(), [
      [0, 0, 1],
      [1, 0, 0],
    ]);
  });
});

describe('matmul', () => {
  it('2-D, batched with broadcasting, vectors and transposed forms', () => {
    const a = d.tensor([
        [1, 2],
        [3, 4],
      ]),
      b = d.tensor([
        [5, 6],
        [7, 8],
      ]);
    // [1*5+2*7, 1*6+2*8; 3*5+4*7, 3*6+4*8]
    assert.deepEqual(d.matmul(a, b).toArray(), [
      [19, 22],
      [43, 50],
    ]);
    assert.deepEqual(d.matmul(a, b, { transA: true }).toArray(), [
      [26, 30],
      [38, 44],
    ]);
    assert.deepEqual(d.matmul(a, b, { transB: true }).toArray(), [
      [17, 23],
      [39, 53],
    ]);
    assert.deepEqual(d.matmul(a, b, { transA: true, transB: true }).toArray(), [
      [23, 31],
      [34, 46],
    ]);
    assert.deepEqual(d.matmul(d.tensor([1, 1]), a).toArray(), [4, 6]);
    assert.deepEqual(d.matmul(a, d.tensor([1, 1])).toArray(), [3, 7]);
    const batched = d.matmul(d.stack([a, b]), d.eye(2));
    assert.deepEqual(batched.toArray(), [
      [
        [1, 2],
        [3, 4],
      ],
      [
        [5, 6],
        [7, 8],
      ],
    ]);
    assert.deepEqual(d.matmul(d.ones([3, 1, 2, 4]), d.ones([5, 4, 6])).shape, [3, 5, 2, 6]);
  });
});
