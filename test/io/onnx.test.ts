/**
 * ONNX export and import, checked against ONNX Runtime (onnxruntime-node): every exported model
 * runs there on random inputs (a batch size other than the example's: the batch axis is dynamic)
 * and matches Descent within float32 rounding; importing the file gives back the same outputs and
 * the same gradients, and the imported model trains.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import * as d from '../../src/index.js';
import { buildModelFromSpec } from '../../src/cli/model-spec.js';
import { decodeOnnxModel, encodeOnnxModel } from '../../src/io/onnx/index.js';
import '../helpers.js';
import { Net, warmUp } from './interop-models.js';

const { nn } = d;

async function runOrt(bytes: Uint8Array, x: d.Tensor): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const type = x.dtype === 'int32' ? 'int32' : 'float32';
  const { output } = await session.run({ input: new ort.Tensor(type, x.dataSync() as Float32Array | Int32Array, [...x.shape]) });
  return output!.data as Float32Array;
}

/** max |a - b| / (1 + |b|): float32 rounding of values of any size. */
function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  return m;
}

const forward = (m: d.nn.Module, x: d.Tensor) => d.noGrad(() => d.scope(() => Array.from(m.forward(x).dataSync())));

/** Gradients of sum(y * seed) with respect to every parameter, by state-dict key. */
function gradsByName(m: d.nn.Module, x: d.Tensor, seed: d.Tensor): Map<string, number[]> {
  const named = m.namedParameters();
  const g = d.grad(
    () => d.sum(d.mul(m.forward(x), seed)),
    named.map(([, p]) => p),
  );
  return new Map(named.map(([k, p]) => [k, Array.from(g.get(p).dataSync())]));
}

interface Case {
  name: string;
  make: () => d.nn.Module;
  /** An example input of batch size n. */
  input: (n: number) => d.Tensor;
}

const image = (c: number, h: number) => (n: number) => d.randn([n, c, h, h]);

const CASES: Case[] = [
  { name: 'MLP 784-64-32-10', make: () => nn.mlp([784, 64, 32, 10]), input: (n) => d.rand([n, 784]) },
  {
    name: 'the benchmark CNN (--model cnn)',
    make: () => buildModelFromSpec('cnn', { inputSize: 784, numClasses: 10, activation: 'relu', dropout: 0 })!,
    input: (n) => d.rand([n, 784]),
  },
  {
    name: 'BatchNorm and residual blocks (--model conv:8x3same,bn,pool:2,res:8,res:12,avgpool:2,gap,dense:16,bn)',
    make: () =>
      buildModelFromSpec('conv:8x3same,bn,pool:2,res:8,res:12,avgpool:2,drop:0.2,gap,dense:16,bn', {
        inputSize: 144,
        numClasses: 5,
        activation: 'gelu',
        dropout: 0.1,
      })!,
    input: (n) => d.randn([n, 144]),
  },
  {
    name: 'LayerNorm, activations, Softmax',
    make: () =>
      new nn.Sequential(
        new nn.Linear(12, 16),
        new nn.LayerNorm(16),
        new nn.GELU('tanh'),
        new nn.Linear(16, 16, { bias: false }),
        new nn.LeakyReLU(0.2),
        new nn.Unflatten(1, [4, 4]),
        new nn.ELU(0.5),
        new nn.Tanh(),
        new nn.Flatten(),
        new nn.Softplus(),
        new nn.Sigmoid(),
        new nn.Linear(16, 6),
        new nn.LogSoftmax(),
      ),
    input: (n) => d.randn([n, 12]),
  },
  {
    name: 'rank-3 inputs: Linear as MatMul, LayerNorm over two axes',
    make: () => new nn.Sequential(new nn.Linear(4, 6), new nn.LayerNorm([3, 6]), new nn.Linear(6, 2, { bias: false }), new nn.Flatten()),
    input: (n) => d.randn([n, 3, 4]),
  },
  {
    name: 'strided, padded and grouped convolutions, pooling with padding',
    make: () =>
      new nn.Sequential(
        new nn.Conv2d(2, 6, 3, { stride: 2, padding: 1 }),
        new nn.ReLU(),
        new nn.Conv2d(6, 6, [3, 1], { groups: 3, padding: 'same', dilation: [2, 1] }),
        new nn.MaxPool2d(3, { stride: 2, padding: 1 }),
        new nn.AvgPool2d(2, { stride: 1, padding: 1, countIncludePad: false }),
        new nn.AdaptiveAvgPool2d(1),
        new nn.Flatten(),
        new nn.Softmax(),
      ),
    input: image(2, 11),
  },
];

