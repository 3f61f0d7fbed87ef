import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import { assertClose } from '../helpers.js';

describe('creating tensors', () => {
  it('from nested arrays, typed arrays and numbers', () => {
    const a = d.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(a.shape, [2, 3]);
    assert.equal(a.dtype, 'float32');
    assert.deepEqual(a.toArray(), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = d.tensor(new Float64Array([1, 2, 3, 4]), { shape: [2, 2] });
    assert.equal(b.dtype, 'float64');
    assert.deepEqual(b.toArray(), [
      [1, 2],
      [3, 4],
    ]);
    assert.equal(d.tensor(5).item(), 5);
    assert.deepEqual(d.tensor(5).shape, []);
    assert.equal(d.tensor([1, 2], { dtype: 'int32' }).dtype, 'int32');
  });

  it('rejects ragged arrays and bad shapes with the place that is wrong', () => {
    assert.throws(() => d.tensor([[1, 2], [3]]), /ragged nested array: expected length 2 at \[1\], got 1/);
    assert.throws(() => d.tensor(new Float32Array(5), { shape: [2, 2] }), /needs 4 values, the typed array has 5/);
    assert.throws(() => d.zeros([2, -1]), /zeros: invalid shape \[2, -1\]/);
    assert.throws(() => d.zeros([2], { dtype: 'float16' as d.DType }), /unknown dtype "float16"/);
  });

  it('fills, ranges and identities', () => {
    assert.deepEqual(d.zeros([2]).toArray(), [0, 0]);
    assert.deepEqual(d.ones([1, 2]).toArray(), [[1, 1]]);
    assert.deepEqual(d.full([2], 7, { dtype: 'int32' }).toArray(), [7, 7]);
    assert.deepEqual(d.arange(4).toArray(), [0, 1, 2, 3]);
    assert.equal(d.arange(4).dtype, 'int32');
    assertClose(d.arange(0, 1, 0.25), [0, 0.25, 0.5, 0.75]);
    assertClose(d.linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(d.eye(2, 3).toArray(), [
      [1, 0, 0],
      [0, 1, 0],
    ]);
  });

  it('prints readably and summarises large tensors', () => {
    assert.equal(
      d
        .tensor([
          [1, 2],
          [3, 4],
        ])
        .toString(),
      'tensor([[1., 2.],\n        [3., 4.]], shape=[2, 2], dtype=float32)',
    );
    assert.equal(d.tensor([1, 2], { dtype: 'int32' }).toString(), 'tensor([1, 2], shape=[2], dtype=int32)');
    const big = d.arange(5000).toString();
    assert.match(big, /tensor\(\[0, 1, 2, \.\.\., 4997, 4998, 4999\], shape=\[5000\], dtype=int32\)/);
  });

  it('item() needs exactly one element', () => {
    assert.throws(() => d.zeros([2]).item(), /item: expected a tensor with one element, got shape \[2\]/);
  });
});

describe('broadcasting and shape errors', () => {
  it('broadcasts like NumPy', () => {
    assert.deepEqual(d.broadcastShapes('add', [3, 1, 5], [4, 1], [5]), [3, 4, 5]);
    const r = d.add(d.tensor([[1], [2]]), d.tensor([10, 20, 30]));
    assert.deepEqual(r.toArray(), [
      [11, 21, 31],
      [12, 22, 32],
    ]);
  });

  it('names the op and both shapes when they do not fit', () => {
    assert.throws(() => d.add(d.zeros([2, 3]), d.zeros([4])), /add: shapes \[2, 3\] and \[4\] cannot be broadcast together/);
    assert.throws(() => d.matmul(d.zeros([2, 3]), d.zeros([4, 5])), /matmul: inner dimensions differ: \[2, 3\] @ \[4, 5\] \(3 vs 4\)/);
    assert.throws(() => d.reshape(d.zeros([2, 3]), [4]), /reshape: cannot reshape \[2, 3\] \(6 elements\) to \[4\]/);
    assert.throws(() => d.concat([d.zeros([2, 3]), d.zeros([2, 4])], 0), /concat: shapes \[2, 3\], \[2, 4\] differ outside axis 0/);
  });

  it('rejects bad axes', () => {
    assert.throws(() => d.sum(d.zeros([2, 3]), 2), /sum: axis 2 is out of range for a tensor of rank 2/);
    assert.throws(() => d.softmax(d.zeros([2, 3]), -3), /axis -3 is out of range/);
    assert.throws(() => d.permute(d.zeros([2, 3]), [0, 0]), /repeated axis|not a permutation/);
  });

  it('rejects wrong dtypes', () => {
    assert.throws(() => d.add(d.zeros([2]), d.zeros([2], { dtype: 'float64' })), /add: dtypes differ \(float32 and float64\)/);
    assert.throws(() => d.log(d.zeros([2], { dtype: 'int32' })), /log: expects a float32 or float64 tensor, got int32/);
    assert.throws(
      () => d.matmul(d.zeros([2, 2], { dtype: 'int32' }), d.zeros([2, 2], { dtype: 'int32' })),
      /matmul: expects float32 or float64 tensors, got int32/,
    );
    assert.throws(() => d.gather(d.zeros([2, 2]), 1, d.zeros([2, 1])), /gather: indices must be int32, got float32/);
    assert.throws(() => d.valueAndGrad(() => d.zeros([]), [d.zeros([2], { dtype: 'int32' })]), /cannot differentiate with respect to an int32 tensor/);
  });

  it('rejects out-of-range indices', () => {
    assert.throws(
      () => d.indexSelect(d.zeros([3, 2]), 0, d.tensor([0, 3], { dtype: 'int32' })),
      /indexSelect: index 3 is out of range for a dimension of size 3/,
    );
  });
});

describe('scopes free intermediates', () => {
  it('keeps what the scope returns and frees the rest', () => {
    const before = d.memory().tensors;
    let inner: d.Tensor | undefined;
    const kept = d.scope(() => {
      inner = d.add(d.ones([3]), 1);
      return d.mul(inner, 2);
    });
    assert.deepEqual(kept.toArray(), [4, 4, 4]);
    assert.ok(inner!.isDisposed);
    assert.throws(() => inner!.toArray(), /was freed: the scope that created it has ended/);
    assert.equal(d.memory().tensors, before + 1);
  });

  it('frees everything when the function throws', () => {
    const before = d.memory().tensors;
    assert.throws(
      () =>
        d.scope(() => {
          d.ones([4]);
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal(d.memory().tensors, before);
  });

  it('refuses async functions', () => {
    assert.throws(() => d.scope(async () => d.ones([1])), /scopes are synchronous/);
  });

  it('keep() lets a tensor outlive its scope; a reshape shares storage', () => {
    let k: d.Tensor | undefined;
    const r = d.scope(() => {
      k = d.keep(d.ones([2, 2]));
      return d.reshape(d.full([4], 3), [2, 2]);
    });
    assert.deepEqual(k!.toArray(), [
      [1, 1],
      [1, 1],
    ]);
    assert.deepEqual(r.toArray(), [
      [3, 3],
      [3, 3],
    ]);
  });
});
