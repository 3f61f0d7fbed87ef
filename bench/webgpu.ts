/**
 * The webgpu backend's rows (issue 16): GEMM C = A B (float32 n x n, GFLOP/s = 2 n^3 / seconds)
 * with the adapter's GEMM kernel ('webgpu') and with the other one ('webgpu-tiled' or
 * 'webgpu-registers', see src/backend/webgpu/wgsl-gemm.ts), and one MLP training step
 * (784-512-256-10 ReLU, softmax cross-entropy, SGD with momentum, batch 128 and 1024 (128 only with
 * --quick), the loss read back every step with itemAsync; examples/s = batch / seconds), with TF.js's
 * WebGPU backend (GEMM and the same MLP step, tf.train.momentum) and jax-js's WebGPU device (GEMM
 * and the same MLP step, jit-compiled) on the same adapter in the same process, as ratios; and the
 * benchmark CNN (bench/cnn.ts, batch 64, the loss read back every step) beside TF.js (NHWC, its
 * layout) and jax-js (NCHW, lax.conv and reduceWindow) on the same network.
 *
 * It runs in a child process (run with --child), because TF.js and jax-js must find
 * `navigator.gpu` when they are imported, and the parent has already imported them for their wasm
 * rows. How each finishes its work: Descent reads C back (await read()), TF.js reads C back (await
 * data()), jax-js waits for it (blockUntilReady(), no copy): the copy counts against Descent.
 * Where no adapter is found (no `webgpu` package, no Vulkan driver) it reports no rows and says why.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type * as JAX from '@jax-js/jax';
import type * as TF from '@tensorflow/tfjs-core';
import { registerBackend, setBackend } from '../src/backend/index.js';
import type { WebgpuBackend } from '../src/backend/webgpu/index.js';
import { createWebgpuBackend } from '../src/backend/webgpu/index.js';
import { findGpu } from '../src/backend/webgpu/device.js';
import * as d from '../src/index.js';
import type { Result } from './measure.js';
import { timeItAsync } from './measure.js';
import { makeCnn } from './cnn.js';
import { LR, MOMENTUM, SIZES } from './mlp.js';
import { checkLoss, jaxLoss, tfjsMlp, tfjsWithGradients } from './peers.js';

type Row = Result & { adapter?: string; ratio_vs_tfjs_webgpu?: number; ratio_vs_jax_webgpu?: number };

const gemmRow = (n: number, backend: string, t: { perIter: number; iters: number; seconds: number }): Row => ({
  name: `gemm_${n}`,
  backend,
  threads: 1,
  gflops: Number(((2 * n ** 3) / t.perIter / 1e9).toFixed(2)),
  iters: t.iters,
  seconds: Number(t.seconds.toFixed(2)),
});

const CNN_BATCH = 64;
const cnnRow = (backend: string, t: { perIter: number; iters: number; seconds: number }): Row => ({
  name: 'cnn_train_b64',
  backend,
  threads: 1,
  examples_per_second: Number((CNN_BATCH / t.perIter).toFixed(1)),
  iters: t.iters,
  seconds: Number(t.seconds.toFixed(2)),
});

const mlpRow = (batch: number, backend: string, t: { perIter: number; iters: number; seconds: number }): Row => ({
  name: `mlp_${SIZES.join('_')}_b${batch}`,
  backend,
  threads: 1,
  examples_per_second: Number((batch / t.perIter).toFixed(0)),
  iters: t.iters,
  seconds: Number(t.seconds.toFixed(2)),
});

/** Deterministic uniform [lo, hi) values (host data shared by the three libraries). */
function uniform(n: number, lo: number, hi: number, seed: number): Float32Array {
  const g = new d.Generator(seed);
  return new Float32Array(n).map(() => lo + (hi - lo) * g.nextFloat64());
}

async function gemmRows(b: WebgpuBackend, sizes: number[], budget: number, backend: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of sizes) {
    const a = b.alloc('float32', n * n),
      c = b.alloc('float32', n * n);
    a.data.set(uniform(n * n, -1, 1, n));
    c.data.set(uniform(n * n, -1, 1, n + 1));
    const l = { batch: 1, m: n, n, k: n, transA: false, transB: false, aOffsets: [0], bOffsets: [0] };
    const t = await timeItAsync(async () => {
      const o = b.alloc('float32', n * n);
      b.matmul(a, c, o, l);
      await o.read!();
      o.release();
    }, budget);
    rows.push(gemmRow(n, backend, t));
    a.release();
    c.release();
  }
  return rows;
}