describe('exportOnnx: ONNX Runtime runs every exported model with Descent outputs', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      d.manualSeed(11);
      const model = c.make();
      warmUp(model, c.input(4).shape); // BatchNorm statistics away from 0 and 1; then eval mode
      const bytes = d.exportOnnx(model, c.input(2));
      const x = c.input(5);
      const diff = maxRelDiff(await runOrt(bytes, x), forward(model, x));
      assert.ok(diff < 2e-5, `ONNX Runtime vs Descent: ${diff}`);

      // import: the same outputs, and the same gradients under the same state-dict keys
      const back = d.importOnnx(bytes);
      assert.deepEqual(
        Object.keys(back.stateDict()).sort(),
        Object.keys(model.stateDict())
          .filter((k) => !k.endsWith('num_batches_tracked'))
          .sort(),
      );
      assert.ok(maxRelDiff(forward(back, x), forward(model, x)) < 1e-5);
      const seed = d.randn(model.forward(x).shape);
      const g0 = gradsByName(model, x, seed),
        g1 = gradsByName(back, x, seed);
      assert.deepEqual([...g1.keys()].sort(), [...g0.keys()].sort());
      for (const [k, g] of g0) assert.ok(maxRelDiff(g1.get(k)!, g) < 1e-4, `gradient of ${k}`);
    });
  }

  it('an Embedding model (int32 input, Gather)', async () => {
    d.manualSeed(2);
    const model = new nn.Sequential(new nn.Embedding(10, 4), new nn.Flatten(), new nn.Linear(12, 3));
    const idx = (n: number) => d.randint(0, 10, [n, 3], { dtype: 'int32' });
    const bytes = d.exportOnnx(model, idx(2));
    const x = idx(6);
    assert.ok(maxRelDiff(await runOrt(bytes, x), forward(model, x)) < 1e-6);
    assert.ok(maxRelDiff(forward(d.importOnnx(bytes), x), forward(model, x)) < 1e-6);
  });

  it('leaves the model as it was: training flags restored, no parameter changed', () => {
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.BatchNorm1d(4), new nn.Dropout(0.5));
    const before = model.stateDict()['1.running_mean']!.dataSync().slice();
    d.exportOnnx(model, d.randn([2, 3]));
    assert.ok(model.namedModules().every(([, m]) => m.training));
    assert.deepEqual(model.stateDict()['1.running_mean']!.dataSync(), before);
  });

  it("a user's own Module is traced on the tape: GroupNorm, a subclass overriding forward, ops called in forward", async () => {
    class Square extends nn.Module {
      forward(x: d.Tensor) {
        return d.add(d.mul(x, x), d.sub(d.max(x, [1], true), d.mean(x, [1], true)));
      }
    }
    class ClampedLinear extends nn.Linear {
      override forward(x: d.Tensor) {
        const y = super.forward(x);
        return d.where(d.gt(y, 1), 1, d.clamp(d.log1p(d.abs(y)), -2, 2));
      }
    }
    d.manualSeed(4);
    const cases: [d.nn.Module, (n: number) => d.Tensor][] = [
      [
        new nn.Sequential(new nn.Linear(3, 4), new nn.Residual(new nn.Sequential(new Square())), new ClampedLinear(4, 4), new nn.Softmax()),
        (n) => d.randn([n, 3]),
      ],
      [new nn.Sequential(new nn.Conv2d(2, 4, 3), new nn.GroupNorm(2, 4), new nn.Flatten(), new nn.Linear(36, 2)), (n) => d.randn([n, 2, 5, 5])],
      [new Net().eval(), (n) => d.randn([n, 6])],
    ];
    for (const [model, input] of cases) {
      const bytes = d.exportOnnx(model, input(2));
      const x = input(5);
      const diff = maxRelDiff(await runOrt(bytes, x), forward(model, x));
      assert.ok(diff < 2e-5, `${model.constructor.name}: ONNX Runtime vs Descent: ${diff}`);
      assert.ok(maxRelDiff(forward(d.importOnnx(bytes), x), forward(model, x)) < 2e-5);
    }
  });

  it('refuses an op with no ONNX form, naming the layer and the op; BatchNorm without running statistics', () => {
    class ConvInside extends nn.Module {
      conv = new nn.Conv2d(1, 2, 3);
      forward(x: d.Tensor) {
        return d.relu(this.conv.forward(x));
      }
    }
    assert.throws(
      () => d.exportOnnx(new nn.Sequential(new nn.ReLU(), new ConvInside()), d.randn([1, 1, 4, 4])),
      /exportOnnx: layer '1' \(ConvInside\) has no export rule of its own, and its forward uses the op 'im2col', which has no ONNX form \(a convolution or pooling: hold Conv2d/,
    );
    assert.throws(
      () => d.exportOnnx(new nn.BatchNorm1d(3, { trackRunningStats: false }), d.randn([2, 3])),
      /layer '' \(BatchNorm1d\) has trackRunningStats = false/,
    );
  });
});

