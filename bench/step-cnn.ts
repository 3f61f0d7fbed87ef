/**
 * Steady-state step time of the benchmark CNN: 10 untimed steps, then the median and best of
 * repeated 30-step windows. `node --import tsx bench/step-cnn.ts [threads] [windows]`. For quick
 * A/B checks while tuning; `npm run bench` is the measurement of record.
 */
import * as d from '../src/index.js';
import { setNumThreads } from '../src/backend/index.js';
import { cnnTrainStep, makeCnn } from './cnn.js';
setNumThreads(Number(process.argv[2] ?? 2));
const g = new d.Generator(0);
const { step } = cnnTrainStep(makeCnn(g), g);
for (let i = 0; i < 10; i++) step();
const per: number[] = [];
for (let rep = 0; rep < Number(process.argv[3] ?? 10); rep++) {
  const N = 30;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) step();
  per.push((performance.now() - t0) / N);
}
per.sort((a, b) => a - b);
const med = per[per.length >> 1]!;
console.log(`median step ${med.toFixed(2)} ms (${(64000 / med).toFixed(0)} ex/s), best ${per[0]!.toFixed(2)} ms (${(64000 / per[0]!).toFixed(0)} ex/s)`);
