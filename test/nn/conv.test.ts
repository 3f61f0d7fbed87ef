/** Conv2d, pooling layers, Dropout2d, AlphaDropout, Unflatten, Embedding and Residual. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { assertClose, flat } from '../helpers.js';

describe('Conv2d', () => {
  it('has PyTorch shapes and initialisation: U(+-1/sqrt(fanIn)) with fanIn = inChannels/groups * kh * kw', () => {
    const conv = new nn.Conv2d(4, 6, [3, 2], { groups: 2, generator: new d.Generator(1) });
    assert.deepEqual(conv.weight.shape, [6, 2, 3, 2]);
    assert.deepEqual(conv.bias!.shape, [6]);
    const bound = 1 / Math.sqrt(2 * 3 * 2); // 0.2887
    const w = flat(conv.weight);
    assert.ok(w.every((v) => Math.abs(v) <= bound) && Math.max(...w.map(Math.abs)) > 0.25 * bound);
    assert.ok(flat(conv.bias!).every((v) => Math.abs(v) <= bound));
    assert.deepEqual(conv.forward(d.ones([2, 4, 5, 5])).shape, [2, 6, 3, 4]);
    assert.throws(() => conv.forward(d.ones([2, 3, 5, 5])), /Conv2d: expected input \[N, 4, H, W\] \(NCHW\), got shape \[2, 3, 5, 5\]/);
    assert.throws(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), /Conv2d: inChannels \(3\) and outChannels \(4\) must both be divisible by groups \(2\)/);
    assert.equal(new nn.Conv2d(1, 2, 3, { bias: false }).bias, null);
  });

  it("computes conv2d with its weight; padding 'same' keeps the size", () => {
    const conv = new nn.Conv2d(1, 1, 2, { dtype: 'float64', padding: 'same' });
    conv.weight.assign(
      d.tensor(
        [
          [
            [
              [1, 1],
              [1, 1],
            ],
          ],
        ],
        { dtype: 'float64' },
      ),
    );
    conv.bias!.assign(d.tensor([1], { dtype: 'float64' }));
    const x = d.tensor(
      [
        [
          [
            [1, 2, 3],
            [4, 5, 6],
            [7, 8, 9],
          ],
        ],
      ],
      { dtype: 'float64' },
    );
    // 2x2 window sums with the extra padding at the bottom/right (see test/ops/conv.test.ts), plus 1
    assert.deepEqual(conv.forward(x).toArray(), [
      [
        [
          [13, 17, 10],
          [25, 29, 16],
          [16, 18, 10],
        ],
      ],
    ]);
  });
});

describe('memory', () => {
  it('a training step of a conv / batch-norm / pooling network leaves no tensor behind', () => {
    const g = new d.Generator(2);
    const net = new nn.Sequential(
      new nn.Conv2d(2, 4, 3, { padding: 1, generator: g }),
      new nn.BatchNorm2d(4),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
      new nn.Dropout2d(0.2, { generator: g }),
      new nn.AvgPool2d(2),
      new nn.Flatten(),
      new nn.Linear(4, 3, { generator: g }),
    );
    const x = d.randn([5, 2, 4, 4], { generator: g }),
      y = d.tensor([0, 1, 2, 1, 0], { dtype: 'int32' });
    const opt = new d.SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
    const step = () =>
      d.scope(() => {
        const { value, grads } = d.valueAndGrad(() => nn.crossEntropy(net.forward(x), y), net.parameters());
        opt.step(grads);
        return value.item();
      });
    step(); // the optimizer creates its momentum buffers on the first step
    const before = d.memory();
    const losses = [step(), step()];
    const after = d.memory();
    assert.equal(after.tensors, before.tensors);
    assert.equal(after.bytes, before.bytes);
    assert.ok(losses.every(Number.isFinite));
  });
});

describe('pooling layers', () => {
  it('MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and GlobalAvgPool2d call their ops', () => {
    const x = d.reshape(d.arange(0, 16, 1, { dtype: 'float64' }), [1, 1, 4, 4]);
    assert.deepEqual(new nn.MaxPool2d(2).forward(x).toArray(), [
      [
        [
          [5, 7],
          [13, 15],
        ],
      ],
    ]);
    assert.deepEqual(new nn.MaxPool2d(3, { stride: 1 }).forward(x).toArray(), [
      [
        [
          [10, 11],
          [14, 15],
        ],
      ],
    ]);
    assert.deepEqual(new nn.AvgPool2d(2).forward(x).toArray(), [
      [
        [
          [2.5, 4.5],
          [10.5, 12.5],
        ],
      ],
    ]);
    assert.deepEqual(new nn.AdaptiveAvgPool2d(1).forward(x).toArray(), [[[[7.5]]]]);
    assert.deepEqual(new nn.GlobalAvgPool2d().forward(x).toArray(), [[7.5]]);
  });
});

describe('dropout variants', () => {
  it('Dropout2d zeroes whole channels, scales the kept ones by 1/(1-p), and is the identity in eval', () => {
    const drop = new nn.Dropout2d(0.5, { generator: new d.Generator(3) });
    const y = drop.forward(d.ones([8, 16, 3, 3]));
    const v = flat(y);
    let dropped = 0;
    for (let ch = 0; ch < 8 * 16; ch++) {
      const plane = v.slice(ch * 9, ch * 9 + 9);
      assert.ok(
        plane.every((u) => u === plane[0]),
        'one draw per channel',
      );
      assert.ok(plane[0] === 0 || plane[0] === 2, 'kept channels are scaled by 1/(1-p) = 2');
      if (plane[0] === 0) dropped++;
    }
    // 128 channels, p = 0.5: the dropped count is Binomial(128, 0.5), mean 64, sd 5.7
    assert.ok(dropped > 40 && dropped < 88, `dropped ${dropped} of 128`);
    drop.eval();
    const x = d.randn([2, 3, 2, 2]);
    assert.equal(drop.forward(x), x);
    assert.throws(() => new nn.Dropout2d(0.5).forward(d.ones([4, 3])), /Dropout2d: expects \[N, C, H, W\] \(rank >= 3\)/);
  });

  it('AlphaDropout keeps a unit-normal input at mean 0 and variance 1, and sets dropped units to one value', () => {
    const g = new d.Generator(5);
    const x = d.randn([200000], { dtype: 'float64', generator: g });
    const drop = new nn.AlphaDropout(0.2, { generator: g });
    const y = drop.forward(x);
    // dropped units: a (-alpha') + a alpha' p with a = ((alpha'^2 p + 1)(1 - p))^(-1/2)
    const alpha = 1.7580993408473766,
      p = 0.2,
      a = 1 / Math.sqrt((alpha * alpha * p + 1) * (1 - p));
    const droppedValue = -alpha * a + alpha * a * p;
    const v = flat(y);
    const nDropped = v.filter((u) => Math.abs(u - droppedValue) < 1e-12).length;
    assert.ok(Math.abs(nDropped / v.length - p) < 0.01, `dropped fraction ${nDropped / v.length}`);
    assertClose(d.mean(y).item(), 0, { atol: 0.01 });
    assertClose(d.variance(y).item(), 1, { atol: 0.02 });
    drop.eval();
    assert.equal(drop.forward(x), x);
  });
});

describe('Unflatten, Embedding, Residual', () => {
  it('Unflatten splits an axis', () => {
    assert.deepEqual(new nn.Unflatten(1, [1, 28, 28]).forward(d.zeros([5, 784])).shape, [5, 1, 28, 28]);
    assert.throws(() => new nn.Unflatten(1, [2, 3]).forward(d.zeros([5, 7])), /Unflatten: sizes \[2, 3\] \(6 elements\) do not fill axis 1 of size 7/);
  });

  it('Embedding looks up rows; the gradient of a row sums its uses; paddingIdx starts at 0 and gets no gradient', () => {
    const emb = new nn.Embedding(4, 2, { dtype: 'float64', paddingIdx: 0 });
    assert.deepEqual(flat(emb.weight).slice(0, 2), [0, 0]);
    emb.weight.assign(
      d.tensor(
        [
          [9, 9],
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        { dtype: 'float64' },
      ),
    );
    const idx = d.tensor(
      [
        [1, 3],
        [1, 0],
      ],
      { dtype: 'int32' },
    );
    const out = emb.forward(idx);
    assert.deepEqual(out.toArray(), [
      [
        [1, 2],
        [5, 6],
      ],
      [
        [1, 2],
        [9, 9],
      ],
    ]);
    // d sum(out) / d weight: row 1 used twice -> 2, row 3 once -> 1, row 2 never, row 0 is padding -> 0
    const g = d.grad(() => d.sum(emb.forward(idx)), [emb.weight]).get(emb.weight);
    assert.deepEqual(g.toArray(), [
      [0, 0],
      [2, 2],
      [0, 0],
      [1, 1],
    ]);
    assert.throws(() => emb.forward(d.tensor([1.0])), /Embedding: expects int32 indices, got float32/);
  });

  it('Residual adds the skip path (identity or a projection) and names children body / shortcut', () => {
    const lin = new nn.Linear(2, 2, { dtype: 'float64', bias: false });
    lin.weight.assign(
      d.tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { dtype: 'float64' },
      ),
    );
    const res = new nn.Residual(lin);
    // x = [1, 1]: x W^T = [3, 7]; + x = [4, 8]
    assert.deepEqual(res.forward(d.tensor([[1, 1]], { dtype: 'float64' })).toArray(), [[4, 8]]);
    assert.deepEqual(
      res.namedParameters().map(([n]) => n),
      ['body.weight'],
    );
    // gradient along both paths: d sum(xW^T + x)/dx = column sums of W + 1 = [5, 7]
    const x = d.tensor([[1, 1]], { dtype: 'float64' });
    assert.deepEqual(
      d
        .grad(() => d.sum(res.forward(x)), [x])
        .get(x)
        .toArray(),
      [[5, 7]],
    );
    const proj = new nn.Residual(new nn.Conv2d(2, 4, 3, { padding: 1 }), { shortcut: new nn.Conv2d(2, 4, 1) });
    assert.deepEqual(proj.forward(d.ones([1, 2, 5, 5])).shape, [1, 4, 5, 5]);
    assert.deepEqual(
      proj.namedParameters().map(([n]) => n),
      ['body.weight', 'body.bias', 'shortcut.weight', 'shortcut.bias'],
    );
    assert.throws(() => new nn.Residual(new nn.Linear(2, 3)).forward(d.ones([1, 2])), /Residual: the body gives \[1, 3\] but the skip path gives \[1, 2\]/);
  });
});