async function descentRows(b: WebgpuBackend, sizes: number[], batches: number[], budget: number): Promise<Row[]> {
  const rows = await gemmRows(b, sizes, budget, 'webgpu');
  // the other GEMM kernel on the same adapter (the tiled one on SwiftShader, where it is not the default)
  const other = await createWebgpuBackend({ gemm: b.gemm === 'tiled' ? 'registers' : 'tiled' });
  rows.push(...(await gemmRows(other, sizes, budget, `webgpu-${other.gemm}`)));
  other.destroy();
  setBackend('webgpu');
  for (const batch of batches) {
    d.manualSeed(0);
    const model = d.mlp([...SIZES]);
    const opt = new d.SGD(model.parameters(), { lr: LR, momentum: MOMENTUM });
    const x = d.tensor(uniform(batch * SIZES[0], 0, 1, 98), { shape: [batch, SIZES[0]] });
    const y = d.tensor(Int32Array.from(uniform(batch, 0, 10, 99), Math.floor));
    const { t, losses } = await timedSteps(model, opt, x, y, budget * 2, 2);
    if (!(losses[losses.length - 1]! < losses[0]!)) throw new Error(`bench webgpu: the MLP loss did not fall (${losses[0]} -> ${losses.at(-1)})`);
    rows.push(mlpRow(batch, 'webgpu', t));
  }
  rows.push(await descentCnnRow(budget));
  return rows;
}

/** Training steps of `model` on one fixed batch (cross-entropy, `opt`), timed, each step's loss read back with itemAsync. */
async function timedSteps(model: d.Module, opt: d.SGD, x: d.Tensor, y: d.Tensor, budget: number, warmup: number, minIters = 1) {
  const losses: number[] = [];
  const t = await timeItAsync(
    async () => {
      const loss = d.scope(() => {
        const { value, grads } = d.valueAndGrad(() => d.crossEntropy(model.forward(x), y), model.parameters());
        opt.step(grads);
        return value;
      });
      losses.push(await loss.itemAsync());
      loss.dispose();
    },
    budget,
    warmup,
    minIters,
  );
  return { t, losses };
}

/** The benchmark CNN (bench/cnn.ts) on one fixed batch of 64, the loss read back every step. */
async function descentCnnRow(budget: number): Promise<Row> {
  const generator = new d.Generator(0);
  const net = makeCnn(generator);
  const opt = new d.SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = d.tensor(uniform(CNN_BATCH * 28 * 28, 0, 1, 96), { shape: [CNN_BATCH, 1, 28, 28] });
  const y = d.tensor(Int32Array.from(uniform(CNN_BATCH, 0, 10, 97), Math.floor));
  const { t, losses } = await timedSteps(net, opt, x, y, budget * 2, 1, 2);
  checkLoss('Descent webgpu CNN', CNN_BATCH, losses);
  return cnnRow('webgpu', t);
}

async function tfjsRows(sizes: number[], batches: number[], budget: number): Promise<Row[]> {
  const tf: typeof TF = await tfjsWithGradients();
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error("TF.js could not start its 'webgpu' backend");
  const rows: Row[] = [];
  for (const n of sizes) {
    const a = tf.tensor2d(uniform(n * n, -1, 1, n), [n, n]),
      b = tf.tensor2d(uniform(n * n, -1, 1, n + 1), [n, n]);
    const t = await timeItAsync(async () => {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    }, budget);
    rows.push(gemmRow(n, 'tfjs-webgpu', t));
    a.dispose();
    b.dispose();
  }
  // the same MLP step, the loss read back every step (await data(), as Descent's itemAsync)
  for (const batch of batches) {
    const mlp = tfjsMlp(tf, batch);
    const losses: number[] = [];
    const t = await timeItAsync(
      async () => {
        const value = mlp.step();
        losses.push((await value.data())[0]!);
        value.dispose();
      },
      budget * 2,
      2,
    );
    checkLoss('TF.js webgpu', batch, losses);
    rows.push(mlpRow(batch, 'tfjs-webgpu', t));
    mlp.dispose();
  }
  rows.push(await tfjsCnnRow(tf, budget));
  return rows;
}

