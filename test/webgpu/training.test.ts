/**
 * Training on the webgpu backend: a small MLP, stepped by hand (valueAndGrad, SGD with momentum,
 * the loss read with itemAsync), follows the wasm backend's loss curve; GPU memory stays flat over
 * many steps; and reading a GPU tensor synchronously is a clear error, never a wrong value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setBackend } from '../../src/backend/index.js';
import * as d from '../../src/index.js';
import { onBackend, webgpuSuite } from './setup.js';

/** 128 examples of 16 features in 4 classes, the same on every backend (host values). */
function data(): { x: Float32Array; y: Int32Array } {
  const g = new d.Generator(7);
  const x = new Float32Array(128 * 16).map(() => g.nextFloat64() * 2 - 1);
  // the class: which of the first four features is largest (learnable, not linear)
  const y = new Int32Array(128).map((_, i) => [0, 1, 2, 3].reduce((best, j) => (x[i * 16 + j]! > x[i * 16 + best]! ? j : best), 0));
  return { x, y };
}

/** `steps` SGD steps of a [16, 32, 4] MLP on backend `name`; the loss of each step. */
async function train(name: string, steps: number, onStep?: (i: number) => void): Promise<number[]> {
  return onBackend(name, async () => {
    d.manualSeed(0);
    const model = d.mlp([16, 32, 4]);
    const opt = new d.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const { x: xv, y: yv } = data();
    const x = d.tensor(xv, { shape: [128, 16] }),
      y = d.tensor(yv);
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) {
      const loss = d.scope(() => {
        const { value, grads } = d.valueAndGrad(() => d.crossEntropy(model.forward(x), y), model.parameters());
        opt.step(grads);
        return value;
      });
      losses.push(await loss.itemAsync());
      loss.dispose();
      onStep?.(i);
    }
    return losses;
  });
}

