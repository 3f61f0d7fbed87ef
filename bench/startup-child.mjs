// One process of the startup benchmark (bench/startup.ts spawns it): import a library, build the
// 784-512-256-10 ReLU MLP, and finish one training step on a random batch of 128 (forward, softmax
// cross-entropy, gradients, SGD with momentum 0.9 and lr 0.05, the loss read back). Prints one
// JSON line { ms, loss, backend, threads } where ms = performance.now(), which Node counts from
// the start of the process. Plain JavaScript so that no TypeScript loader is in the timed path
// (the 'descent-src' case is the exception: the parent runs it under tsx on purpose).
//   node bench/startup-child.mjs descent-dist [js|wasm]   Descent as users run it: dist/ (npm run build)
//   node --import tsx bench/startup-child.mjs descent-src  Descent from src/ through tsx
//   node bench/startup-child.mjs tfjs-wasm                 TF.js, wasm backend
//   node bench/startup-child.mjs jax-js                    jax-js, wasm device
const [library, backendArg] = process.argv.slice(2);
const BATCH = 128,
  SIZES = [784, 512, 256, 10],
  LR = 0.05,
  MOMENTUM = 0.9;

/** Deterministic uniform [lo, hi) floats from a 32-bit linear congruential generator. */
function uniformArray(n, lo, hi, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

function oneHotLabels() {
  const oneHot = new Float32Array(BATCH * 10);
  const labels = uniformArray(BATCH, 0, 10, 99);
  for (let i = 0; i < BATCH; i++) oneHot[i * 10 + Math.floor(labels[i])] = 1;
  return oneHot;
}

/** PyTorch's Linear initialisation U(-1/sqrt(fanIn), 1/sqrt(fanIn)), weights stored [in, out]. */
function initialParams() {
  const out = [];
  for (let l = 0; l + 1 < SIZES.length; l++) {
    const bound = 1 / Math.sqrt(SIZES[l]);
    out.push({ data: uniformArray(SIZES[l] * SIZES[l + 1], -bound, bound, 2 * l + 1), shape: [SIZES[l], SIZES[l + 1]] });
    out.push({ data: uniformArray(SIZES[l + 1], -bound, bound, 2 * l + 2), shape: [SIZES[l + 1]] });
  }
  return out;
}

async function descent(fromSource) {
  const d = await import(fromSource ? '../src/index.js' : '../dist/index.js');
  if (backendArg) d.setBackend(backendArg);
  const g = new d.Generator(0);
  const model = d.mlp(SIZES, { generator: g });
  const opt = new d.SGD(model.parameters(), { lr: LR, momentum: MOMENTUM });
  const x = d.rand([BATCH, SIZES[0]], { generator: g });
  const y = d.randint(0, 10, [BATCH], { generator: g });
  const loss = d.scope(() => {
    const { value, grads } = d.valueAndGrad(() => d.crossEntropy(model.forward(x), y), model.parameters());
    opt.step(grads);
    return value.item();
  });
  const backend = d.getBackend().name;
  return { loss, backend, threads: backend === 'wasm' ? d.getNumThreads() : 1 };
}

async function tfjs() {
  const { register } = await import('node:module');
  register('./tfjs-esm-hooks.mjs', import.meta.url);
  const tf = await import('@tensorflow/tfjs-core');
  // the gradients of the kernels this step records; see tfjs-esm-hooks.mjs for why by hand
  for (const kernel of ['Add', 'BatchMatMul', 'Relu', 'Multiply', 'Sum', 'Neg', 'Mean']) {
    for (const config of Object.values(await import(`@tensorflow/tfjs-core/dist/gradients/${kernel}_grad.js`))) tf.registerGradient(config);
  }
  const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error("startup-child: TF.js could not start its 'wasm' backend");
  const params = initialParams().map((p) => tf.variable(tf.tensor(p.data, p.shape)));
  const x = tf.tensor2d(uniformArray(BATCH * SIZES[0], 0, 1, 98), [BATCH, SIZES[0]]);
  const y = tf.tensor2d(oneHotLabels(), [BATCH, 10]);
  const opt = tf.train.momentum(LR, MOMENTUM);
  const value = opt.minimize(
    () => {
      let h = x;
      for (let l = 0; l < params.length; l += 2) {
        h = tf.add(tf.matMul(h, params[l]), params[l + 1]);
        if (l + 2 < params.length) h = tf.relu(h);
      }
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(h), y), 1)));
    },
    true,
    params,
  );
  return { loss: value.dataSync()[0], backend: 'tfjs-wasm', threads: getThreadsCount() };
}

async function jaxJs() {
  const jax = await import('@jax-js/jax');
  const { numpy: np, nn } = jax;
  await jax.init('wasm'); // init() alone probes WebGPU through navigator, absent in Node 20
  const lossFn = (params, x, y) => {
    let h = x;
    for (let l = 0; l < params.length; l += 2) {
      h = np.matmul(h, params[l]).add(params[l + 1]);
      if (l + 2 < params.length) h = nn.relu(h);
    }
    return nn
      .logSoftmax(h, -1)
      .mul(y)
      .sum()
      .mul(-1 / BATCH);
  };
  // the training step as a jax-js user writes it: jit of value-and-grad plus the update
  const step = jax.jit((params, velocity, x, y) => {
    const [loss, grads] = jax.valueAndGrad(lossFn)(
      params.map((p) => p.ref),
      x,
      y,
    );
    const v = velocity.map((vi, i) => vi.mul(MOMENTUM).add(grads[i]));
    return [loss, params.map((p, i) => p.sub(v[i].ref.mul(LR))), v];
  });
  const params = initialParams().map((p) => np.array(p.data).reshape(p.shape));
  const velocity = params.map((p) => np.zerosLike(p.ref));
  const x = np.array(uniformArray(BATCH * SIZES[0], 0, 1, 98)).reshape([BATCH, SIZES[0]]);
  const y = np.array(oneHotLabels()).reshape([BATCH, 10]);
  const [loss] = step(params, velocity, x, y);
  return { loss: loss.dataSync()[0], backend: 'jax-js', threads: 1 };
}

const run = { 'descent-dist': () => descent(false), 'descent-src': () => descent(true), 'tfjs-wasm': tfjs, 'jax-js': jaxJs }[library];
if (!run) throw new Error(`startup-child: unknown library '${library}' (expected descent-dist, descent-src, tfjs-wasm or jax-js)`);
const result = await run();
console.log(JSON.stringify({ ms: performance.now(), ...result }));
// worker threads (Descent's wasm pool) must not keep the process alive: the parent waits for exit
process.exit(0);
