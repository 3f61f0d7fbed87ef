import { assertClose } from '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { clipGradNorm, clipGradValue } from '../../src/optim/index.js';

const f64 = (v: number[]) => d.tensor(v, { dtype: 'float64' });

/** Two parameters with gradients (3, -4) (2-norm 5) and (12) (2-norm 12): global 2-norm 13. */
function store(): { grads: Map<Tensor, Tensor>; a: Tensor; b: Tensor } {
  const a = f64([0, 0]),
    b = f64([0]);
  return {
    a,
    b,
    grads: new Map([
      [a, f64([3, -4])],
      [b, f64([12])],
    ]),
  };
}

describe('clipGradNorm', () => {
  it('scales all gradients by maxNorm / (total + 1e-6) when that is below 1', () => {
    const { a, b, grads } = store();
    const before = [...grads.values()].map((g) => Array.from(g.data));
    // total = sqrt(5^2 + 12^2) = 13; scale = 6.5 / (13 + 1e-6)
    const { grads: out, totalNorm } = clipGradNorm(grads, 6.5);
    assert.equal(totalNorm, 13);
    const s = 6.5 / (13 + 1e-6);
    assertClose(out.get(a)!, [3 * s, -4 * s], { atol: 1e-15 });
    assertClose(out.get(b)!, [12 * s], { atol: 1e-15 });
    // A new map and new tensors; the input store and its tensors are unchanged.
    assert.notEqual(out, grads);
    assert.notEqual(out.get(a), grads.get(a));
    assert.deepEqual(
      [...grads.values()].map((g) => Array.from(g.data)),
      before,
    );
  });

  it('leaves gradients alone when the norm is within maxNorm (same tensors, new map)', () => {
    const { a, grads } = store();
    const { grads: out, totalNorm } = clipGradNorm(grads, 20);
    assert.equal(totalNorm, 13);
    assert.notEqual(out, grads);
    assert.equal(out.get(a), grads.get(a));
  });

  it('other norms: Infinity (largest magnitude), 1 (sum of magnitudes), 3', () => {
    const { b, grads } = store();
    // inf: max(|3|, |-4|, |12|) = 12; scale = 6 / (12 + 1e-6)
    const inf = clipGradNorm(grads, 6, Infinity);
    assert.equal(inf.totalNorm, 12);
    assertClose(inf.grads.get(b)!, [(12 * 6) / (12 + 1e-6)], { atol: 1e-15 });
    // 1: 3 + 4 + 12 = 19
    assert.equal(clipGradNorm(grads, 100, 1).totalNorm, 19);
    // 3: (27 + 64 + 1728)^(1/3) = 1819^(1/3)
    assertClose([clipGradNorm(grads, 100, 3).totalNorm], [1819 ** (1 / 3)], { atol: 1e-12 });
  });

  it("keeps each gradient's dtype; an empty store has norm 0", () => {
    const w = d.tensor([0, 0]);
    const { grads } = clipGradNorm(new Map([[w, d.tensor([30, 40])]]), 1);
    assert.equal(grads.get(w)!.dtype, 'float32');
    assertClose(grads.get(w)!, [0.6, 0.8], { atol: 1e-6 });
    assert.equal(clipGradNorm(new Map(), 1).totalNorm, 0);
  });

  it('non-finite norms: scaled by NaN as PyTorch, or an error with errorIfNonfinite', () => {
    const w = f64([0, 0]);
    const grads = new Map([[w, f64([NaN, 1])]]);
    const { totalNorm, grads: out } = clipGradNorm(grads, 1);
    assert.ok(Number.isNaN(totalNorm));
    assert.ok(Number.isNaN(out.get(w)!.data[1]!));
    assert.throws(() => clipGradNorm(grads, 1, 2, { errorIfNonfinite: true }), /clipGradNorm: the total 2-norm of the gradients is NaN/);
  });

  it('checks its arguments', () => {
    const { grads } = store();
    assert.throws(() => clipGradNorm(grads, -1), /maxNorm must be a number >= 0, got -1/);
    assert.throws(() => clipGradNorm(grads, 1, 0), /normType must be a number > 0 or Infinity, got 0/);
    assert.throws(() => clipGradNorm([] as unknown as Map<Tensor, Tensor>, 1), /expected a gradient store/);
  });
});

describe('clipGradValue', () => {
  it('clamps each element to [-clipValue, clipValue] into a new store', () => {
    const { a, b, grads } = store();
    const out = clipGradValue(grads, 3.5);
    assert.deepEqual(out.get(a)!.toArray(), [3, -3.5]);
    assert.deepEqual(out.get(b)!.toArray(), [3.5]);
    assert.deepEqual(grads.get(a)!.toArray(), [3, -4]);
    assert.throws(() => clipGradValue(grads, -1), /clipValue must be a number >= 0, got -1/);
  });
});
