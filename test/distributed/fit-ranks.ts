// Run under `mpirun -np 2`: fit() with an MPI communicator, against one process with --accumulate 2
// (which rank 0 trains itself afterwards). Prints one JSON line on rank 0. Used by mpi.test.ts.
import * as d from '../../src/index.js';
import { mpiCommunicator } from '../../src/node/index.js';

const comm = mpiCommunicator();

/** Parameters and buffers after two epochs of a small network on fixed random data. */
async function train(layers: 'dropout' | 'batchnorm', o: { communicator?: d.Communicator; accumulate: number }) {
  d.manualSeed(3);
  const g = new d.Generator(11);
  // 230 examples in batches of 16: 15 batches, so the last update group holds one batch.
  const x = d.randn([230, 8], { generator: g });
  const y = d.randint(0, 3, [230], { generator: g });
  const model =
    layers === 'dropout'
      ? new d.Sequential(new d.Linear(8, 16), new d.ReLU(), new d.Dropout(0.3), new d.Linear(16, 3))
      : new d.Sequential(new d.Linear(8, 16), new d.BatchNorm1d(16), new d.ReLU(), new d.Linear(16, 3));
  const optimizer = new d.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const train = new d.DataLoader(new d.TensorDataset(x, y), { batchSize: 16, shuffle: true, shard: o.communicator });
  await d.fit({ model, optimizer, train, epochs: 2, accumulate: o.accumulate, loss: (out, t) => d.crossEntropy(out, t), communicator: o.communicator });
  const state = model.stateDict();
  const params = new Set(model.parameters());
  const pick = (p: boolean) =>
    Object.keys(state)
      .filter((k) => params.has(state[k]!) === p && state[k]!.dtype !== 'int32')
      .map((k) => Array.from(state[k]!.data));
  return { params: pick(true).flat(), buffers: pick(false).flat() };
}

const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
const maxDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

const dropout = await train('dropout', { communicator: comm, accumulate: 1 });
const batchnorm = await train('batchnorm', { communicator: comm, accumulate: 1 });
if (comm.rank === 0) {
  const dropoutOne = await train('dropout', { accumulate: 2 });
  const batchnormOne = await train('batchnorm', { accumulate: 2 });
  const result = {
    ranks: comm.size,
    dropoutIdentical: same(dropout.params, dropoutOne.params),
    batchnormWeightsIdentical: same(batchnorm.params, batchnormOne.params),
    batchnormRunningStatsDiff: maxDiff(batchnorm.buffers, batchnormOne.buffers),
    buffers: batchnorm.buffers.length,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}
comm.finalize();
