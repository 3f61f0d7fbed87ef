// Per-example gradient benchmarks (issue 5): 784-512-256-10 MLP, batch 128, wasm all threads.
import * as d from '../src/index.js';
import { perExampleGradNorms, perExampleGrads, perExamplePlan } from '../src/autograd/per-example.js';
import { dpSgdGradients } from '../src/stats/dp-sgd.js';
import { timeIt } from './measure.js';

export function benchPerExample(quick: boolean): Record<string, unknown>[] {
  const g = new d.Generator(0);
  const model = d.mlp([784, 512, 256, 10], { generator: g });
  const x = d.keep(d.rand([128, 784], { generator: g })),
    y = d.keep(d.randint(0, 10, [128], { generator: g }));
  const loss = (o: d.Tensor, t: d.Tensor, r?: { reduction: 'none' }) => d.crossEntropy(o, t, r);
  const params = model.parameters();
  const dp = dpSgdGradients({ maxGradNorm: 1, noiseMultiplier: 1, generator: g });
  const budget = quick ? 0.3 : 2;
  const run = (fn: () => unknown) =>
    timeIt(
      () =>
        d.scope(() => {
          fn();
        }),
      budget,
      2,
    ).perIter;
  // Which parameters took the fast path (op rules): a fall back to one backward per example shows here before it shows in the times.
  const plan = perExamplePlan(model, loss, x, y);
  const fast_params = `${plan.filter((e) => e.path === 'fast').length}/${plan.length}`;
  const backward = run(() => d.valueAndGrad(() => loss(model.forward(x), y), params).grads);
  const rows = (
    [
      ['per-example-grads', () => perExampleGrads(model, loss, x, y).grads],
      ['per-example-norms', () => perExampleGradNorms(model, loss, x, y).norms],
      ['dp-sgd-step', () => dp({ model, loss, x, y, params }).grads],
    ] as [string, () => unknown][]
  ).map(([name, fn]) => {
    const t = run(fn);
    return {
      name,
      model: '784-512-256-10',
      batch: 128,
      ms: Number((t * 1e3).toFixed(2)),
      backward_ms: Number((backward * 1e3).toFixed(2)),
      ratio_to_backward: Number((t / backward).toFixed(2)),
      fast_params,
    };
  });
  x.dispose();
  y.dispose();
  return rows;
}
