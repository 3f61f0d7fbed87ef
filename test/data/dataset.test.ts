import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import { randomSplit, Subset, TensorDataset } from '../../src/data/index.js';

// x[i] = [2i, 2i+1], y[i] = 10 + i for i = 0..4.
const make = () => new TensorDataset(d.reshape(d.arange(10, undefined, 1, { dtype: 'float32' }), [5, 2]), d.arange(10, 15));

describe('TensorDataset', () => {
  it('get gives one example without a batch axis', () => {
    const ds = make();
    assert.equal(ds.length, 5);
    const [x, y] = ds.get(3);
    assert.deepEqual(x!.shape, [2]);
    assert.deepEqual(x!.toArray(), [6, 7]); // row 3 = [2*3, 2*3+1]
    assert.deepEqual(y!.shape, []);
    assert.equal(y!.item(), 13);
    assert.equal(y!.dtype, 'int32');
  });

  it('getBatch stacks the chosen examples along a new first axis, in the order given', () => {
    const [x, y] = make().getBatch(Int32Array.of(4, 0, 4));
    assert.deepEqual(x!.toArray(), [[8, 9], [0, 1], [8, 9]]);
    assert.deepEqual(y!.toArray(), [14, 10, 14]);
  });

  it('rejects tensors of different first dimension, naming the shapes', () => {
    assert.throws(() => new TensorDataset(d.zeros([5, 2]), d.zeros([4])), /TensorDataset: .*\[5, 2\], \[4\]/);
  });

  it('rejects out-of-range indices', () => {
    assert.throws(() => make().get(5), /index 5 is out of range for a dataset of 5/);
    assert.throws(() => make().getBatch(Int32Array.of(0, -1)), /index -1/);
  });

  it('its tensors outlive the scope the dataset was made in', () => {
    const ds = d.scope(() => {
      make(); // a dataset made and dropped inside the scope
      return { ds: make() }.ds;
    });
    assert.deepEqual(ds.get(1)[0]!.toArray(), [2, 3]);
  });
});

describe('Subset and randomSplit', () => {
  it('Subset maps its indices', () => {
    const s = new Subset(make(), [4, 1]);
    assert.equal(s.length, 2);
    assert.equal(s.get(0)[1]!.item(), 14);
    assert.deepEqual(s.getBatch(Int32Array.of(1, 0))[1]!.toArray(), [11, 14]);
    assert.throws(() => new Subset(make(), [5]), /Subset: index 5/);
  });

  it('randomSplit partitions the indices, reproducibly', () => {
    const ds = new TensorDataset(d.arange(0, 10));
    const [a, b] = randomSplit(ds, [7, 3], { generator: new d.Generator(1) });
    assert.equal(a!.length, 7);
    assert.equal(b!.length, 3);
    const all = [...a!.indices, ...b!.indices].sort((p, q) => p - q);
    assert.deepEqual(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const [a2] = randomSplit(ds, [7, 3], { generator: new d.Generator(1) });
    assert.deepEqual([...a2!.indices], [...a!.indices]);
  });

  it('randomSplit with fractions hands the remainder out round-robin', () => {
    // floor(0.5*11)=5, floor(0.3*11)=3, floor(0.2*11)=2: 10, so the first subset gets the 11th.
    const parts = randomSplit(new TensorDataset(d.arange(0, 11)), [0.5, 0.3, 0.2]);
    assert.deepEqual(parts.map((p) => p.length), [6, 3, 2]);
    assert.throws(() => randomSplit(new TensorDataset(d.arange(0, 11)), [5, 5]), /summing to the dataset length 11/);
  });
});
