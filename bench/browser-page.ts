// The browser half of bench/browser.ts: the benchmark MLP's training step (batch 128) on 1 thread
// and on all the page's threads, timed the way bench/measure.ts times it (best of ~10 windows).
import * as d from '../src/index.js';
import { makeMlp, trainStep } from './mlp.js';

export async function mlpRates(budget: number): Promise<{ threads: number; examples_per_second: number }[]> {
  const all = d.getNumThreads();
  const out: { threads: number; examples_per_second: number }[] = [];
  for (const threads of all > 1 ? [1, all] : [1]) {
    d.setNumThreads(threads);
    const g = new d.Generator(0);
    const net = makeMlp(g);
    const x = d.keep(d.rand([128, 784], { generator: g }));
    const y = d.keep(d.randint(0, 10, [128], { generator: g }));
    for (let i = 0; i < 5; i++) trainStep(net, x, y);
    // A page's workers start asynchronously: give them the event loop before timing (a loop that
    // never yields would time the calling thread alone).
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let i = 0; i < 5; i++) trainStep(net, x, y);
    let best = Infinity;
    const t0 = performance.now();
    while ((performance.now() - t0) / 1000 < budget) {
      const w0 = performance.now();
      let n = 0;
      do {
        trainStep(net, x, y);
        n++;
      } while ((performance.now() - w0) / 1000 < budget / 10);
      best = Math.min(best, (performance.now() - w0) / 1000 / n);
    }
    out.push({ threads, examples_per_second: Math.round(128 / best) });
    for (const t of [...net.params, ...net.velocity, x, y]) t.dispose();
  }
  d.setNumThreads(all);
  return out;
}

if (typeof window !== 'undefined') {
  const w = window as unknown as { __result?: unknown; __error?: string };
  const budget = Number(new URL(location.href).searchParams.get('budget') ?? '2');
  mlpRates(budget).then(
    (r) => (w.__result = r),
    (e: Error) => (w.__error = String(e.stack ?? e)),
  );
}
