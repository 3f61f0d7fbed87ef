/** Run folders for the report tests, made by really training a small model (about a second). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as d from '../api/internal.js';
import type { Tensor } from '../../src/index.js';
import { writeTestPredictions } from '../../src/report/index.js';
import { runFolder } from '../../src/train/node.js';

const dirs: string[] = [];
export function tempDir(prefix = 'descent-report-'): string {
  const p = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(p);
  return p;
}
export function removeTempDirs(): void {
  for (const p of dirs.splice(0)) rmSync(p, { recursive: true, force: true });
}

export interface RunFixture {
  dir: string;
  stepLines: number;
  epochLines: number;
  statsLines: number;
  testSize: number;
  misclassified: number;
}

/**
 * Train an MLP on 1,200 Fashion-MNIST images for `epochs` epochs, logging every step, with a
 * gradient-statistics line every second step when `stats` is set. The statistics are made up
 * (this tests drawing them, not computing them) but shaped like real ones. Then the test-set
 * predictions are written.
 */
export async function makeRun(o: { epochs?: number; lr?: number; stats?: boolean; predictions?: boolean; dir?: string } = {}): Promise<RunFixture> {
  const dir = o.dir ?? tempDir();
  const epochs = o.epochs ?? 3;
  const f = d.loadFashionMnist();
  d.manualSeed(0);
  const train = new d.Subset(
    f.train,
    Int32Array.from({ length: 1200 }, (_, i) => i),
  );
  const model = d.mlp([784, 32, 10]);
  const optimizer = new d.Adam(model.parameters(), { lr: o.lr ?? 3e-3 });
  const config = { data: 'fashion-mnist', model: 'mlp:32', optimizer: 'adam', lr: o.lr ?? 3e-3, batchSize: 50, epochs, schedule: 'none' };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const stepHooks = o.stats
    ? [
        ({ step, x }: { step: number; x: Tensor }) => {
          if (step % 2 !== 0) return undefined;
          const n = x.shape[0]!;
          const decay = Math.exp(-step / 40);
          const per_example_norms = Array.from({ length: n }, (_, i) => (0.2 + ((i * 37) % n) / n) * decay * 3);
          const grad_norm_sq_unbiased = 2 * decay * decay,
            trace_cov = 40 * decay * (1 + step / 30);
          return {
            batch_size: n,
            grad_mean_norm_sq: grad_norm_sq_unbiased + trace_cov / n,
            trace_cov,
            grad_norm_sq_unbiased,
            noise_scale: trace_cov / grad_norm_sq_unbiased,
            noise_scale_ema: (trace_cov / grad_norm_sq_unbiased) * 0.9,
            per_example_norms,
            cosine_to_mean: Array.from({ length: n }, (_, i) => ((i % 10) - 3) / 10),
          };
        },
      ]
    : undefined;
  const r = await d.fit({
    model,
    optimizer,
    loss: (out, y) => d.crossEntropy(out, y),
    epochs,
    logEvery: 1,
    ...runFolder(dir),
    stepHooks,
    train: new d.DataLoader(train, { batchSize: 50, shuffle: true }),
    validation: new d.DataLoader(f.test, { batchSize: 500 }),
  });
  const [xs, ys] = f.test.tensors as [Tensor, Tensor];
  const labels = Int32Array.from(ys.data);
  const predictions = d.noGrad(() => Int32Array.from(d.argmax(model.forward(xs), 1).data));
  const images = Float32Array.from(xs.data);
  let misclassified = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== predictions[i]) misclassified++;
  if (o.predictions !== false) {
    writeTestPredictions(dir, {
      classes: f.classes,
      labels,
      predictions,
      images: { shape: [1, 28, 28], pixels: (i) => images.subarray(i * 784, (i + 1) * 784) },
    });
  }
  const last = r.epochs[r.epochs.length - 1]!;
  writeFileSync(
    join(dir, 'summary.json'),
    JSON.stringify({
      test_accuracy: last.val_accuracy,
      test_loss: last.val_loss,
      train_loss: last.train_loss,
      examples_per_second: Math.round(last.examples_per_second),
      epochs: last.epoch,
      seconds: r.seconds,
      diverged: null,
      stopped_early: false,
    }),
  );
  const steps = r.steps;
  return { dir, stepLines: steps, epochLines: epochs, statsLines: o.stats ? Math.floor(steps / 2) : 0, testSize: labels.length, misclassified };
}
