/**
 * The peer libraries on the bench's own workloads, in the same process and run as Descent's rows:
 * TF.js (tfjs-core 4.22 with its wasm backend) and jax-js (its wasm device). Both are
 * devDependencies. The workloads match run.ts:
 *   GEMM       C = A B, float32 n x n, n = 128, 256, 512, 1024; GFLOP/s = 2 n^3 / seconds.
 *   MLP        one training step of the 784-512-256-10 ReLU network on a random batch of 32, 128
 *              or 512: forward, softmax cross-entropy (mean over the batch of -log softmax at the
 *              label), backward, SGD with momentum (v = mu v + g; w = w - lr v, lr 0.05, mu 0.9);
 *              examples/s = batch / seconds per step. The loss is read back every step, as
 *              Descent's trainStep does with value.item().
 * Weights are stored [in, out] and multiplied as h W (Descent's Linear stores [out, in] and uses
 * h W^T): the same multiply-adds. Each rate is the best timing window (measure.ts).
 *
 * How each library is driven:
 *   TF.js     tf.setBackend('wasm'); GEMM forced to finish by dataSync() of C (the wasm backend
 *             computes synchronously, so this only adds a copy of C); training by
 *             tf.train.momentum(lr, mu).minimize(loss, true, params), which is the same update.
 *   jax-js    init('wasm'); GEMM awaited with blockUntilReady(); training step is
 *             jit(valueAndGrad + update), the idiomatic form (the first call compiles, untimed).
 * Threads: in Node 20 neither runs more than one. TF.js finds WASM_HAS_MULTITHREAD_SUPPORT false
 * in Node and loads its single-threaded SIMD binary (getThreadsCount() says 1); jax-js starts its
 * worker pool only where a global Worker exists, which Node 20 lacks.
 */
import { register } from 'node:module';
import type * as TF from '@tensorflow/tfjs-core';
import type * as JAX from '@jax-js/jax';
import type { Result } from './measure.js';
import { timeIt, timeItAsync } from './measure.js';
import { LR, MOMENTUM, SIZES } from './mlp.js';

const GEMM_SIZES = [128, 256, 512, 1024];
const BATCHES = [32, 128, 512];
const MLP_NAME = (batch: number) => `mlp_${SIZES.join('_')}_b${batch}`;