/**
 * The benchmark CNN in TF.js (NHWC, its native layout: conv3x3 1->32, ReLU, max-pool 2, conv3x3
 * 32->64, ReLU, max-pool 2, dense 1600->128, ReLU, dense 128->10; mean cross-entropy, momentum SGD).
 */
async function tfjsCnnRow(tf: typeof TF, budget: number): Promise<Row> {
  for (const kernel of ['Conv2D', 'MaxPool', 'Reshape']) {
    const mod = (await import(`@tensorflow/tfjs-core/dist/gradients/${kernel}_grad.js`)) as Record<string, TF.GradConfig>;
    for (const config of Object.values(mod)) tf.registerGradient(config);
  }
  const shapes: number[][] = [[3, 3, 1, 32], [32], [3, 3, 32, 64], [64], [1600, 128], [128], [128, 10], [10]];
  const fanIn = [9, 9, 288, 288, 1600, 1600, 128, 128];
  const params = shapes.map((shape, i) => {
    const bound = 1 / Math.sqrt(fanIn[i]!);
    return tf.variable(
      tf.tensor(
        uniform(
          shape.reduce((a, b) => a * b, 1),
          -bound,
          bound,
          50 + i,
        ),
        shape,
      ),
    );
  });
  const x = tf.tensor4d(uniform(CNN_BATCH * 28 * 28, 0, 1, 96), [CNN_BATCH, 28, 28, 1]);
  const oneHot = new Float32Array(CNN_BATCH * 10);
  Int32Array.from(uniform(CNN_BATCH, 0, 10, 97), Math.floor).forEach((c, i) => (oneHot[i * 10 + c] = 1));
  const y = tf.tensor2d(oneHot, [CNN_BATCH, 10]);
  const [w1, b1, w2, b2, w3, b3, w4, b4] = params as unknown as [
    TF.Tensor4D,
    TF.Tensor1D,
    TF.Tensor4D,
    TF.Tensor1D,
    TF.Tensor2D,
    TF.Tensor1D,
    TF.Tensor2D,
    TF.Tensor1D,
  ];
  const lossFn = (): TF.Scalar => {
    const c1 = tf.maxPool(tf.relu(tf.add(tf.conv2d(x, w1, 1, 'valid'), b1)) as TF.Tensor4D, 2, 2, 'valid');
    const c2 = tf.maxPool(tf.relu(tf.add(tf.conv2d(c1, w2, 1, 'valid'), b2)) as TF.Tensor4D, 2, 2, 'valid');
    const h = tf.relu(tf.add(tf.matMul(tf.reshape(c2, [CNN_BATCH, 1600]), w3), b3));
    const o = tf.add(tf.matMul(h, w4), b4);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(o), y), 1))) as TF.Scalar;
  };
  const opt = tf.train.momentum(0.01, 0.9);
  const losses: number[] = [];
  const t = await timeItAsync(
    async () => {
      const value = opt.minimize(lossFn, true, params)!;
      losses.push((await value.data())[0]!);
      value.dispose();
    },
    budget * 2,
    1,
    2,
  );
  checkLoss('TF.js webgpu CNN', CNN_BATCH, losses);
  opt.dispose();
  tf.dispose([...params, x, y]);
  return cnnRow('tfjs-webgpu', t);
}

