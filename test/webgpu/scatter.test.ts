/**
 * The webgpu scatter-add's two kernels (src/backend/webgpu/wgsl-reduce.ts): one invocation per
 * output, which reads its row's m indices, and one per row, which walks them in order (max
 * pooling's backward: 169 windows of a 26 x 26 plane took 1.9 s of a 3.5 s CNN step per output on
 * SwiftShader, 4 ms per row). The choice by estimated steps, then both kernels against the
 * reference on layouts that pick each one, with duplicate indices, NaN and Infinity, zeroed or not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scatterByRows } from '../../src/backend/webgpu/wgsl-reduce.js';
import { axisCase } from '../backend/contract-cases.js';
import { Contract } from '../backend/contract.js';
import { webgpuSuite } from './setup.js';

/** [outer, n, inner, m]: max pooling 2x2 of 26 x 26 planes (64 x 32 of them) and a smaller one, both by rows. */
const ROWS = [
  [64 * 32, 676, 1, 169],
  [16, 300, 2, 200],
  [1, 2000, 8, 700],
] as const;
/** Small layouts, by output. */
const OUTPUTS = [
  [1, 7, 1, 3],
  [2, 7, 33, 257],
  [4, 300, 5, 200],
] as const;

describe('webgpu scatter-add kernel choice', () => {
  it('walks rows when outputs x m outweighs rows x (m + n), per output otherwise', () => {
    for (const [outer, n, inner, m] of ROWS) assert.equal(scatterByRows(outer, n, inner, m), true, `${[outer, n, inner, m]}`);
    for (const [outer, n, inner, m] of OUTPUTS) assert.equal(scatterByRows(outer, n, inner, m), false, `${[outer, n, inner, m]}`);
    // an embedding's gradient: 64-wide rows of a 10,000-word table from 512 tokens, by rows
    assert.equal(scatterByRows(1, 10_000, 64, 512), true);
  });
});

describe('webgpu scatter-add against the reference', () => {
  const backend = webgpuSuite();
  for (const kernel of ['scatterAdd', 'scatterAddZeroed', 'indexAdd'] as const)
    it(`${kernel} by rows and by outputs`, async (t) => {
      const b = backend(t);
      if (!b) return;
      const c = new Contract(b, 211);
      try {
        axisCase(c, kernel, [...ROWS, ...OUTPUTS]);
        await c.settle();
      } finally {
        c.done();
      }
    });
});
