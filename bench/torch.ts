/**
 * PyTorch (Debian's python3-torch 1.13) and OpenBLAS (Debian's libopenblas0) on the bench's GEMM,
 * MLP and CNN workloads, in the same run as Descent's rows (bench/torch_peer.py, run by Debian's
 * own /usr/bin/python3: the python3 first on PATH may be another install that cannot see
 * python3-torch). PyTorch's settings are fixed, and each workload keeps its best:
 *   1 thread                       torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1
 *   1 OpenMP + N BLAS threads      torch.set_num_threads(1), OPENBLAS_NUM_THREADS=N
 *   N threads                      torch.set_num_threads(N), OPENBLAS_NUM_THREADS=N
 * The OpenBLAS GEMM rows are reported for 1 thread and N threads separately (the sgemm targets
 * compare one thread with one thread). A peer that is not installed gives a row with `skipped`
 * and the reason: a skipped peer means its target is unmet, never met.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { Result } from './measure.js';

const PYTHON = process.env.DESCENT_TORCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, 'torch_peer.py');

export interface PeerRow extends Result {
  /** Which PyTorch setting gave the best rate ('1', '1+NBLAS', 'N'). */
  setting?: string;
}

export interface SkippedPeer {
  name: string;
  backend: string;
  skipped: string;
}

function runPeer(threads: number, blasThreads: number, budget: number, only: string): Record<string, unknown>[] {
  const r = spawnSync(PYTHON, [SCRIPT, '--threads', String(threads), '--budget', String(budget), '--only', only], {
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(blasThreads), OMP_NUM_THREADS: String(threads) },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`${PYTHON} bench/torch_peer.py: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').at(-1)}`);
  return r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** PyTorch's best setting per workload, and OpenBLAS's GEMM on 1 and N threads. */
export function benchTorch(o: { quick: boolean }): { rows: PeerRow[]; skipped: SkippedPeer[] } {
  const n = os.availableParallelism();
  const budget = o.quick ? 0.3 : 1.5;
  if (!existsSync(PYTHON)) return { rows: [], skipped: [{ name: '*', backend: 'pytorch', skipped: `${PYTHON} not found` }] };
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0)
    return { rows: [], skipped: [{ name: '*', backend: 'pytorch', skipped: `${PYTHON} cannot import torch: apt-get install python3-torch` }] };
  const settings: [string, number, number][] = [['1', 1, 1]];
  if (n > 1) settings.push([`1+${n}BLAS`, 1, n], [String(n), n, n]);
  const best = new Map<string, PeerRow>();
  const skipped: SkippedPeer[] = [];
  for (const [setting, threads, blas] of settings) {
    for (const raw of runPeer(threads, blas, budget, 'gemm,mlp,cnn')) {
      if (typeof raw.skipped === 'string') {
        if (!skipped.some((s) => s.skipped === raw.skipped)) skipped.push({ name: String(raw.name), backend: 'openblas', skipped: raw.skipped });
        continue;
      }
      const row: PeerRow = {
        name: String(raw.name),
        backend: String(raw.backend),
        threads: Number(raw.threads),
        iters: Number(raw.iters),
        seconds: budget,
        setting: raw.backend === 'pytorch' ? setting : undefined,
      };
      if (typeof raw.gflops === 'number') row.gflops = Number(raw.gflops.toFixed(2));
      else row.examples_per_second = Math.round(Number(raw.examples_per_second));
      // PyTorch: one row per workload, its best setting; OpenBLAS: one row per thread count.
      const key = row.backend === 'openblas' ? `${row.name}/openblas/${row.threads}` : `${row.name}/pytorch`;
      const rate = (x: PeerRow) => x.gflops ?? x.examples_per_second ?? 0;
      const old = best.get(key);
      if (!old || rate(row) > rate(old)) best.set(key, row);
    }
  }
  return { rows: [...best.values()], skipped };
}
