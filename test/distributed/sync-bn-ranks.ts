// Run under `mpirun -np 2`: SyncBatchNorm over two processes against one process with the whole
// batch, (1) layer by layer (outputs, gradients, running statistics) and (2) fit()'s loss curve.
// Prints one JSON line on rank 0. Used by sync-bn.test.ts.
import * as d from '../../src/index.js';
import { mpiCommunicator } from '../../src/node/index.js';

const comm = mpiCommunicator();
const { rank, size } = comm;

/** max |a - b| / max |b|: the difference relative to the tensor's scale. */
function relDiff(a: d.Tensor, b: d.Tensor): number {
  const x = a.data,
    y = b.data;
  if (x.length !== y.length) return Infinity;
  let diff = 0,
    scale = 0;
  for (let i = 0; i < y.length; i++) {
    diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
    scale = Math.max(scale, Math.abs(y[i]!));
  }
  return diff / scale;
}

/** The sum over the ranks of t (float64). */
function allSum(t: d.Tensor): d.Tensor {
  const buf = Float64Array.from(t.data);
  comm.allreduce(buf, 'sum');
  return d.tensor(buf, { shape: t.shape, dtype: 'float64' });
}

/** The maximum over the ranks of each value. */
function allMax(values: Record<string, number>): Record<string, number> {
  const keys = Object.keys(values).sort();
  const buf = Float64Array.from(keys.map((k) => values[k]!));
  comm.allreduce(buf, 'max');
  return Object.fromEntries(keys.map((k, i) => [k, buf[i]!]));
}

function withState<T extends d.BatchNorm1d | d.BatchNorm2d | d.SyncBatchNorm>(bn: T): T {
  const g = new d.Generator(3);
  const dtype = bn.weight!.dtype as 'float32' | 'float64';
  bn.weight!.assign(d.add(d.randn([bn.numFeatures], { generator: g, dtype }), 1));
  bn.bias!.assign(d.randn([bn.numFeatures], { generator: g, dtype }));
  return bn;
}

/**
 * Two training steps of 2B examples, shape [2B, C, ...]: each rank feeds its half to a
 * SyncBatchNorm; every rank also runs a BatchNorm on the whole batch and compares its own rows.
 * Loss <y, seed> is a sum over examples, so the weight and bias gradients add up over the ranks.
 */
function layerCheck(shape: number[], dtype: 'float32' | 'float64'): Record<string, number> {
  const C = shape[1]!;
  const half = shape[0]! / size;
  const sync = withState(new d.SyncBatchNorm(C, { dtype, communicator: comm }));
  const one = withState(shape.length === 4 ? new d.BatchNorm2d(C, { dtype }) : new d.BatchNorm1d(C, { dtype }));
  const g = new d.Generator(17);
  const diffs = { y: 0, dx: 0, dw: 0, db: 0, running: 0, eval: 0 };
  const step = (bn: d.Module & { weight: d.Tensor | null; bias: d.Tensor | null }, x: d.Tensor, seed: d.Tensor) => {
    const xi = d.clone(x);
    const { value, grads } = d.vjp(() => bn.forward(xi), [xi, bn.weight!, bn.bias!], seed);
    return { y: value, dx: grads.get(xi), dw: grads.get(bn.weight!), db: grads.get(bn.bias!) };
  };
  for (let s = 0; s < 2; s++) {
    const x = d.add(d.mul(d.randn(shape, { generator: g, dtype }), 2), 5);
    const seed = d.randn(shape, { generator: g, dtype });
    const mine = (t: d.Tensor) => d.narrow(t, 0, rank * half, half);
    const a = step(sync, mine(x), mine(seed));
    const b = step(one, x, seed);
    diffs.y = Math.max(diffs.y, relDiff(a.y, mine(b.y)));
    diffs.dx = Math.max(diffs.dx, relDiff(a.dx, mine(b.dx)));
    diffs.dw = Math.max(diffs.dw, relDiff(allSum(a.dw), b.dw));
    diffs.db = Math.max(diffs.db, relDiff(allSum(a.db), b.db));
  }
  for (const k of ['running_mean', 'running_var', 'num_batches_tracked'])
    diffs.running = Math.max(diffs.running, relDiff(sync.stateDict()[k]!, one.stateDict()[k]!));
  sync.eval();
  one.eval();
  const x = d.randn(shape, { generator: g, dtype });
  diffs.eval = relDiff(sync.forward(x), one.forward(x));
  return allMax(diffs);
}

/** The loss of each update of two epochs of a small network with BatchNorm (converted to SyncBatchNorm when `sync`). */
async function lossCurve(o: { communicator?: d.Communicator; batchSize: number; sync: boolean }): Promise<number[]> {
  d.manualSeed(5);
  const g = new d.Generator(11);
  // 256 examples: 8 updates of 32 per epoch (batches of 16 on each of 2 ranks, or of 32 on one).
  const x = d.add(d.mul(d.randn([256, 8], { generator: g }), 3), 1);
  const y = d.randint(0, 3, [256], { generator: g });
  let model = new d.Sequential(new d.Linear(8, 16), new d.BatchNorm1d(16), new d.ReLU(), new d.Linear(16, 3));
  if (o.sync) model = d.SyncBatchNorm.convertSyncBatchnorm(model, o.communicator);
  const optimizer = new d.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const train = new d.DataLoader(new d.TensorDataset(x, y), { batchSize: o.batchSize, shuffle: true, generator: new d.Generator(7), shard: o.communicator });
  const losses = new Map<number, number>();
  await d.fit({
    model,
    optimizer,
    train,
    epochs: 2,
    loss: (out, t) => d.crossEntropy(out, t),
    communicator: o.communicator,
    callbacks: [{ onStepEnd: (m) => void losses.set(m.step, m.loss) }],
  });
  return [...losses.values()];
}

const maxRel = (a: number[], b: number[]) => (a.length !== b.length ? Infinity : a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!) / Math.abs(b[i]!)), 0));

const layer = {
  f64_2d: layerCheck([8, 3, 4, 5], 'float64'),
  f64_1d: layerCheck([10, 4], 'float64'),
  f32_3d: layerCheck([6, 5, 7], 'float32'),
};
const syncCurve = await lossCurve({ communicator: comm, batchSize: 16, sync: true });
const perRankCurve = await lossCurve({ communicator: comm, batchSize: 16, sync: false });
let refused = '';
try {
  // 7 batches of 16 over 2 ranks: the last update group leaves rank 1 without a batch.
  const model = new d.Sequential(new d.Linear(8, 4), new d.SyncBatchNorm(4, { communicator: comm }));
  const data = new d.TensorDataset(d.randn([112, 8]), d.randint(0, 4, [112]));
  await d.fit({
    model,
    optimizer: new d.SGD(model.parameters(), { lr: 0.1 }),
    train: new d.DataLoader(data, { batchSize: 16, shard: comm }),
    epochs: 1,
    loss: (out, t) => d.crossEntropy(out, t),
    communicator: comm,
  });
} catch (e) {
  refused = (e as Error).message;
}
if (rank === 0) {
  const oneCurve = await lossCurve({ batchSize: 32, sync: false });
  const result = {
    ranks: size,
    layer,
    steps: oneCurve.length,
    syncVsOne: maxRel(syncCurve, oneCurve),
    perRankVsOne: maxRel(perRankCurve, oneCurve),
    refused,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}
comm.finalize();
