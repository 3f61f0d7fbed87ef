/**
 * The statistics and clipping that read values, on the webgpu backend: batchSizeSweep and
 * stepsExamplesTradeoff read with dataAsync and give the CPU's figures; clipGradNorm keeps the norm
 * and the scale on the device (PyTorch's semantics on CUDA: NaN applied, min(1, C / (norm + 1e-6)))
 * and its synchronous totalNorm is the clear async-read error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import { onBackend, webgpuSuite } from './setup.js';

const CPU = d.listBackends().includes('wasm') ? 'wasm' : 'js';

/** 96 examples of 6 features in 3 classes. */
function pool(): { x: d.Tensor; y: d.Tensor } {
  const g = new d.Generator(4);
  const x = new Float32Array(96 * 6).map(() => g.nextFloat64() * 2 - 1);
  const y = new Int32Array(96).map((_, i) => (x[i * 6]! > x[i * 6 + 1]! ? 0 : x[i * 6 + 2]! > 0 ? 1 : 2));
  return { x: d.tensor(x, { shape: [96, 6] }), y: d.tensor(y) };
}

const loss = (o: d.Tensor, t: d.Tensor, lo?: { reduction: 'none' }) => d.crossEntropy(o, t, lo);
const close = (a: number, c: number, rel: number, what: string) => assert.ok(Math.abs(a - c) <= rel * Math.abs(c) + 1e-7, `${what}: webgpu ${a} vs ${c}`);

describe('statistics and clipping on webgpu', () => {
  const onGpu = webgpuSuite();

  it('batchSizeSweep measures the same variances as on the CPU', async (t) => {
    if (!onGpu(t)) return;
    const sweep = (name: string) =>
      onBackend(name, () => {
        const { x, y } = pool();
        const model = d.mlp([6, 16, 3], { generator: new d.Generator(1) });
        return d.batchSizeSweep({ model, loss, x, y, batchSizes: [1, 4, 16], draws: 8, generator: new d.Generator(2) });
      });
    const [g, c] = [await sweep('webgpu'), await sweep(CPU)];
    close(g.trace_cov, c.trace_cov, 1e-3, 'trace_cov');
    close(g.grad_norm_sq, c.grad_norm_sq, 1e-3, 'grad_norm_sq');
    g.sweep.forEach((p, i) => close(p.measured_variance, c.sweep[i]!.measured_variance, 1e-3, `B = ${p.batch_size}`));
  });

  it('stepsExamplesTradeoff counts the same steps as on the CPU', async (t) => {
    if (!onGpu(t)) return;
    const tradeoff = (name: string) =>
      onBackend(name, () => {
        const { x, y } = pool();
        return d.stepsExamplesTradeoff({
          makeModel: () => d.mlp([6, 16, 3], { generator: new d.Generator(1) }),
          loss,
          x,
          y,
          evalX: x,
          evalY: y,
          targetLoss: 0.9,
          batchSizes: [4, 16, 64],
          lrs: [0.5, 0.2],
          maxSteps: 300,
          seed: 3,
        });
      });
    const [g, c] = [await tradeoff('webgpu'), await tradeoff(CPU)];
    assert.ok(c.points.length >= 2, `the CPU run reaches the target: ${JSON.stringify(c.points)}`);
    assert.deepEqual(
      g.points.map((p) => [p.batch_size, p.lr]),
      c.points.map((p) => [p.batch_size, p.lr]),
    );
    // float32 rounding may move a threshold crossing by a check
    g.points.forEach((p, i) =>
      assert.ok(
        Math.abs(p.steps - c.points[i]!.steps) <= Math.max(1, Math.round(64 / p.batch_size)),
        `B = ${p.batch_size}: ${p.steps} vs ${c.points[i]!.steps}`,
      ),
    );
  });

  it('clipGradNorm keeps the norm on the device: 1-, 2-, 3- and inf-norms, NaN applied, totalNorm refuses a sync read', async (t) => {
    if (!onGpu(t)) return;
    const values = [Float32Array.of(3, -4, 0.5), Float32Array.of(-1, 2, 2, -7, 0.25, 1)];
    const clip = (name: string, p: number, nan = false) =>
      onBackend(name, async () => {
        const ps = [d.zeros([3]), d.zeros([2, 3])];
        // gradients as a backward pass leaves them: made by a kernel (in GPU memory on webgpu)
        const gs = new Map(ps.map((q, i) => [q, d.mul(d.tensor(nan && i === 1 ? Float32Array.of(1, NaN, 0, 0, 0, 0) : values[i]!, { shape: q.shape }), 1)]));
        const r = d.clipGradNorm(gs, 2, p);
        // before any read (a tensor once read keeps its values on the host)
        const syncRead = r.totalNormTensor ? (() => assert.throws(() => r.totalNorm, /await t\.dataAsync\(\)/))() : undefined;
        const norm = r.totalNormTensor ? await r.totalNormTensor.itemAsync() : r.totalNorm;
        return {
          norm,
          grads: await Promise.all([...r.grads.values()].map(async (g) => Array.from(await g.dataAsync()))),
          onDevice: !!r.totalNormTensor,
          syncRead,
        };
      });
    for (const p of [1, 2, 3, Infinity]) {
      const [g, c] = [await clip('webgpu', p), await clip('js', p)];
      close(g.norm, c.norm, 1e-6, `${p}-norm`);
      g.grads.flat().forEach((v, i) => close(v, c.grads.flat()[i]!, 1e-6, `${p}-norm clipped [${i}]`));
      assert.ok(g.onDevice && !c.onDevice, 'the norm stays a tensor on webgpu');
    }
    const [g, c] = [await clip('webgpu', 2, true), await clip('js', 2, true)];
    assert.ok(Number.isNaN(g.norm) && Number.isNaN(c.norm));
    assert.deepEqual(
      g.grads.flat().map((v) => Number.isNaN(v)),
      c.grads.flat().map((v) => Number.isNaN(v)),
    );
  });
});
