/** BatchNorm (train/eval, running statistics, state dict round trip), LayerNorm, GroupNorm: hand-worked values. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as d from '../api/internal.js';
import * as nn from '../../src/nn/index.js';
import { assertClose, flat } from '../helpers.js';

const f64 = (v: d.NestedArray) => d.tensor(v as number[], { dtype: 'float64' });
const EPS = 1e-5;

describe('BatchNorm1d (PyTorch definition)', () => {
  // channel 0: [1, 2, 3, 4]: mean 2.5, biased var (2.25+0.25+0.25+2.25)/4 = 1.25, unbiased 5/3
  // channel 1: [0, 0, 2, 2]: mean 1, biased var 1, unbiased 4/3
  const X = () =>
    f64([
      [1, 0],
      [2, 0],
      [3, 2],
      [4, 2],
    ]);

  it('normalises with the batch mean and BIASED variance in training', () => {
    const bn = new nn.BatchNorm1d(2, { dtype: 'float64' });
    const s0 = 1 / Math.sqrt(1.25 + EPS),
      s1 = 1 / Math.sqrt(1 + EPS);
    assertClose(
      bn.forward(X()),
      [
        [-1.5 * s0, -s1],
        [-0.5 * s0, -s1],
        [0.5 * s0, s1],
        [1.5 * s0, s1],
      ],
      { atol: 1e-12 },
    );
  });

  it('updates running mean / UNBIASED variance with momentum 0.1 and counts batches', () => {
    const bn = new nn.BatchNorm1d(2, { dtype: 'float64' });
    bn.forward(X());
    // runningMean = 0.9 * 0 + 0.1 * [2.5, 1] = [0.25, 0.1]; runningVar = 0.9 * 1 + 0.1 * [5/3, 4/3]
    assertClose(bn.runningMean!, [0.25, 0.1], { atol: 1e-12 });
    assertClose(bn.runningVar!, [0.9 + 1 / 6, 0.9 + 0.4 / 3], { atol: 1e-12 });
    assert.equal(bn.numBatchesTracked!.item(), 1);
    bn.forward(X());
    // second step: 0.9 * [0.25, 0.1] + 0.1 * [2.5, 1] = [0.475, 0.19]; 0.9 * [1.0667, 1.0333] + 0.1 * [5/3, 4/3]
    assertClose(bn.runningMean!, [0.475, 0.19], { atol: 1e-12 });
    assertClose(bn.runningVar!, [0.9 * (0.9 + 1 / 6) + 1 / 6, 0.9 * (0.9 + 0.4 / 3) + 0.4 / 3], { atol: 1e-12 });
    assert.equal(bn.numBatchesTracked!.item(), 2);
  });

  it('uses the running statistics (and the affine map) in eval mode, and changes no buffer', () => {
    const bn = new nn.BatchNorm1d(2, { dtype: 'float64' });
    bn.forward(X());
    bn.weight!.assign(f64([2, 0.5]));
    bn.bias!.assign(f64([1, -1]));
    bn.eval();
    const rv0 = 0.9 + 1 / 6,
      rv1 = 0.9 + 0.4 / 3;
    // y = (x - runningMean) / sqrt(runningVar + eps) * weight + bias
    assertClose(bn.forward(f64([[3, 1]])), [[((3 - 0.25) / Math.sqrt(rv0 + EPS)) * 2 + 1, ((1 - 0.1) / Math.sqrt(rv1 + EPS)) * 0.5 - 1]], { atol: 1e-12 });
    assert.equal(bn.numBatchesTracked!.item(), 1);
    assertClose(bn.runningMean!, [0.25, 0.1], { atol: 1e-12 });
  });

  it('momentum null is the cumulative average of the batch statistics', () => {
    const bn = new nn.BatchNorm1d(2, { dtype: 'float64', momentum: null });
    bn.forward(X());
    bn.forward(d.mul(X(), 2)); // means [5, 2], unbiased variances [20/3, 16/3]
    // factor 1/2 on the second batch: the plain average of the two batches' statistics
    assertClose(bn.runningMean!, [3.75, 1.5], { atol: 1e-12 });
    assertClose(bn.runningVar!, [25 / 6, 10 / 3], { atol: 1e-12 });
  });

  it('accepts [N, C, L]; refuses one value per channel in training; flags that it mixes examples', () => {
    const bn = new nn.BatchNorm1d(2);
    assert.deepEqual(bn.forward(d.randn([3, 2, 5])).shape, [3, 2, 5]);
    assert.throws(() => bn.forward(d.ones([1, 2])), /BatchNorm1d: expected more than 1 value per channel when training/);
    assert.throws(() => bn.forward(d.ones([4, 3])), /BatchNorm1d: expected input of rank 2 or 3 with 2 channels on axis 1, got shape \[4, 3\]/);
    assert.equal(bn.mixesExamples, true);
    assert.deepEqual(Object.keys(bn.stateDict()), ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    const noTrack = new nn.BatchNorm1d(2, { trackRunningStats: false, affine: false });
    assert.deepEqual(Object.keys(noTrack.stateDict()), []);
    noTrack.eval();
    // without running statistics, eval mode normalises with the batch's own: [1, 3] -> [-1, 1] / sqrt(1 + eps)
    assertClose(
      noTrack.forward(
        d.tensor([
          [1, 0],
          [3, 2],
        ]),
      ),
      [
        [-1, -1],
        [1, 1],
      ].map((r) => r.map((v) => v / Math.sqrt(1 + EPS))),
      { atol: 1e-6 },
    );
  });

  it('its training-mode gradient passes a finite-difference check', () => {
    const bn = new nn.BatchNorm1d(3, { dtype: 'float64' });
    bn.weight!.assign(f64([1.5, -0.5, 2]));
    bn.bias!.assign(f64([0.25, 0, -1]));
    const r = d.gradCheck((x) => bn.forward(x), [d.randn([5, 3], { dtype: 'float64', generator: new d.Generator(3) })]);
    assert.ok(r.ok, JSON.stringify(r.pairs));
    // and with respect to weight and bias: L = <y, R>, central differences entry by entry
    const x = d.randn([5, 3], { dtype: 'float64', generator: new d.Generator(4) });
    const R = d.randn([5, 3], { dtype: 'float64', generator: new d.Generator(5) });
    const loss = () => d.sum(d.mul(bn.forward(x), R));
    const grads = d.grad(loss, [bn.weight!, bn.bias!]);
    for (const p of [bn.weight!, bn.bias!]) {
      const analytic = grads.get(p).toArray() as number[];
      const base = p.toArray() as number[];
      for (let i = 0; i < 3; i++) {
        const at = (delta: number) => {
          p.assign(f64(base.map((v, j) => (j === i ? v + delta : v))));
          return loss().item();
        };
        const numeric = (at(1e-6) - at(-1e-6)) / 2e-6;
        p.assign(f64(base));
        assert.ok(
          Math.abs(numeric - analytic[i]!) < 1e-6 * Math.max(1, Math.abs(numeric)),
          `${p === bn.weight ? 'weight' : 'bias'}[${i}]: ${analytic[i]} vs ${numeric}`,
        );
      }
    }
  });

  it('applies weight and bias after normalising in training mode', () => {
    const bn = new nn.BatchNorm1d(2, { dtype: 'float64' });
    bn.weight!.assign(f64([2, -0.5]));
    bn.bias!.assign(f64([1, 3]));
    // y = (x - mean) / sqrt(var + eps) * weight + bias, with the statistics of X (see above)
    const s0 = 2 / Math.sqrt(1.25 + EPS),
      s1 = -0.5 / Math.sqrt(1 + EPS);
    assertClose(
      bn.forward(X()),
      [
        [-1.5 * s0 + 1, -s1 + 3],
        [-0.5 * s0 + 1, -s1 + 3],
        [0.5 * s0 + 1, s1 + 3],
        [1.5 * s0 + 1, s1 + 3],
      ],
      { atol: 1e-12 },
    );
  });
});

describe('BatchNorm2d', () => {
  it('takes statistics per channel over N, H and W', () => {
    // one channel holding 1..8: mean 4.5, biased var 42/8 = 5.25, unbiased 42/7 = 6
    const x = d.reshape(d.arange(1, 9, 1, { dtype: 'float64' }), [2, 1, 2, 2]);
    const bn = new nn.BatchNorm2d(1, { dtype: 'float64' });
    assertClose(
      flat(bn.forward(x)),
      [1, 2, 3, 4, 5, 6, 7, 8].map((v) => (v - 4.5) / Math.sqrt(5.25 + EPS)),
      { atol: 1e-12 },
    );
    assertClose(bn.runningMean!, [0.45], { atol: 1e-12 });
    assertClose(bn.runningVar!, [0.9 + 0.6], { atol: 1e-12 });
  });

  it('a trained model saved and loaded again predicts exactly the same in eval mode (running statistics included)', () => {
    const make = (seed: number) => {
      const g = new d.Generator(seed);
      return new nn.Sequential(
        new nn.Conv2d(1, 3, 3, { generator: g, padding: 1 }),
        new nn.BatchNorm2d(3),
        new nn.ReLU(),
        new nn.MaxPool2d(2),
        new nn.Flatten(),
        new nn.Linear(12, 2, { generator: g }),
        new nn.BatchNorm1d(2),
      );
    };
    const g = new d.Generator(9);
    const net = make(1);
    const x = d.randn([6, 1, 4, 4], { generator: g }),
      y = d.tensor([0, 1, 1, 0, 1, 0], { dtype: 'int32' });
    const opt = new d.SGD(net.parameters(), { lr: 0.1 });
    for (let step = 0; step < 3; step++) {
      d.scope(() => {
        const { grads } = d.valueAndGrad(() => nn.crossEntropy(net.forward(x), y), net.parameters());
        opt.step(grads);
      });
    }
    net.eval();
    const before = flat(net.forward(x));
    const dir = mkdtempSync(join(tmpdir(), 'descent-bn-'));
    try {
      d.saveSafetensors(join(dir, 'm.safetensors'), net.stateDict());
      const fresh = make(2).eval();
      assert.notDeepEqual(flat(fresh.forward(x)), before);
      fresh.loadStateDict(d.loadSafetensors(join(dir, 'm.safetensors')).tensors);
      assert.deepEqual(flat(fresh.forward(x)), before);
      assert.equal((fresh.at(1) as nn.BatchNorm2d).numBatchesTracked!.item(), 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("BatchNorm state-dict keys (PyTorch's, and the earlier camelCase ones)", () => {
  const net = () => new nn.Sequential(new nn.Linear(2, 2, { generator: new d.Generator(1) }), new nn.BatchNorm1d(2));
  const trained = () => {
    const m = net();
    m.forward(
      d.tensor([
        [1, 2],
        [3, 5],
        [0, 1],
      ]),
    );
    return m;
  };

  it('saves running_mean, running_var and num_batches_tracked, the count as I64 on disk', () => {
    const m = trained();
    assert.deepEqual(Object.keys(m.stateDict()), ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']);
    const bytes = d.encodeSafetensors(m.stateDict());
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    assert.deepEqual(header['1.num_batches_tracked'], { dtype: 'I64', shape: [], data_offsets: header['1.num_batches_tracked'].data_offsets });
    assert.equal(header['1.running_mean'].dtype, 'F32');
    const back = d.decodeSafetensors(bytes).tensors['1.num_batches_tracked']!;
    assert.equal(back.dtype, 'int32');
    assert.equal(back.item(), 1);
  });

  it('loadStateDict accepts the camelCase keys of earlier checkpoints, and refuses a key given under both names', () => {
    const m = trained();
    const old: Record<string, d.Tensor> = {};
    for (const [k, v] of Object.entries(m.stateDict()))
      old[k.replace('running_mean', 'runningMean').replace('running_var', 'runningVar').replace('num_batches_tracked', 'numBatchesTracked')] = v;
    assert.ok(Object.hasOwn(old, '1.runningMean'));
    const fresh = net();
    assert.deepEqual(fresh.loadStateDict(old), { missingKeys: [], unexpectedKeys: [] });
    const bn = fresh.at(1) as nn.BatchNorm1d;
    assert.deepEqual(flat(bn.runningMean!), flat((m.at(1) as nn.BatchNorm1d).runningMean!));
    assert.equal(bn.numBatchesTracked!.item(), 1);
    assert.throws(
      () => fresh.loadStateDict({ ...m.stateDict(), '1.runningVar': bn.runningVar! }),
      /the state dict has both '1\.running_var' and its earlier name '1\.runningVar'/,
    );
    // unknown camelCase keys of other layers are not renamed: they stay unexpected
    assert.deepEqual(fresh.loadStateDict({ ...old, '0.runningMean': bn.runningMean! }, false).unexpectedKeys, ['0.runningMean']);
  });
});

describe('LayerNorm and GroupNorm', () => {
  it('LayerNorm normalises each example over its last axes (biased variance), then scales and shifts', () => {
    // row [1, 2, 3]: mean 2, var 2/3; row [0, 0, 6]: mean 2, var (4 + 4 + 16)/3 = 8
    const ln = new nn.LayerNorm(3, { dtype: 'float64' });
    ln.weight!.assign(f64([1, 2, 3]));
    ln.bias!.assign(f64([0, 0, 1]));
    const a = 1 / Math.sqrt(2 / 3 + EPS),
      b = 1 / Math.sqrt(8 + EPS);
    assertClose(
      ln.forward(
        f64([
          [1, 2, 3],
          [0, 0, 6],
        ]),
      ),
      [
        [-a, 0, 3 * a + 1],
        [-2 * b, -4 * b, 12 * b + 1],
      ],
      { atol: 1e-12 },
    );
    const ln2 = new nn.LayerNorm([2, 2], { elementwiseAffine: false });
    assertClose(
      ln2.forward(
        d.tensor([
          [
            [1, 3],
            [1, 3],
          ],
        ]),
      ),
      [
        [
          [-1, 1],
          [-1, 1],
        ],
      ].map((m) => m.map((r) => r.map((v) => v / Math.sqrt(1 + EPS)))),
      { atol: 1e-6 },
    );
    assert.throws(() => ln.forward(d.ones([2, 4])), /LayerNorm: expected input ending in \[3\], got shape \[2, 4\]/);
  });

  it('GroupNorm normalises groups of channels per example', () => {
    // one example, 4 channels of 1 pixel: [1, 3, 10, 30]; 2 groups: {1, 3} (mean 2, var 1), {10, 30} (mean 20, var 100)
    const gn = new nn.GroupNorm(2, 4, { dtype: 'float64' });
    const x = d.reshape(f64([1, 3, 10, 30]), [1, 4, 1, 1]);
    assertClose(flat(gn.forward(x)), [-1 / Math.sqrt(1 + EPS), 1 / Math.sqrt(1 + EPS), -10 / Math.sqrt(100 + EPS), 10 / Math.sqrt(100 + EPS)], { atol: 1e-12 });
    assert.throws(() => new nn.GroupNorm(3, 4), /GroupNorm: numChannels \(4\) must be divisible by numGroups \(3\)/);
    const r = d.gradCheck((t) => gn.forward(t), [d.randn([2, 4, 2, 3], { dtype: 'float64', generator: new d.Generator(4) })]);
    assert.ok(r.ok, JSON.stringify(r.pairs));
  });
});
