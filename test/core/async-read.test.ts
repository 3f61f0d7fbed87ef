/**
 * The asynchronous reads (dataAsync, itemAsync, toArrayAsync) on the CPU backends, where they give
 * what the synchronous ones give (test/webgpu covers the GPU, where only they work).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getBackend, listBackends, setBackend } from '../../src/backend/index.js';
import * as d from '../../src/index.js';

for (const name of listBackends()) {
  describe(`async reads on ${name}`, () => {
    const on = async (fn: () => Promise<void>) => {
      const prev = getBackend().name;
      setBackend(name);
      try {
        await fn();
      } finally {
        setBackend(prev);
      }
    };

    it('dataAsync is a copy of the elements, like dataSync', () =>
      on(async () => {
        const x = d.tensor([1, 2, 3, 4], { shape: [2, 2] });
        const y = d.mul(x, x); // [[1, 4], [9, 16]]
        const got = await y.dataAsync();
        assert.ok(got instanceof Float32Array);
        assert.deepEqual(Array.from(got), [1, 4, 9, 16]);
        got[0] = 99; // a copy: the tensor keeps its values
        assert.equal(y.data[0], 1);
      }));

    it('itemAsync reads a one-element tensor and refuses others, as item does', () =>
      on(async () => {
        const s = d.sum(d.tensor([1.5, 2.5, -1])); // 1.5 + 2.5 - 1 = 3
        assert.equal(await s.itemAsync(), 3);
        assert.equal(await s.itemAsync(), s.item());
        await assert.rejects(d.tensor([1, 2]).itemAsync(), /itemAsync: expected a tensor with one element, got shape \[2\]/);
      }));

    it('toArrayAsync nests like toArray (a number for a scalar, int32 kept)', () =>
      on(async () => {
        const x = d.tensor([
          [1, 2, 3],
          [4, 5, 6],
        ]);
        assert.deepEqual(await x.toArrayAsync(), [
          [1, 2, 3],
          [4, 5, 6],
        ]);
        assert.deepEqual(await x.toArrayAsync(), x.toArray());
        assert.equal(await d.tensor(7).toArrayAsync(), 7);
        const i = d.tensor([3, -2], { dtype: 'int32' });
        assert.ok((await i.dataAsync()) instanceof Int32Array);
        assert.deepEqual(await i.toArrayAsync(), [3, -2]);
      }));
  });
}

describe('choosing the webgpu backend', () => {
  it('the synchronous setBackend names the asynchronous one to use', () => {
    assert.throws(() => setBackend('webgpu'), /await setBackendAsync\('webgpu'\)/);
  });
});