describe('training on webgpu', () => {
  const onGpu = webgpuSuite();

  it('an MLP follows the wasm backend loss curve for 20 steps (within 1e-3 relative)', async (t) => {
    if (!onGpu(t)) return;
    const cpu = await train(d.listBackends().includes('wasm') ? 'wasm' : 'js', 20);
    const gpu = await train('webgpu', 20);
    for (let i = 0; i < 20; i++) assert.ok(Math.abs(gpu[i]! - cpu[i]!) <= 1e-3 * Math.abs(cpu[i]!), `step ${i}: webgpu ${gpu[i]} vs ${cpu[i]}`);
    assert.ok(gpu[19]! < 0.9 * gpu[0]!, `the loss falls: ${gpu[0]} -> ${gpu[19]}`);
  });

  it('a small CNN (convolution, ReLU, max pooling, linear) follows the wasm backend for 5 steps', async (t) => {
    if (!onGpu(t)) return;
    const cnn = async (name: string): Promise<number[]> => {
      setBackend(name);
      try {
        d.manualSeed(0);
        const model = new d.Sequential(new d.Conv2d(1, 4, 3), new d.ReLU(), new d.MaxPool2d(2), new d.Flatten(), new d.Linear(4 * 3 * 3, 3));
        const opt = new d.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
        const g = new d.Generator(3);
        const x = d.tensor(
          new Float32Array(8 * 64).map(() => g.nextFloat64()),
          { shape: [8, 1, 8, 8] },
        );
        const y = d.tensor(new Int32Array(8).map((_, i) => i % 3));
        const losses: number[] = [];
        for (let i = 0; i < 5; i++) {
          const loss = d.scope(() => {
            const { value, grads } = d.valueAndGrad(() => d.crossEntropy(model.forward(x), y), model.parameters());
            opt.step(grads);
            return value;
          });
          losses.push(await loss.itemAsync());
        }
        return losses;
      } finally {
        setBackend('js');
      }
    };
    const cpu = await cnn(d.listBackends().includes('wasm') ? 'wasm' : 'js');
    const gpu = await cnn('webgpu');
    for (let i = 0; i < 5; i++) assert.ok(Math.abs(gpu[i]! - cpu[i]!) <= 1e-3 * Math.abs(cpu[i]!), `step ${i}: webgpu ${gpu[i]} vs ${cpu[i]}`);
  });

  it('batches kernels into one submission until a read (and splits only every 1024 dispatches)', async (t) => {
    const g = onGpu(t);
    if (!g) return;
    setBackend('webgpu');
    try {
      let x = d.tensor([1, 2, 3]);
      const before = g.memory().submits;
      for (let i = 0; i < 10; i++) x = d.add(x, 1); // ten kernels, no read
      assert.equal(g.memory().submits, before, 'nothing is submitted before a read');
      assert.deepEqual(Array.from(await x.dataAsync()), [11, 12, 13]); // 1 + 10, 2 + 10, 3 + 10
      assert.equal(g.memory().submits, before + 1, 'one submission for the ten kernels and the copy back');
      for (let i = 0; i < 2100; i++) x = d.add(x, 1);
      assert.equal(g.memory().submits, before + 3, 'the 1024-dispatch limit flushed twice (at 1024 and 2048)');
      assert.deepEqual(Array.from(await x.dataAsync()), [2111, 2112, 2113]); // 11 + 2100, ...
    } finally {
      setBackend('js');
    }
  });

  it('GPU memory stays flat over many steps (pooled buffers, no leak)', async (t) => {
    const g = onGpu(t);
    if (!g) return;
    const seen: { created: number; inUse: number }[] = [];
    await train('webgpu', 40, (i) => {
      if (i === 9 || i === 39) seen.push({ created: g.memory().buffersCreated, inUse: g.memory().bytesInUse });
    });
    // after a warm-up, each step reuses the buffers the previous step released: no buffer is created
    // after step 10, and no more bytes are held at step 40 than at step 10 (fewer where the garbage
    // collector has meanwhile freed tensors of the earlier test)
    assert.equal(seen[1]!.created, seen[0]!.created, `buffers created by step 10 and by step 40: ${JSON.stringify(seen)}`);
    assert.ok(seen[1]!.inUse <= seen[0]!.inUse, `bytes in use at step 10 and at step 40: ${JSON.stringify(seen)}`);
  });

  it('reading a GPU tensor synchronously throws an error naming the async call; the async reads work', async (t) => {
    if (!onGpu(t)) return;
    setBackend('webgpu');
    try {
      const x = d.tensor([1, 2, 3, 4], { shape: [2, 2] });
      const y = d.mul(x, x); // [[1, 4], [9, 16]], computed on the GPU
      assert.throws(() => y.data, /await t\.dataAsync\(\)/);
      assert.throws(() => y.dataSync(), /await t\.dataAsync\(\)/);
      assert.throws(() => d.sum(y).item(), /await t\.itemAsync\(\)/);
      assert.throws(() => y.toArray(), /GPU memory/);
      assert.deepEqual(Array.from(await y.dataAsync()), [1, 4, 9, 16]);
      assert.deepEqual(await y.toArrayAsync(), [
        [1, 4],
        [9, 16],
      ]);
      assert.equal(await d.sum(y).itemAsync(), 30); // 1 + 4 + 9 + 16
      // after an awaited read the host keeps a copy, until a kernel writes the tensor again
      assert.deepEqual(Array.from(y.data), [1, 4, 9, 16]);
    } finally {
      setBackend('js');
    }
  });

  it('float64 stays on the host and runs the reference kernels; mixing it with GPU data is the async-read error', async (t) => {
    if (!onGpu(t)) return;
    setBackend('webgpu');
    try {
      const x = d.tensor(new Float64Array([1.5, -2, 3]));
      const y = d.add(d.mul(x, x), 1); // [1.5^2 + 1, 4 + 1, 9 + 1] = [3.25, 5, 10]
      assert.equal(y.storage.backend, 'webgpu');
      assert.deepEqual(Array.from(y.data), [3.25, 5, 10]); // synchronous: never on the GPU
      const onGpu = d.relu(d.tensor([1, -1])); // float32, computed on the GPU
      assert.throws(() => d.cast(onGpu, 'float64'), /await t\.dataAsync\(\)/);
      assert.deepEqual(Array.from(await d.cast(d.tensor([1.25, -1]), 'float64').dataAsync()), [1.25, -1]); // host values cast on the host
    } finally {
      setBackend('js');
    }
  });
});
