/**
 * One small training run, the same in Node and in a page: 3 Gaussian blobs in 32-D, an MLP
 * 32-256-256-3 (large enough that its GEMMs are split across threads), SGD with momentum, eight
 * epochs from seed 0 on `threads` threads. Returns the loss curve, the final weights (every
 * value, so two runs can be compared bit for bit) and the longest gap between
 * the ticks of a 16 ms timer (ticker.ts).
 */
import type * as Descent from '../../src/index.js';
import { Ticker } from './ticker.js';

export async function trainBlobs(
  d: typeof Descent,
  threads: number,
  callbacks: Descent.Callback[] = [],
): Promise<{ losses: number[]; weights: number[]; maxGapMs: number; measuredMs: number; seconds: number; threads: number }> {
  d.setNumThreads(threads);
  d.manualSeed(0);
  const g = new d.Generator(1);
  const n = 1024;
  const y = d.randint(0, 3, [n], { generator: g });
  const centers = d.mul(d.randn([3, 32], { generator: g }), 2);
  const x = d.add(d.indexSelect(centers, 0, y), d.randn([n, 32], { generator: g }));
  const model = d.nn.mlp([32, 256, 256, 3]);
  const ticker = new Ticker();
  const r = await d.fit({
    model,
    epochs: 8,
    loss: (o, t) => d.crossEntropy(o, t),
    optimizer: new d.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }),
    train: new d.DataLoader(new d.TensorDataset(x, y), { batchSize: 64, shuffle: true }),
    // Gaps are measured from step 2 on, past the first calls' compilation.
    callbacks: [...callbacks, { onStepEnd: (m) => void (m.step === 2 && ticker.start()) }],
  });
  const gaps = ticker.stop();
  return {
    losses: r.epochs.map((e) => e.train_loss),
    weights: model.parameters().flatMap((p) => Array.from(p.dataSync())),
    ...gaps,
    seconds: r.seconds,
    threads: d.getNumThreads(),
  };
}