/** Deterministic uniform [lo, hi) floats (a 32-bit linear congruential generator): peers' data. */
function uniformArray(n: number, lo: number, hi: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

/** Weights and biases as PyTorch's Linear initialises them: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
function initialParams(): { data: Float32Array; shape: number[] }[] {
  const out: { data: Float32Array; shape: number[] }[] = [];
  for (let l = 0; l + 1 < SIZES.length; l++) {
    const fanIn = SIZES[l]!,
      fanOut = SIZES[l + 1]!,
      bound = 1 / Math.sqrt(fanIn);
    out.push({ data: uniformArray(fanIn * fanOut, -bound, bound, 2 * l + 1), shape: [fanIn, fanOut] });
    out.push({ data: uniformArray(fanOut, -bound, bound, 2 * l + 2), shape: [fanOut] });
  }
  return out;
}

/** A random batch: inputs U(0, 1) and one-hot labels. */
function batchData(batch: number): { x: Float32Array; oneHot: Float32Array } {
  const oneHot = new Float32Array(batch * 10);
  const labels = uniformArray(batch, 0, 10, 99);
  for (let i = 0; i < batch; i++) oneHot[i * 10 + Math.floor(labels[i]!)] = 1;
  return { x: uniformArray(batch * SIZES[0], 0, 1, 98), oneHot };
}

function gflopsRow(n: number, backend: string, threads: number, t: { perIter: number; iters: number; seconds: number }): Result {
  return {
    name: `gemm_${n}`,
    backend,
    threads,
    gflops: Number(((2 * n ** 3) / t.perIter / 1e9).toFixed(2)),
    iters: t.iters,
    seconds: Number(t.seconds.toFixed(2)),
  };
}

function mlpRow(batch: number, backend: string, threads: number, t: { perIter: number; iters: number; seconds: number }): Result {
  return {
    name: MLP_NAME(batch),
    backend,
    threads,
    examples_per_second: Number((batch / t.perIter).toFixed(0)),
    iters: t.iters,
    seconds: Number(t.seconds.toFixed(2)),
  };
}

/** Training on one fixed batch must lower the loss: a check that the gradients are wired right. */
export function checkLoss(lib: string, batch: number, losses: number[]): void {
  const first = losses[0]!,
    last = losses[losses.length - 1]!;
  if (!(Number.isFinite(last) && last < first))
    throw new Error(`benchPeers: ${lib} MLP batch ${batch}: loss went from ${first} to ${last} over ${losses.length} steps on one batch; expected it to fall`);
}

// ----------------------------------------------------------------------------------- TF.js --
/** The gradients the MLP step needs; tfjs-core's Node bundle registers none (tfjs-esm-hooks.mjs). */
const TFJS_GRADIENTS = ['Add', 'BatchMatMul', 'Relu', 'Multiply', 'Sum', 'Neg', 'Mean'];

/** tfjs-core with the gradients the MLP step needs registered (any backend). */
export async function tfjsWithGradients(): Promise<typeof TF> {
  register('./tfjs-esm-hooks.mjs', import.meta.url);
  const tf: typeof TF = await import('@tensorflow/tfjs-core');
  for (const kernel of TFJS_GRADIENTS) {
    const mod = (await import(`@tensorflow/tfjs-core/dist/gradients/${kernel}_grad.js`)) as Record<string, TF.GradConfig>;
    for (const config of Object.values(mod)) tf.registerGradient(config);
  }
  return tf;
}

/**
 * The benchmark MLP's training step in TF.js, on its current backend: the same weights, batch,
 * mean cross-entropy and SGD with momentum as Descent's; `step` returns the loss (a scalar tensor
 * the caller reads and disposes).
 */
export function tfjsMlp(tf: typeof TF, batch: number): { step: () => TF.Scalar; dispose: () => void } {
  const params = initialParams().map((p) => tf.variable(tf.tensor(p.data, p.shape)));
  const data = batchData(batch);
  const x = tf.tensor2d(data.x, [batch, SIZES[0]]),
    y = tf.tensor2d(data.oneHot, [batch, 10]);
  const opt = tf.train.momentum(LR, MOMENTUM);
  const lossFn = (): TF.Scalar => {
    let h: TF.Tensor = x;
    for (let l = 0; l < params.length; l += 2) {
      h = tf.add(tf.matMul(h, params[l]!), params[l + 1]!);
      if (l + 2 < params.length) h = tf.relu(h);
    }
    // mean over all axes is a scalar; TF.js's typings keep the generic rank
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(h), y), 1))) as TF.Scalar;
  };
  return {
    step: () => opt.minimize(lossFn, true, params)!,
    dispose: () => {
      opt.dispose();
      tf.dispose([...params, x, y]);
    },
  };
}

async function loadTfjs(): Promise<typeof TF> {
  const tf = await tfjsWithGradients();
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error("benchPeers: TF.js could not start its 'wasm' backend");
  return tf;
}

async function benchTfjs(quick: boolean): Promise<Result[]> {
  const tf = await loadTfjs();
  const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
  const threads = getThreadsCount();
  const rows: Result[] = [];
  for (const n of GEMM_SIZES) {
    const a = tf.tensor2d(uniformArray(n * n, -1, 1, n), [n, n]),
      b = tf.tensor2d(uniformArray(n * n, -1, 1, n + 1), [n, n]);
    // the callback returns nothing: tidy() walks whatever it returns, element by element
    const t = timeIt(
      () =>
        tf.tidy(() => {
          tf.matMul(a, b).dataSync();
        }),
      quick ? 0.1 : 1,
    );
    rows.push(gflopsRow(n, 'tfjs-wasm', threads, t));
    tf.dispose([a, b]);
  }
  for (const batch of BATCHES) {
    const mlp = tfjsMlp(tf, batch);
    const losses: number[] = [];
    const step = () => {
      const value = mlp.step();
      losses.push(value.dataSync()[0]!);
      value.dispose();
    };
    // under 1,000 examples/s: a few steps suffice
    const t = timeIt(step, quick ? 0.1 : 1.5, 1, 2);
    checkLoss('TF.js', batch, losses);
    rows.push(mlpRow(batch, 'tfjs-wasm', threads, t));
    mlp.dispose();
  }
  return rows;
}

