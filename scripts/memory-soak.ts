/**
 * Memory over a long run (issue 12): `descent train`'s default MLP on the built-in Fashion-MNIST
 * subset for N epochs (default 300), a checkpoint after every epoch, printing the process's RSS
 * after a forced garbage collection and the live tensor count every 10 epochs. Run with
 *
 *   node --expose-gc --import tsx scripts/memory-soak.ts [epochs]
 *
 * The promise: RSS after epoch 10 and after the last epoch differ by less than 10%.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as d from '../src/index.js';
import { loadFashionMnist } from '../src/node/index.js';
import { runFolder } from '../src/train/node.js';

const epochs = Number(process.argv[2] ?? 300);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const out = mkdtempSync(join(tmpdir(), 'descent-soak-'));
d.manualSeed(0);
const { train, test } = loadFashionMnist();
const model = d.mlp([784, 256, 128, 10]);
const optimizer = new d.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
const rss: number[] = [];
await d.fit({
  model,
  optimizer,
  epochs,
  ...runFolder(out),
  loss: (o, y) => d.crossEntropy(o, y),
  scheduler: new d.CosineAnnealingLR(optimizer, epochs * Math.ceil(6000 / 64)),
  schedulerInterval: 'step',
  train: new d.DataLoader(train, { batchSize: 64, shuffle: true }),
  validation: new d.DataLoader(test, { batchSize: 500 }),
  callbacks: [
    {
      onEpochEnd: (m) => {
        if (m.epoch % 10 !== 0 && m.epoch !== 1) return;
        gc();
        rss.push(process.memoryUsage().rss);
        const mem = d.memory();
        console.log(
          JSON.stringify({
            epoch: m.epoch,
            rss_mb: Number((process.memoryUsage().rss / 2 ** 20).toFixed(1)),
            live_tensors: mem.tensors,
            live_mb: Number((mem.bytes / 2 ** 20).toFixed(2)),
            val_accuracy: m.val_accuracy,
          }),
        );
      },
    },
  ],
});
rmSync(out, { recursive: true, force: true });
const at10 = rss[1]!,
  last = rss[rss.length - 1]!;
console.log(JSON.stringify({ rss_growth_after_epoch_10: Number(((last - at10) / at10).toFixed(3)) }));
