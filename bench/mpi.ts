/**
 * Data-parallel speed-up (issue 17): fit() on the benchmark MLP 784-512-256-10 (SGD with
 * momentum, the built-in Fashion-MNIST subset) with a global batch of 128, as
 *   - 1 process, 1 thread, batch 128;
 *   - 1 process, all threads, batch 128;
 *   - `mpirun -np 2`, 1 thread per rank, batch 64 per rank (the same updates),
 *   - two independent processes at once, 1 thread and batch 64 each, no communicator (the sum of
 *     their rates: what this machine allows two ranks before any allreduce; two single-threaded
 *     processes share the caches and memory bandwidth),
 * in examples/s (the best epoch's, of 8: the first epochs run slower while V8 tiers up), with the
 * speed-up of the ranks over each single process and the share of the ranks' step time spent in
 * the gradient allreduce (waiting for the other rank included). Prints one JSON object per
 * line, then a table. The wasm backend's own kernels by default; BENCH_MPI_BACKEND=native runs
 * every configuration on the native kernels instead. Run: `node --import tsx bench/mpi.ts [--quick]` (needs mpirun and the MPI
 * addon; as root, it sets Open MPI's OMPI_ALLOW_RUN_AS_ROOT* for its own job).
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import * as d from '../src/index.js';
import { loadFashionMnist } from '../src/data/builtin.js';
import { detectMpi, mpiCommunicator } from '../src/node/index.js';
import { SIZES } from './mlp.js';
import { useBackend } from './measure.js';

interface Row {
  name: string;
  setup: string;
  backend: string;
  threads: number;
  ranks: number;
  examples_per_second: number;
  allreduce_share?: number;
  speedup_vs_1x1?: number;
  speedup_vs_1xall?: number;
}

/** A communicator that times its allreduces. */
function timed(comm: d.Communicator): d.Communicator & { seconds: number } {
  const t = {
    rank: comm.rank,
    size: comm.size,
    seconds: 0,
    allreduce(data: Float32Array | Float64Array, op?: d.ReduceOp) {
      const t0 = performance.now();
      comm.allreduce(data, op);
      t.seconds += (performance.now() - t0) / 1000;
    },
    broadcast: (data: Float32Array | Float64Array | Uint8Array, root: number) => comm.broadcast(data, root),
  };
  return t;
}

/** One configuration, in this process (a rank of the job under mpirun); prints its row on rank 0. */
async function worker(threads: number, batchSize: number, epochs: number): Promise<void> {
  const mpi = detectMpi(process.env) ? mpiCommunicator() : undefined;
  const comm = mpi ? timed(mpi) : undefined;
  useBackend(process.env.BENCH_MPI_BACKEND === 'native' ? 'native' : 'wasm', threads);
  d.manualSeed(0);
  const { train } = loadFashionMnist();
  const layers: d.Module[] = [];
  for (let l = 0; l + 1 < SIZES.length; l++) layers.push(new d.Linear(SIZES[l]!, SIZES[l + 1]!), ...(l + 2 < SIZES.length ? [new d.ReLU()] : []));
  const model = new d.Sequential(...layers);
  const r = await d.fit({
    model,
    epochs,
    loss: (o, y) => d.crossEntropy(o, y),
    optimizer: new d.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }),
    train: new d.DataLoader(train, { batchSize, shuffle: true, shard: comm }),
    communicator: comm,
  });
  const best = r.epochs.reduce((a, e) => (e.examples_per_second > a.examples_per_second ? e : a));
  const seconds = r.epochs.reduce((s, e) => s + e.seconds, 0);
  if (!comm || comm.rank === 0) {
    const row = { examples_per_second: Math.round(best.examples_per_second), allreduce_share: comm ? Number((comm.seconds / seconds).toFixed(3)) : undefined };
    process.stdout.write(`ROW ${JSON.stringify(row)}\n`);
  }
  mpi?.finalize();
}

function run(command: string, args: string[]): { examples_per_second: number; allreduce_share?: number } {
  const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' };
  const r = spawnSync(command, args, { env, encoding: 'utf8', timeout: 600_000 });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('ROW '));
  if (r.status !== 0 || !line) throw new Error(`bench/mpi: ${command} ${args.join(' ')} failed (${r.status}): ${r.stderr?.slice(-1000)}`);
  return JSON.parse(line.slice(4));
}

/** Two copies of a command at once; their rows' rates added. */
async function pair(command: string, args: string[]): Promise<{ examples_per_second: number }> {
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const c = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (b: Buffer) => (out += b.toString()));
      c.on('close', (code) => {
        const line = out.split('\n').find((l) => l.startsWith('ROW '));
        if (code === 0 && line) resolve((JSON.parse(line.slice(4)) as { examples_per_second: number }).examples_per_second);
        else reject(new Error(`bench/mpi: ${command} ${args.join(' ')} failed (${code})`));
      });
    });
  const rates = await Promise.all([one(), one()]);
  return { examples_per_second: rates[0]! + rates[1]! };
}

async function driver(quick: boolean): Promise<void> {
  const epochs = quick ? 2 : 8;
  const all = os.availableParallelism();
  const self = [process.execPath, '--import', import.meta.resolve('tsx'), new URL(import.meta.url).pathname, '--worker'];
  const rows: Row[] = [];
  const base = { name: 'fit_mlp_global_batch_128', backend: process.env.BENCH_MPI_BACKEND === 'native' ? 'native' : 'wasm' };
  const one = run(self[0]!, [...self.slice(1), '1', '128', String(epochs)]);
  rows.push({ ...base, setup: '1 process x 1 thread, batch 128', threads: 1, ranks: 1, ...one });
  const many = run(self[0]!, [...self.slice(1), String(all), '128', String(epochs)]);
  rows.push({ ...base, setup: `1 process x ${all} threads, batch 128`, threads: all, ranks: 1, ...many });
  const ranks = run('mpirun', ['--oversubscribe', '--bind-to', 'core', '-np', '2', ...self, '1', '64', String(epochs)]);
  const twoRanks = (setup: string, r: { examples_per_second: number }): Row => ({
    ...base,
    setup,
    threads: 1,
    ranks: 2,
    ...r,
    speedup_vs_1x1: Number((r.examples_per_second / one.examples_per_second).toFixed(2)),
    speedup_vs_1xall: Number((r.examples_per_second / many.examples_per_second).toFixed(2)),
  });
  rows.push(twoRanks('2 ranks x 1 thread, batch 64 each', ranks));
  rows.push(twoRanks('2 processes x 1 thread, batch 64, apart', await pair(self[0]!, [...self.slice(1), '1', '64', String(epochs)])));
  for (const r of rows) console.log(JSON.stringify(r));
  console.log(
    `\n${'data parallelism (MLP 784-512-256-10)'.padEnd(41)} ${'examples/s'.padStart(10)} ${'vs 1x1'.padStart(7)} ${`vs 1x${all}`.padStart(7)} ${'allreduce'.padStart(9)}`,
  );
  for (const r of rows) {
    const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(2));
    const share = r.allreduce_share === undefined ? '-' : `${(r.allreduce_share * 100).toFixed(1)}%`;
    console.log(
      `${r.setup.padEnd(41)} ${String(r.examples_per_second).padStart(10)} ${f(r.speedup_vs_1x1).padStart(7)} ${f(r.speedup_vs_1xall).padStart(7)} ${share.padStart(9)}`,
    );
  }
}

const at = process.argv.indexOf('--worker');
if (at >= 0) await worker(Number(process.argv[at + 1]), Number(process.argv[at + 2]), Number(process.argv[at + 3]));
else await driver(process.argv.includes('--quick'));