describe('importOnnx', () => {
  it('an imported model trains: the loss falls', () => {
    d.manualSeed(5);
    const model = buildModelFromSpec('conv:4x3same,bn,pool:2,res:4,flatten,dense:8', { inputSize: 64, numClasses: 3, activation: 'relu', dropout: 0 })!;
    warmUp(model, [4, 64]);
    const net = d.importOnnx(d.exportOnnx(model, d.randn([1, 64])));
    const x = d.randn([24, 64]);
    const y = d.randint(0, 3, [24], { dtype: 'int32' });
    const opt = new d.Adam(net.parameters(), { lr: 0.01 });
    const losses: number[] = [];
    for (let step = 0; step < 15; step++) {
      losses.push(
        d.scope(() => {
          const { value, grads } = d.valueAndGrad(() => d.crossEntropy(net.forward(x), y), net.parameters());
          opt.step(grads);
          return value.item();
        }),
      );
    }
    assert.ok(losses.at(-1)! < 0.7 * losses[0]!, `loss ${losses[0]} -> ${losses.at(-1)}`);
  });

  it('the protobuf codec round-trips a model exactly', () => {
    const model = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.Flatten(), new nn.Linear(2 * 9, 2));
    const bytes = d.exportOnnx(model, d.randn([1, 1, 5, 5]));
    const decoded = decodeOnnxModel(bytes);
    assert.equal(decoded.opsetVersion, 17);
    assert.deepEqual(decoded.graph.inputs[0]!.dims, ['batch', 1, 5, 5]);
    assert.deepEqual(decoded.graph.outputs[0]!.dims, ['batch', 2]);
    assert.deepEqual(
      decoded.graph.nodes.map((n) => n.opType),
      ['Conv', 'Flatten', 'Gemm'],
    );
    assert.deepEqual(encodeOnnxModel(decoded), bytes);
  });

  it('errors name the part of the file, or the node and operator', () => {
    const bytes = d.exportOnnx(nn.mlp([3, 4, 2]), d.randn([1, 3]));
    assert.throws(
      () => d.importOnnx(bytes.subarray(0, bytes.length - 7)),
      (e: Error) => e instanceof d.OnnxImportError && /importOnnx: not a valid ONNX file: .*truncated/.test(e.message),
    );
    assert.throws(() => d.importOnnx(new TextEncoder().encode('hello, world')), /importOnnx: not a valid ONNX file/);
    const m = decodeOnnxModel(bytes);
    m.graph.nodes[1]!.opType = 'Celu';
    assert.throws(() => d.importOnnx(encodeOnnxModel(m)), /importOnnx: node 1 \(Celu '\/1\/Relu'\): operator Celu is not supported; Descent imports Add, Sub/);
    m.graph.nodes[1]!.opType = 'Relu';
    m.graph.nodes[1]!.inputs = ['nowhere'];
    assert.throws(() => d.importOnnx(encodeOnnxModel(m)), /node 1 \(Relu '\/1\/Relu'\): input 'nowhere' is not defined/);
    m.opsetVersion = 19;
    assert.throws(() => d.importOnnx(encodeOnnxModel(m)), /opset 19 is not supported \(expected 13 to 17/);
  });

  it('SyncBatchNorm exports as BatchNormalization, as the BatchNorm it replaced', () => {
    d.manualSeed(1);
    const make = () => new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2), new nn.ReLU(), new nn.Flatten(), new nn.Linear(8, 2));
    const x = d.randn([1, 1, 4, 4]);
    d.manualSeed(2);
    const plain = d.exportOnnx(make(), x);
    d.manualSeed(2);
    const synced = d.SyncBatchNorm.convertSyncBatchnorm(make());
    assert.ok(synced.namedModules().some(([, m]) => m instanceof d.SyncBatchNorm));
    assert.deepEqual(
      decodeOnnxModel(d.exportOnnx(synced, x)).graph.nodes.map((n) => n.opType),
      decodeOnnxModel(plain).graph.nodes.map((n) => n.opType),
    );
  });

  it('random byte flips and cuts: an OnnxImportError naming the part, never another error, at import', () => {
    d.manualSeed(1);
    const model = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2), new nn.ReLU(), new nn.Flatten(), new nn.Linear(8, 2));
    const bytes = d.exportOnnx(model, d.randn([1, 1, 4, 4]));
    const g = new d.Generator(3);
    for (let k = 0; k < 2000; k++) {
      const b = bytes.slice();
      for (let f = g.nextInt(3); f >= 0; f--) b[g.nextInt(b.length)] = g.nextInt(256);
      try {
        d.importOnnx(g.nextInt(4) === 0 ? b.subarray(0, g.nextInt(b.length)) : b);
      } catch (e) {
        assert.ok(e instanceof d.OnnxImportError, `case ${k}: ${String(e)}`);
        assert.match(e.message, /^importOnnx: /);
      }
    }
  });

  it('a wrong input shape is an error naming the input; an op error names the node', () => {
    const net = d.importOnnx(d.exportOnnx(nn.mlp([3, 4, 2]), d.randn([1, 3])));
    assert.throws(() => net.forward(d.randn([2, 5])), /ImportedOnnxModel: the input 'input' is \[batch, 3\] in the ONNX file, got shape \[2, 5\]/);
    const m = decodeOnnxModel(d.exportOnnx(nn.mlp([3, 4, 2]), d.randn([1, 3])));
    m.graph.nodes[0]!.attributes = m.graph.nodes[0]!.attributes.filter((a) => a.name !== 'transB'); // W [4, 3] no longer transposed
    assert.throws(
      () => d.importOnnx(encodeOnnxModel(m)).forward(d.randn([2, 3])),
      (e: Error) => e instanceof RangeError && /^ImportedOnnxModel: node 0 \(Gemm '\/0\/Gemm'\): matmul/.test(e.message),
    );
  });
});
