/**
 * Training speed while the live dashboard is busy: fit() of the MLP 784-256-128-10 on the built-in
 * Fashion-MNIST subset (batch 64, SGD), without a dashboard, with an idle one, and with one that
 * a second process keeps busy (30 open event streams and 8 connections loading the page in a
 * loop, at the lowest priority so that it stands for browsers elsewhere). The server runs in a worker thread at a lower priority, renders the page at most once a
 * second and reads metrics.jsonl once per poll for all pages, so the busy row should stay within
 * noise of the others (issue 12: a busy client used to halve training speed).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as descent from '../src/index.js';
import { loadFashionMnist } from '../src/node/index.js';
const d = { ...descent, loadFashionMnist };
import { startDashboard } from '../src/report/index.js';
import type { Result } from './measure.js';
import { runFolder } from '../src/train/node.js';

async function trainRate(epochs: number, outDir: string): Promise<number> {
  d.manualSeed(0);
  const { train } = d.loadFashionMnist();
  const model = d.mlp([784, 256, 128, 10]);
  const r = await d.fit({
    model,
    epochs,
    ...runFolder(outDir),
    logEvery: 1,
    loss: (o, y) => d.crossEntropy(o, y),
    optimizer: new d.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }),
    train: new d.DataLoader(train, { batchSize: 64, shuffle: true }),
  });
  // the median epoch
  const rates = r.epochs.map((e) => e.examples_per_second).sort((a, b) => a - b);
  return rates[rates.length >> 1]!;
}

type Row = Result & { variant: string; ratio_vs_no_dashboard?: number; pages_served?: number };

/** One training with the dashboard in the given state; examples/s of its median epoch. */
async function measure(variant: 'none' | 'idle' | 'busy', epochs: number, dir: string): Promise<{ rate: number; pages: number }> {
  if (variant === 'none') return { rate: await trainRate(epochs, dir), pages: 0 };
  const dash = await startDashboard(dir, { port: 0 });
  const load =
    variant === 'busy'
      ? spawn(process.execPath, [join(import.meta.dirname, 'dashboard-load-child.mjs'), dash.url], { stdio: ['ignore', 'pipe', 'inherit'] })
      : undefined;
  // The load generator stands for browsers elsewhere: at the lowest priority it measures what
  // serving costs, not what a second busy program on a 2-core machine costs.
  if (load?.pid) setPriority(load.pid, 19);
  let served = '';
  load?.stdout!.on('data', (b: Buffer) => (served += b.toString()));
  const rate = await trainRate(epochs, dir);
  if (load) {
    const done = new Promise((r) => load.on('close', r));
    load.kill('SIGTERM');
    await done;
  }
  await dash.close();
  return { rate, pages: Number(served) || 0 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/**
 * The three variants in turn, `rounds` times (a shared machine's speed drifts over seconds: taking
 * the variants in turn spreads the drift over all of them); each variant's median over its rounds.
 */
export async function benchDashboard(o: { quick: boolean }): Promise<Row[]> {
  const epochs = 3,
    rounds = o.quick ? 1 : 3;
  const base = mkdtempSync(join(tmpdir(), 'descent-bench-dash-'));
  const threads = d.getBackend().name === 'wasm' ? d.getNumThreads() : 1;
  const variants = ['none', 'idle', 'busy'] as const;
  const rates: Record<string, number[]> = { none: [], idle: [], busy: [] };
  let pages = 0,
    n = 0;
  try {
    await trainRate(1, join(base, 'warm'));
    for (let r = 0; r < rounds; r++) {
      for (const v of variants) {
        const m = await measure(v, epochs, join(base, `${v}-${n++}`));
        rates[v]!.push(m.rate);
        pages += m.pages;
      }
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  const none = median(rates.none!);
  return variants.map((v) => ({
    name: 'fit_mlp_dashboard',
    variant: v,
    backend: d.getBackend().name,
    threads,
    examples_per_second: Math.round(median(rates[v]!)),
    iters: rounds * epochs,
    seconds: 0,
    ...(v === 'none' ? {} : { ratio_vs_no_dashboard: Number((median(rates[v]!) / none).toFixed(2)) }),
    ...(v === 'busy' ? { pages_served: pages } : {}),
  }));
}
