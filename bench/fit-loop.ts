/**
 * What yielding to the event loop costs fit(): the MLP 784-256-128-10 on the built-in
 * Fashion-MNIST subset (batch 64, SGD), trained with the default yield every 8 ms and with no
 * yielding at all, in turns; examples/s of each variant's median epoch (issue 13: <= 5% cost).
 */
import * as d from '../src/index.js';
import { loadFashionMnist } from '../src/data/builtin.js';
import type { Result } from './measure.js';

async function epochRates(yieldEveryMs: number, epochs: number): Promise<number[]> {
  d.manualSeed(0);
  const { train } = loadFashionMnist();
  const model = d.mlp([784, 256, 128, 10]);
  const r = await d.fit({
    model,
    epochs,
    yieldEveryMs,
    loss: (o, y) => d.crossEntropy(o, y),
    optimizer: new d.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }),
    train: new d.DataLoader(train, { batchSize: 64, shuffle: true }),
  });
  return r.epochs.map((e) => e.examples_per_second);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export async function benchFitLoop(o: { quick: boolean }): Promise<(Result & { variant: string; ratio_vs_no_yield?: number })[]> {
  const rounds = o.quick ? 1 : 3,
    epochs = 2;
  const rates: Record<string, number[]> = { never: [], '8ms': [] };
  await epochRates(Infinity, 1); // warm up
  for (let r = 0; r < rounds; r++) {
    rates.never!.push(...(await epochRates(Infinity, epochs)));
    rates['8ms']!.push(...(await epochRates(8, epochs)));
  }
  const backend = d.getBackend().name,
    threads = backend === 'wasm' ? d.getNumThreads() : 1;
  const never = median(rates.never!);
  return (['never', '8ms'] as const).map((v) => ({
    name: 'fit_mlp_yield',
    variant: v,
    backend,
    threads,
    examples_per_second: Math.round(median(rates[v]!)),
    iters: rounds * epochs,
    seconds: 0,
    ...(v === '8ms' ? { ratio_vs_no_yield: Number((median(rates[v]!) / never).toFixed(3)) } : {}),
  }));
}