// ---------------------------------------------------------------------------------- jax-js --
/** Mean softmax cross-entropy of the MLP; jax-js functions take ownership of their arguments. */
export function jaxLoss(jax: typeof JAX, params: JAX.Array[], x: JAX.Array, oneHot: JAX.Array): JAX.Array {
  const { numpy: np, nn } = jax;
  const batch = x.shape[0]!;
  let h = x;
  for (let l = 0; l < params.length; l += 2) {
    h = np.matmul(h, params[l]!).add(params[l + 1]!);
    if (l + 2 < params.length) h = nn.relu(h);
  }
  return nn
    .logSoftmax(h, -1)
    .mul(oneHot)
    .sum()
    .mul(-1 / batch);
}

async function benchJax(quick: boolean): Promise<Result[]> {
  const jax: typeof JAX = await import('@jax-js/jax');
  const { numpy: np } = jax;
  // init() with no argument also probes WebGPU through navigator, which Node 20 does not define
  const devices = await jax.init('wasm');
  if (!devices.includes('wasm')) throw new Error(`benchPeers: jax-js could not start its 'wasm' device (got ${devices.join(', ')})`);
  jax.defaultDevice('wasm');
  const threads = typeof (globalThis as { Worker?: unknown }).Worker === 'undefined' ? 1 : navigator.hardwareConcurrency;
  const rows: Result[] = [];
  for (const n of GEMM_SIZES) {
    const a = np.array(uniformArray(n * n, -1, 1, n)).reshape([n, n]),
      b = np.array(uniformArray(n * n, -1, 1, n + 1)).reshape([n, n]);
    const t = await timeItAsync(
      async () => {
        const c = await np.matmul(a.ref, b.ref).blockUntilReady();
        c.dispose();
      },
      quick ? 0.1 : 1,
    );
    rows.push(gflopsRow(n, 'jax-js', threads, t));
    a.dispose();
    b.dispose();
  }
  const step = jax.jit((params: JAX.Array[], velocity: JAX.Array[], x: JAX.Array, oneHot: JAX.Array) => {
    const [loss, grads] = jax.valueAndGrad((p: JAX.Array[]) => jaxLoss(jax, p, x, oneHot))(params.map((p) => p.ref));
    const newVelocity = velocity.map((v, i) => v.mul(MOMENTUM).add(grads[i]!));
    const newParams = params.map((p, i) => p.sub(newVelocity[i]!.ref.mul(LR)));
    return [loss, newParams, newVelocity] as [JAX.Array, JAX.Array[], JAX.Array[]];
  });
  for (const batch of BATCHES) {
    let params = initialParams().map((p) => np.array(p.data).reshape(p.shape));
    let velocity = params.map((p) => np.zerosLike(p.ref));
    const data = batchData(batch);
    const x = np.array(data.x).reshape([batch, SIZES[0]]),
      y = np.array(data.oneHot).reshape([batch, 10]);
    const losses: number[] = [];
    const t = timeIt(
      () => {
        const [value, p, v] = step(params, velocity, x.ref, y.ref);
        params = p;
        velocity = v;
        losses.push(value.dataSync()[0]!); // dataSync consumes (frees) the array
      },
      quick ? 0.2 : 1.5,
      2,
    );
    checkLoss('jax-js', batch, losses);
    rows.push(mlpRow(batch, 'jax-js', threads, t));
    for (const arr of [...params, ...velocity, x, y]) arr.dispose();
  }
  step.dispose();
  return rows;
}

/**
 * Runs the peers' GEMM and MLP rows (about 35 s; `quick` about 10 s). A library that fails to
 * load or run is left out with its reason on stderr, so the rest of the bench still reports.
 */
export async function benchPeers(options: { quick?: boolean } = {}): Promise<Result[]> {
  const quick = options.quick ?? false;
  const rows: Result[] = [];
  for (const [lib, run] of [
    ['tfjs-wasm', benchTfjs],
    ['jax-js', benchJax],
  ] as const) {
    try {
      rows.push(...(await run(quick)));
    } catch (err) {
      console.error(`benchPeers: ${lib} left out: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  return rows;
}
