/** Layers: Linear (shapes, init, values), Dropout, Flatten, activations, mlp. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { assertClose, flat } from '../helpers.js';

const f64 = (v: number[][]) => d.tensor(v, { dtype: 'float64' });

describe('Linear', () => {
  it('computes x W^T + b with W stored [out, in]', () => {
    const lin = new nn.Linear(2, 3, { dtype: 'float64' });
    lin.weight.assign(
      f64([
        [1, 2],
        [3, 4],
        [5, 6],
      ]),
    );
    lin.bias!.assign(d.tensor([0.5, 0, -1], { dtype: 'float64' }));
    // [1, 1] W^T = [1+2, 3+4, 5+6] = [3, 7, 11]; + b = [3.5, 7, 10]
    // [0, 2] W^T = [4, 8, 12]; + b = [4.5, 8, 11]
    assert.deepEqual(
      lin
        .forward(
          f64([
            [1, 1],
            [0, 2],
          ]),
        )
        .toArray(),
      [
        [3.5, 7, 10],
        [4.5, 8, 11],
      ],
    );
  });

  it('has the right shapes, treats leading axes as batch axes, and checks the input', () => {
    const lin = new nn.Linear(4, 3);
    assert.deepEqual(lin.weight.shape, [3, 4]);
    assert.deepEqual(lin.bias!.shape, [3]);
    assert.equal(lin.weight.dtype, 'float32');
    assert.deepEqual(lin.forward(d.ones([2, 5, 4])).shape, [2, 5, 3]);
    assert.deepEqual(lin.forward(d.ones([4])).shape, [3]);
    assert.throws(() => lin.forward(d.ones([2, 5])), /Linear: expected input with last dimension 4 \(inFeatures\), got shape \[2, 5\]/);
    const nb = new nn.Linear(4, 3, { bias: false });
    assert.equal(nb.bias, null);
    assert.deepEqual(
      nb.namedParameters().map(([n]) => n),
      ['weight'],
    );
    assert.throws(() => new nn.Linear(2.5, 3), /Linear: inFeatures must be a non-negative integer, got 2.5/);
  });

  it('initialises as PyTorch: W and b uniform in +-1/sqrt(in), weight drawn first', () => {
    const lin = new nn.Linear(100, 50, { generator: new d.Generator(7) });
    const bound = 1 / Math.sqrt(100); // kaiming_uniform(a = sqrt 5): sqrt(3) * sqrt(2/6) / sqrt(100) = 0.1
    const w = flat(lin.weight),
      b = flat(lin.bias!);
    assert.ok(
      w.every((v) => Math.abs(v) <= bound),
      'weights within the bound',
    );
    assert.ok(Math.max(...w.map(Math.abs)) > 0.099, 'weights fill the range');
    assert.ok(
      b.every((v) => Math.abs(v) <= bound),
      'bias within the bound',
    );
    // std of U(-a, a) is a / sqrt 3 = 0.05774; 5000 draws estimate it within ~1%
    const std = d.std(lin.weight).item();
    assert.ok(Math.abs(std - bound / Math.sqrt(3)) < 0.03 * (bound / Math.sqrt(3)), `std ${std}`);
    // The same draws as uniform(-0.1, 0.1) from a fresh generator with that seed: weight, then bias.
    const g = new d.Generator(7);
    assertClose(lin.weight, d.uniform([50, 100], -bound, bound, { generator: g }).toArray(), { atol: 1e-7, rtol: 0 });
    assertClose(lin.bias!, d.uniform([50], -bound, bound, { generator: g }).toArray(), { atol: 1e-7, rtol: 0 });
  });
});

describe('Dropout', () => {
  it('is the identity in eval mode and for p = 0; p = 1 zeroes everything', () => {
    const x = d.randn([3, 4]);
    const drop = new nn.Dropout(0.5);
    drop.eval();
    assert.equal(drop.forward(x), x);
    assert.equal(new nn.Dropout(0).forward(x), x);
    assert.ok(flat(new nn.Dropout(1).forward(x)).every((v) => v === 0));
    assert.throws(() => new nn.Dropout(1.5), /Dropout: p must be in \[0, 1\], got 1.5/);
    assert.throws(() => new nn.Dropout(0.5).forward(d.ones([2], { dtype: 'int32' })), /Dropout: expects a float32 or float64 tensor, got int32/);
  });

  it('drops a fraction p and scales the rest by 1/(1-p), keeping the expected value', () => {
    const p = 0.3;
    const x = d.add(d.randn([200, 100], { dtype: 'float64', generator: new d.Generator(1) }), 2);
    const y = new nn.Dropout(p, { generator: new d.Generator(2) }).forward(x);
    const xs = flat(x),
      ys = flat(y);
    let zeros = 0;
    ys.forEach((v, i) => {
      if (v === 0) zeros++;
      else assert.ok(Math.abs(v - xs[i]! / (1 - p)) < 1e-12, `kept value ${v} should be ${xs[i]! / (1 - p)}`);
    });
    // fraction dropped: p = 0.3 with std sqrt(0.21 / 20000) = 0.0032
    assert.ok(Math.abs(zeros / 20000 - p) < 0.012, `dropped fraction ${zeros / 20000}`);
    // E[y] = x: the mean output matches the mean input (std of the difference about 0.007 here)
    const diff = d.mean(y).item() - d.mean(x).item();
    assert.ok(Math.abs(diff) < 0.03, `mean(y) - mean(x) = ${diff}`);
  });

  it('is reproducible from a seed, and different across draws', () => {
    const x = d.ones([50]);
    const a = new nn.Dropout(0.5, { generator: new d.Generator(11) });
    const b = new nn.Dropout(0.5, { generator: new d.Generator(11) });
    const ya = flat(a.forward(x));
    assert.deepEqual(flat(b.forward(x)), ya);
    assert.notDeepEqual(flat(a.forward(x)), ya, 'the next mask is a new draw');
    assert.notDeepEqual(flat(new nn.Dropout(0.5, { generator: new d.Generator(12) }).forward(x)), ya);
  });

  it('passes the gradient through the kept units only, scaled', () => {
    const x = d.ones([40], { dtype: 'float64' });
    const drop = new nn.Dropout(0.25, { generator: new d.Generator(5) });
    let out: number[] = [];
    const g = d.grad(() => {
      const y = drop.forward(x);
      out = flat(y);
      return d.sum(y);
    }, [x]);
    // y = x * m / 0.75 so dy/dx = m / 0.75, which equals y itself when x = 1
    assert.deepEqual(flat(g.get(x)), out);
    assert.ok(out.some((v) => v === 0) && out.some((v) => v === 1 / 0.75));
  });
});

describe('Flatten and activations', () => {
  it('Flatten merges all but the batch axis by default', () => {
    const x = d.zeros([2, 3, 4]);
    assert.deepEqual(new nn.Flatten().forward(x).shape, [2, 12]);
    assert.deepEqual(new nn.Flatten(0).forward(x).shape, [24]);
    assert.deepEqual(new nn.Flatten(0, 1).forward(x).shape, [6, 4]);
  });

  it('activation modules compute their functions', () => {
    const x = d.tensor([-1, 0, 2], { dtype: 'float64' });
    assert.deepEqual(new nn.ReLU().forward(x).toArray(), [0, 0, 2]);
    assertClose(new nn.LeakyReLU(0.2).forward(x), [-0.2, 0, 2]);
    // ELU(alpha = 2) at -1: 2 (e^-1 - 1) = -1.2642411176571153
    assertClose(new nn.ELU(2).forward(x), [-1.2642411176571153, 0, 2], { atol: 1e-14 });
    // GELU(1) = Phi(1) = 0.8413447460685429; tanh form: 0.5 (1 + tanh(sqrt(2/pi) (1 + 0.044715)))
    const one = d.tensor([1], { dtype: 'float64' });
    assertClose(new nn.GELU().forward(one), [0.8413447460685429], { atol: 1e-14 });
    assertClose(new nn.GELU('tanh').forward(one), [0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * 1.044715))], { atol: 1e-14 });
    assert.throws(() => new nn.GELU('fast' as 'tanh'), /GELU: approximate must be 'none' or 'tanh'/);
    assertClose(new nn.Sigmoid().forward(x), [1 / (1 + Math.E), 0.5, 1 / (1 + Math.exp(-2))]);
    assertClose(new nn.Tanh().forward(x), [Math.tanh(-1), 0, Math.tanh(2)]);
    assertClose(new nn.Softplus().forward(x), [Math.log1p(Math.exp(-1)), Math.LN2, Math.log1p(Math.exp(2))]);
    assert.equal(new nn.Identity().forward(x), x);
  });

  it('Softmax and LogSoftmax act along the chosen axis', () => {
    const x = f64([
      [1, 1],
      [1, 3],
    ]);
    // axis 0, column 1: e^1 / (e^1 + e^3) = 1 / (1 + e^2) = 0.11920292202211755
    const s0 = 1 / (1 + Math.E ** 2);
    assertClose(
      new nn.Softmax(0).forward(x),
      [
        [0.5, s0],
        [0.5, 1 - s0],
      ],
      { atol: 1e-14 },
    );
    assertClose(
      new nn.Softmax().forward(x),
      [
        [0.5, 0.5],
        [s0, 1 - s0],
      ],
      { atol: 1e-14 },
    );
    assertClose(
      new nn.LogSoftmax(-1).forward(x),
      [
        [-Math.LN2, -Math.LN2],
        [Math.log(s0), Math.log(1 - s0)],
      ],
      { atol: 1e-14 },
    );
  });
});

describe('mlp', () => {
  const kinds = (s: nn.Sequential) => [...s].map((m) => m.constructor.name);

  it('alternates Linear and activation, with none after the last Linear', () => {
    assert.deepEqual(kinds(nn.mlp([4, 16, 8, 2])), ['Linear', 'ReLU', 'Linear', 'ReLU', 'Linear']);
    const net = nn.mlp([4, 16, 8, 2], { activation: 'tanh', dropout: 0.1 });
    assert.deepEqual(kinds(net), ['Linear', 'Tanh', 'Dropout', 'Linear', 'Tanh', 'Dropout', 'Linear']);
    assert.deepEqual(
      net.namedParameters().map(([n, t]) => `${n} [${t.shape}]`),
      ['0.weight [16,4]', '0.bias [16]', '3.weight [8,16]', '3.bias [8]', '6.weight [2,8]', '6.bias [2]'],
    );
    assert.deepEqual(kinds(nn.mlp([3, 1])), ['Linear']);
    const custom = nn.mlp([3, 5, 1], { activation: () => new nn.LeakyReLU(0.2) });
    assert.equal((custom.at(1) as nn.LeakyReLU).negativeSlope, 0.2);
    assert.deepEqual(custom.forward(d.ones([7, 3])).shape, [7, 1]);
  });

  it('is reproducible from a generator and checks its arguments', () => {
    const a = nn.mlp([3, 4, 2], { generator: new d.Generator(3), dtype: 'float64' });
    const b = nn.mlp([3, 4, 2], { generator: new d.Generator(3), dtype: 'float64' });
    for (const [k, t] of Object.entries(a.stateDict())) assert.deepEqual(flat(b.stateDict()[k]!), flat(t), k);
    assert.equal(a.parameters()[0]!.dtype, 'float64');
    assert.throws(() => nn.mlp([3]), /mlp: sizes needs at least an input and an output size/);
    assert.throws(() => nn.mlp([3, 2, 1], { activation: 'swish' as 'relu' }), /mlp: unknown activation "swish"/);
    assert.throws(() => nn.mlp([3, 2, 1], { dropout: -0.1 }), /mlp: dropout must be in \[0, 1\]/);
  });
});
