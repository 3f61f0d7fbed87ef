/**
 * Where a training step of the benchmark CNN spends its time: every backend kernel call is timed
 * and grouped by kernel and shape (matmul by m, n, k and transposes), per step. Not part of
 * `npm run bench`; run `node --import tsx bench/profile-cnn.ts [threads] [model spec]` when tuning
 * kernels (the spec is the CLI's --model grammar, e.g. conv:32x3same,bn,pool:2,res:32,gap,dense:64).
 * The timings wrap synchronous calls, so the JS dispatch between kernels shows as the gap between
 * "profiled" and "in kernels". PROFILE_CLOCK=cpu times by the process's CPU time instead of the
 * wall clock (steadier on a busy machine; with 1 thread it is the step's own work).
 */
import * as d from '../src/index.js';
import { getBackend, setNumThreads } from '../src/backend/index.js';
import { cnnTrainStep, makeCnn } from './cnn.js';
import { buildModelFromSpec } from '../src/cli/model-spec.js';
const threads = Number(process.argv[2] ?? 2);
const cpuClock = process.env.PROFILE_CLOCK === 'cpu';
const now = (): number => {
  if (!cpuClock) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
setNumThreads(threads);
const b = getBackend() as any;
const times = new Map<string, { t: number; n: number }>();
let on = false;
for (const k of Object.keys(b)) {
  const f = b[k];
  if (typeof f !== 'function' || k === 'alloc') continue;
  b[k] = function (...args: any[]) {
    if (!on) return f.apply(this, args);
    const t0 = now();
    const r = f.apply(this, args);
    const dt = now() - t0;
    let key = k;
    if (k === 'matmul') {
      const l = args[3];
      key += ` m${l.m} n${l.n} k${l.k} tA${+l.transA} tB${+l.transB} b${l.batch}`;
    } else if (k === 'unary' || k === 'binary' || k === 'reduce')
      key += ` ${args[0]} ${k === 'unary' ? args[1].size : (args[4] ?? '')}${k === 'reduce' ? ' ax' + args[4] : ''}`;
    else if (k === 'copy') key += ` [${args[2]}]`;
    const e = times.get(key) ?? { t: 0, n: 0 };
    e.t += dt;
    e.n++;
    times.set(key, e);
    return r;
  };
}
const g = new d.Generator(0);
const spec = process.argv[3];
const net = spec ? buildModelFromSpec(spec, { inputSize: 784, numClasses: 10, imageShape: [1, 28, 28], activation: 'relu', dropout: 0 })! : makeCnn(g);
const { step } = cnnTrainStep(net, g, spec ? [784] : [1, 28, 28]);
for (let i = 0; i < 5; i++) step();
const N = 40;
let t0 = now();
for (let i = 0; i < N; i++) step();
const plain = (now() - t0) / N;
on = true;
t0 = now();
for (let i = 0; i < N; i++) step();
const total = (now() - t0) / N;
let sum = 0;
const rows = [...times.entries()].sort((a, b) => b[1].t - a[1].t);
for (const [k, e] of rows) {
  sum += e.t;
}
console.log(`plain step ${plain.toFixed(2)} ms (${(64000 / plain).toFixed(0)} ex/s); profiled ${total.toFixed(2)} ms, in kernels ${(sum / N).toFixed(2)} ms`);
for (const [k, e] of rows.slice(0, 40)) console.log(`${(e.t / N).toFixed(3).padStart(8)} ms  x${(e.n / N).toFixed(0)}  ${k}`);
