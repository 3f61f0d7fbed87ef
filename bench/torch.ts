/**
 * PyTorch (Debian's python3-torch 1.13) and OpenBLAS (Debian's libopenblas0) on the bench's GEMM,
 * MLP and CNN workloads, in the same run as Descent's rows (bench/torch_peer.py, run by Debian's
 * own /usr/bin/python3: the python3 first on PATH may be another install that cannot see
 * python3-torch). PyTorch's settings are fixed, and each workload keeps its best:
 *   1 thread                       torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1
 *   1 OpenMP + N BLAS threads      torch.set_num_threads(1), OPENBLAS_NUM_THREADS=N
 *   N threads                      torch.set_num_threads(N), OPENBLAS_NUM_THREADS=N
 * The OpenBLAS GEMM rows are reported for 1 thread and N threads separately (the sgemm targets
 * compare one thread with one thread). The training rows (MLP, CNN) are each setting's median of
 * three processes, and 'pytorch*' rows repeat them with glibc keeping freed memory (MALLOC_KEEP). A peer that is not installed gives a row with `skipped`
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
  /** Processes the row is the median of (training workloads). */
  runs?: number;
}

export interface SkippedPeer {
  name: string;
  backend: string;
  skipped: string;
}

function runPeer(threads: number, blasThreads: number, budget: number, only: string, env: Record<string, string> = {}): Record<string, unknown>[] {
  const r = spawnSync(PYTHON, [SCRIPT, '--threads', String(threads), '--budget', String(budget), '--only', only], {
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(blasThreads), OMP_NUM_THREADS: String(threads), ...env },
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

/**
 * glibc told to keep the memory it frees (no mmap per large block, no trimming of the heap's top):
 * not a peer setting, but the figure that shows what the page faults cost PyTorch on this machine.
 * With glibc's defaults every block above the (dynamic, at most 32 MiB) mmap threshold is mapped
 * and unmapped again, so each step's large activations and im2col buffers fault their pages in
 * afresh; on the CNN the kernel's time then matches the user time.
 */
export const MALLOC_KEEP: Record<string, string> = { MALLOC_MMAP_THRESHOLD_: '4294967296', MALLOC_TRIM_THRESHOLD_: '4294967296' };

const rateOfPeer = (x: PeerRow): number => x.gflops ?? x.examples_per_second ?? 0;

function peerRow(raw: Record<string, unknown>, budget: number, setting: string | undefined, backend = String(raw.backend)): PeerRow {
  const row: PeerRow = { name: String(raw.name), backend, threads: Number(raw.threads), iters: Number(raw.iters), seconds: budget, setting };
  if (typeof raw.gflops === 'number') row.gflops = Number(raw.gflops.toFixed(2));
  else row.examples_per_second = Math.round(Number(raw.examples_per_second));
  return row;
}

/** The run with the median rate (runs: at least one). */
function median(runs: PeerRow[]): PeerRow {
  const sorted = [...runs].sort((a, b) => rateOfPeer(a) - rateOfPeer(b));
  return { ...sorted[(sorted.length - 1) >> 1]!, runs: runs.length };
}

/**
 * PyTorch's best setting per workload, and OpenBLAS's GEMM on 1 and N threads. The training
 * workloads' rate moves by up to 3x from one process to the next (PyTorch's page faults, above),
 * so each setting runs them in `runs` processes and keeps the median; the best setting wins.
 * Rows of backend 'pytorch*' are the same with MALLOC_KEEP, for reference only (no ratio target).
 */
export function benchTorch(o: { quick: boolean }): { rows: PeerRow[]; skipped: SkippedPeer[] } {
  const n = os.availableParallelism();
  const budget = o.quick ? 0.3 : 1.5,
    runs = o.quick ? 1 : 3;
  if (!existsSync(PYTHON)) return { rows: [], skipped: [{ name: '*', backend: 'pytorch', skipped: `${PYTHON} not found` }] };
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0)
    return { rows: [], skipped: [{ name: '*', backend: 'pytorch', skipped: `${PYTHON} cannot import torch: apt-get install python3-torch` }] };
  const settings: [string, number, number][] = [['1', 1, 1]];
  if (n > 1) settings.push([`1+${n}BLAS`, 1, n], [String(n), n, n]);
  const best = new Map<string, PeerRow>();
  const keep = (key: string, row: PeerRow): void => {
    const old = best.get(key);
    if (!old || rateOfPeer(row) > rateOfPeer(old)) best.set(key, row);
  };
  const skipped: SkippedPeer[] = [];
  for (const [setting, threads, blas] of settings) {
    // training rows per workload and allocator, over the runs
    const training = new Map<string, PeerRow[]>();
    for (let run = 0; run < runs; run++) {
      for (const [backend, env] of [
        ['pytorch', {}],
        ['pytorch*', MALLOC_KEEP],
      ] as const) {
        for (const raw of runPeer(threads, blas, budget, run === 0 && backend === 'pytorch' ? 'gemm,mlp,cnn' : 'mlp,cnn', env)) {
          if (typeof raw.skipped === 'string') {
            if (!skipped.some((s) => s.skipped === raw.skipped)) skipped.push({ name: String(raw.name), backend: 'openblas', skipped: raw.skipped });
          } else if (raw.backend === 'openblas') keep(`${String(raw.name)}/openblas/${Number(raw.threads)}`, peerRow(raw, budget, undefined));
          else if (String(raw.name).startsWith('gemm_')) keep(`${String(raw.name)}/pytorch`, peerRow(raw, budget, setting));
          else {
            const key = `${String(raw.name)}/${backend}`;
            training.set(key, [...(training.get(key) ?? []), peerRow(raw, budget, setting, backend)]);
          }
        }
      }
    }
    for (const [key, rows] of training) keep(key, median(rows));
  }
  return { rows: [...best.values()], skipped };
}
