/**
 * Models that travel between PyTorch and Descent, against files PyTorch wrote
 * (scripts/torch-state-dict.py, committed in test/io/fixtures/torch/ because CI has no torch):
 * - PyTorch's state_dict of an MLP, a net with named submodules and BatchNorm1d, and a CNN with
 *   BatchNorm2d and a residual block loads into the same architecture built with Descent
 *   (loadStateDict strict) and gives PyTorch's outputs;
 * - Descent's files of those models are what PyTorch loaded with load_state_dict(strict=True),
 *   and PyTorch's outputs with them are Descent's;
 * - torch.onnx.export's files (opset 17: Gemm, Conv with BatchNorm folded in, BatchNormalization,
 *   MaxPool, AveragePool after a Pad, a Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain)
 *   run in ONNX Runtime and import into Descent with PyTorch's outputs and state-dict keys.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import * as d from '../../src/index.js';
import { loadSafetensors } from '../../src/node/index.js';
import '../helpers.js';
import { INTEROP_MODELS } from './interop-models.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'torch');
const fixture = (f: string) => loadSafetensors(join(FIXTURES, f)).tensors;

/** max |a - b| / (1 + |b|). */
function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  return m;
}

const run = (m: d.nn.Module, x: d.Tensor) => d.noGrad(() => d.scope(() => Array.from(m.forward(x).dataSync())));

/** Names, shapes and dtypes of a safetensors file's header, sorted. */
function layout(tensors: Record<string, d.Tensor>): string[] {
  return Object.entries(tensors)
    .map(([k, t]) => `${k} [${t.shape.join(', ')}] ${t.dtype}`)
    .sort();
}

describe('PyTorch state dicts into Descent, and Descent files into PyTorch', () => {
  for (const [name, { make }] of Object.entries(INTEROP_MODELS)) {
    it(`${name}: PyTorch's state_dict loads (strict) and gives PyTorch's outputs`, () => {
      const io = fixture(`torch-${name}-io.safetensors`);
      const model = make().eval();
      const sd = fixture(`torch-${name}.safetensors`);
      model.loadStateDict(sd, true);
      assert.ok(maxRelDiff(run(model, io.x!), io.y!.dataSync()) < 1e-5, 'outputs');
      // what Descent saves has PyTorch's layout: the same keys, shapes and (after reading) dtypes
      assert.deepEqual(layout(d.decodeSafetensors(d.encodeSafetensors(model.stateDict())).tensors), layout(sd));
      // ...and num_batches_tracked is I64 in both files, as PyTorch writes it
      for (const file of [`torch-${name}.safetensors`, `descent-${name}.safetensors`]) {
        const bytes = readFileSync(join(FIXTURES, file));
        const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString()) as Record<string, { dtype: string }>;
        for (const [k, e] of Object.entries(header)) if (k.endsWith('num_batches_tracked')) assert.equal(e.dtype, 'I64', `${file}: ${k}`);
      }
    });

    it(`${name}: the file Descent wrote is what PyTorch loaded with strict=True, and PyTorch's outputs are Descent's`, () => {
      const io = fixture(`torch-${name}-io.safetensors`);
      const theirs = fixture(`descent-${name}.safetensors`);
      const model = make().eval();
      assert.deepEqual(layout(theirs), layout(d.decodeSafetensors(d.encodeSafetensors(model.stateDict())).tensors), 'the layout Descent writes today');
      model.loadStateDict(theirs, true);
      assert.ok(maxRelDiff(run(model, io.x!), fixture(`descent-${name}-torch-out.safetensors`).y!.dataSync()) < 1e-5);
    });
  }
});

describe('torch.onnx.export files (opset 17): ONNX Runtime and importOnnx give PyTorch outputs', () => {
  const keys: Record<string, string[]> = {
    mlp: ['0.weight', '0.bias', '2.weight', '2.bias'],
    net: ['fc1.weight', 'fc1.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'fc2.weight', 'fc2.bias'],
    viewnet: ['conv.weight', 'conv.bias', 'fc.weight', 'fc.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'out.weight', 'out.bias'],
  };
  for (const name of ['mlp', 'net', 'cnn', 'viewnet']) {
    it(name, async () => {
      const bytes = readFileSync(join(FIXTURES, `torch-${name}.onnx`));
      const io = fixture(`torch-${name}-io.safetensors`);
      const session = await ort.InferenceSession.create(bytes);
      const { output } = await session.run({ input: new ort.Tensor('float32', io.x!.dataSync() as Float32Array, [...io.x!.shape]) });
      assert.ok(maxRelDiff(output!.data as Float32Array, io.y!.dataSync()) < 1e-5, 'ONNX Runtime vs PyTorch');
      const model = d.importOnnx(bytes);
      assert.ok(maxRelDiff(run(model, io.x!), io.y!.dataSync()) < 1e-5, 'importOnnx vs PyTorch');
      if (keys[name]) assert.deepEqual(Object.keys(model.stateDict()), keys[name]);
      // the batch axis is dynamic: a batch of one gives the first row
      const one = d.slice(io.x!, [[0, 1]]);
      assert.ok(maxRelDiff(run(model, one), Array.from(io.y!.dataSync()).slice(0, io.y!.shape[1]!)) < 1e-5);
      // a PyTorch-exported model fine-tunes in Descent: gradients reach every parameter
      const g = d.grad(() => d.sum(model.forward(io.x!)), model.parameters());
      for (const p of model.parameters())
        assert.ok(
          g
            .get(p)
            .dataSync()
            .some((v) => v !== 0),
          'a non-zero gradient for every parameter',
        );
    });
  }

  it('a PyTorch model fine-tuned in Descent exports back to ONNX, with the new weights', async () => {
    const model = d.importOnnx(readFileSync(join(FIXTURES, 'torch-viewnet.onnx')));
    const io = fixture('torch-viewnet-io.safetensors');
    const y = d.tensor([0, 2], { dtype: 'int32' });
    const opt = new d.SGD(model.parameters(), { lr: 0.1 });
    const losses: number[] = [];
    for (let i = 0; i < 5; i++)
      losses.push(
        d.scope(() => {
          const { value, grads } = d.valueAndGrad(() => d.nllLoss(model.forward(io.x!), y), model.parameters());
          opt.step(grads);
          return value.item();
        }),
      );
    assert.ok(losses.at(-1)! < losses[0]!, `loss ${losses.join(' -> ')}`);
    const bytes = d.exportOnnx(model, io.x!);
    const session = await ort.InferenceSession.create(bytes);
    const { output } = await session.run({ input: new ort.Tensor('float32', io.x!.dataSync() as Float32Array, [...io.x!.shape]) });
    const tuned = run(model, io.x!);
    assert.ok(maxRelDiff(output!.data as Float32Array, tuned) < 1e-5, 'ONNX Runtime runs the fine-tuned weights');
    assert.ok(maxRelDiff(tuned, io.y!.dataSync()) > 1e-3, 'the weights did change');
  });
});