async function jaxRows(sizes: number[], batches: number[], budget: number): Promise<Row[]> {
  const jax: typeof JAX = await import('@jax-js/jax');
  const { numpy: np } = jax;
  const devices = await jax.init('webgpu');
  if (!devices.includes('webgpu')) throw new Error(`jax-js could not start its 'webgpu' device (got ${devices.join(', ')})`);
  jax.defaultDevice('webgpu');
  const rows: Row[] = [];
  for (const n of sizes) {
    const a = np.array(uniform(n * n, -1, 1, n)).reshape([n, n]),
      b = np.array(uniform(n * n, -1, 1, n + 1)).reshape([n, n]);
    const t = await timeItAsync(async () => (await np.matmul(a.ref, b.ref).blockUntilReady()).dispose(), budget);
    rows.push(gemmRow(n, 'jax-webgpu', t));
    a.dispose();
    b.dispose();
  }
  // the same step as Descent's: weights [in, out] (h W), mean cross-entropy, v = mu v + g, w -= lr v
  const loss = (params: JAX.Array[], x: JAX.Array, oneHot: JAX.Array): JAX.Array => jaxLoss(jax, params, x, oneHot);
  const step = jax.jit((params: JAX.Array[], velocity: JAX.Array[], x: JAX.Array, oneHot: JAX.Array) => {
    const [value, grads] = jax.valueAndGrad((p: JAX.Array[]) => loss(p, x, oneHot))(params.map((p) => p.ref));
    const v2 = velocity.map((v, i) => v.mul(MOMENTUM).add(grads[i]!));
    return [value, params.map((p, i) => p.sub(v2[i]!.ref.mul(LR))), v2] as [JAX.Array, JAX.Array[], JAX.Array[]];
  });
  for (const batch of batches) {
    let params: JAX.Array[] = [];
    for (let l = 0; l + 1 < SIZES.length; l++) {
      const bound = 1 / Math.sqrt(SIZES[l]!);
      params.push(np.array(uniform(SIZES[l]! * SIZES[l + 1]!, -bound, bound, 2 * l + 1)).reshape([SIZES[l]!, SIZES[l + 1]!]));
      params.push(np.array(uniform(SIZES[l + 1]!, -bound, bound, 2 * l + 2)));
    }
    let velocity = params.map((p) => np.zerosLike(p.ref));
    const labels = Int32Array.from(uniform(batch, 0, 10, 99), Math.floor);
    const oneHotData = new Float32Array(batch * 10);
    labels.forEach((c, i) => (oneHotData[i * 10 + c] = 1));
    const x = np.array(uniform(batch * SIZES[0], 0, 1, 98)).reshape([batch, SIZES[0]]),
      y = np.array(oneHotData).reshape([batch, 10]);
    const t = await timeItAsync(
      async () => {
        const [value, p, v] = step(params, velocity, x.ref, y.ref);
        params = p;
        velocity = v;
        await value.data(); // the loss read back every step, as Descent's
      },
      budget * 2,
      2,
    );
    rows.push(mlpRow(batch, 'jax-webgpu', t));
    for (const arr of [...params, ...velocity, x, y]) arr.dispose();
  }
  step.dispose();
  rows.push(await jaxCnnRow(jax, budget));
  return rows;
}

/** The benchmark CNN in jax-js (NCHW, lax.conv and reduceWindow max-pooling), jit-compiled as the MLP step. */
async function jaxCnnRow(jax: typeof JAX, budget: number): Promise<Row> {
  const { numpy: np, nn, lax } = jax;
  const pool = (h: JAX.Array) => lax.reduceWindow(h, (w: JAX.Array) => np.max(w), [2, 2], [2, 2]);
  const loss = (p: JAX.Array[], x: JAX.Array, oneHot: JAX.Array): JAX.Array => {
    let h = pool(nn.relu(lax.conv(x, p[0]!, [1, 1], 'VALID').add(p[1]!.reshape([1, 32, 1, 1]))));
    h = pool(nn.relu(lax.conv(h, p[2]!, [1, 1], 'VALID').add(p[3]!.reshape([1, 64, 1, 1]))));
    h = nn.relu(np.matmul(h.reshape([CNN_BATCH, 1600]), p[4]!).add(p[5]!));
    return nn
      .logSoftmax(np.matmul(h, p[6]!).add(p[7]!), -1)
      .mul(oneHot)
      .sum()
      .mul(-1 / CNN_BATCH);
  };
  const step = jax.jit((params: JAX.Array[], velocity: JAX.Array[], x: JAX.Array, oneHot: JAX.Array) => {
    const [value, grads] = jax.valueAndGrad((p: JAX.Array[]) => loss(p, x, oneHot))(params.map((p) => p.ref));
    const v2 = velocity.map((v, i) => v.mul(0.9).add(grads[i]!));
    return [value, params.map((p, i) => p.sub(v2[i]!.ref.mul(0.01))), v2] as [JAX.Array, JAX.Array[], JAX.Array[]];
  });
  const shapes: number[][] = [[32, 1, 3, 3], [32], [64, 32, 3, 3], [64], [1600, 128], [128], [128, 10], [10]];
  const fanIn = [9, 9, 288, 288, 1600, 1600, 128, 128];
  let params = shapes.map((shape, i) => {
    const bound = 1 / Math.sqrt(fanIn[i]!);
    return np
      .array(
        uniform(
          shape.reduce((a, b) => a * b, 1),
          -bound,
          bound,
          50 + i,
        ),
      )
      .reshape(shape);
  });
  let velocity = params.map((p) => np.zerosLike(p.ref));
  const oneHotData = new Float32Array(CNN_BATCH * 10);
  Int32Array.from(uniform(CNN_BATCH, 0, 10, 97), Math.floor).forEach((c, i) => (oneHotData[i * 10 + c] = 1));
  const x = np.array(uniform(CNN_BATCH * 28 * 28, 0, 1, 96)).reshape([CNN_BATCH, 1, 28, 28]),
    y = np.array(oneHotData).reshape([CNN_BATCH, 10]);
  const losses: number[] = [];
  const t = await timeItAsync(
    async () => {
      const [value, p, v] = step(params, velocity, x.ref, y.ref);
      params = p;
      velocity = v;
      losses.push((await value.data())[0]!);
    },
    budget * 2,
    1,
    2,
  );
  checkLoss('jax-js webgpu CNN', CNN_BATCH, losses);
  for (const arr of [...params, ...velocity, x, y]) arr.dispose();
  step.dispose();
  return cnnRow('jax-webgpu', t);
}

/** In the child: every row, Descent's with its ratios to the peers on the same workload. */
async function childMain(quick: boolean): Promise<void> {
  const sizes = quick ? [256, 512] : [256, 512, 1024];
  const batches = quick ? [128] : [128, 1024];
  const budget = quick ? 0.3 : 1.5;
  const gpu = await findGpu();
  // the peers look for WebGPU where a browser has it; Node 20 has no navigator of its own
  Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'Node.js', hardwareConcurrency: os.cpus().length }, configurable: true });
  const b = await createWebgpuBackend();
  registerBackend(b);
  const ours = (await descentRows(b, sizes, batches, budget)).map((r) => ({ ...r, adapter: b.adapter }));
  const peers: Row[] = [];
  for (const [lib, rows] of [
    ['TF.js', () => tfjsRows(sizes, batches, budget)],
    ['jax-js', () => jaxRows(sizes, batches, budget)],
  ] as const) {
    try {
      peers.push(...(await rows()));
    } catch (e) {
      console.error(`bench webgpu: ${lib} left out: ${(e as Error).message}`);
    }
  }
  const rate = (r: Row) => r.gflops ?? r.examples_per_second!;
  for (const r of ours) {
    const tf = peers.find((p) => p.backend === 'tfjs-webgpu' && p.name === r.name),
      jx = peers.find((p) => p.backend === 'jax-webgpu' && p.name === r.name);
    if (tf) r.ratio_vs_tfjs_webgpu = Number((rate(r) / rate(tf)).toFixed(2));
    if (jx) r.ratio_vs_jax_webgpu = Number((rate(r) / rate(jx)).toFixed(2));
  }
  for (const r of [...ours, ...peers]) console.log(JSON.stringify({ ...r, adapter: b.adapter }));
  b.destroy();
}

/**
 * The webgpu rows, measured in a child process (about 1-2 minutes on SwiftShader; `quick` about
 * 30 s). Empty, with the reason on stderr, where the child finds no WebGPU adapter.
 */
export function benchWebgpu(options: { quick?: boolean } = {}): Row[] {
  const self = fileURLToPath(import.meta.url);
  const args = ['--import', 'tsx', self, '--child', ...(options.quick ? ['--quick'] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) {
    console.error(`bench webgpu: no rows (${r.error?.message ?? `the child exited with ${r.status}`})`);
    return [];
  }
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Row);
}

if (process.argv.includes('--child')) {
  try {
    await childMain(process.argv.includes('--quick'));
  } catch (e) {
    console.error(`bench webgpu: ${(e as Error).message}`);
    process.exit(1);
  }
}
