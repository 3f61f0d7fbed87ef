/**
 * The parts of data parallelism that need no MPI: the loader's shard (each rank's batches, the
 * rows it reads, the position it records), finding the launcher from the environment, comparing
 * values across ranks, and fit() refusing a loader that is not sharded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import { detectMpi } from '../../src/node/index.js';
import { differsAcrossRanks, hash32 } from '../../src/distributed/communicator.js';

/** 7 examples whose value is their index; records which indices were read. */
function indexed(read: number[]): d.Dataset<d.Tensor[]> {
  return { length: 7, get: (i: number) => (read.push(i), [d.tensor([i]), d.tensor([i % 2], { dtype: 'int32' })]) };
}

function epoch(loader: d.DataLoader): { rows: number[][]; positions: number[] } {
  const rows: number[][] = [],
    positions: number[] = [];
  for (const [x] of loader) {
    rows.push(Array.from(x!.data));
    positions.push(loader.getState().batch);
  }
  return { rows, positions };
}

describe('DataLoader shard', () => {
  it('rank r serves batch b when b mod size = r, of the same shuffled order, and reads only those rows', () => {
    const whole = epoch(new d.DataLoader(indexed([]), { batchSize: 2, shuffle: true, generator: new d.Generator(5) }));
    // 7 examples in batches of 2: 4 batches (2, 2, 2, 1); rank 0 of 2 takes batches 0 and 2, rank 1 batches 1 and 3.
    const read0: number[] = [],
      read1: number[] = [];
    const r0 = epoch(new d.DataLoader(indexed(read0), { batchSize: 2, shuffle: true, generator: new d.Generator(5), shard: { rank: 0, size: 2 } }));
    const r1 = epoch(new d.DataLoader(indexed(read1), { batchSize: 2, shuffle: true, generator: new d.Generator(5), shard: { rank: 1, size: 2 } }));
    assert.deepEqual(r0.rows, [whole.rows[0], whole.rows[2]]);
    assert.deepEqual(r1.rows, [whole.rows[1], whole.rows[3]]);
    assert.deepEqual(read0.sort(), [...whole.rows[0]!, ...whole.rows[2]!].sort());
    assert.deepEqual(read1.sort(), [...whole.rows[1]!, ...whole.rows[3]!].sort());
    // The recorded position is the whole epoch's: after rank 0's batch 0, batches 0 and 1 are done
    // (batch 1 by rank 1); after its batch 2, the epoch is (0: between epochs).
    assert.deepEqual(r0.positions, [2, 0]);
    assert.equal(r0.rows.length + r1.rows.length, 4);
  });

  it('resumes mid-epoch from the whole epoch position', () => {
    const first = new d.DataLoader(indexed([]), { batchSize: 2, shuffle: true, generator: new d.Generator(5), shard: { rank: 0, size: 2 } });
    const it = first[Symbol.iterator]();
    it.next();
    const state = first.getState();
    assert.equal(state.batch, 2);
    const resumed = new d.DataLoader(indexed([]), { batchSize: 2, shuffle: true, generator: new d.Generator(0), shard: { rank: 1, size: 2 } });
    resumed.setState(state);
    const whole = epoch(new d.DataLoader(indexed([]), { batchSize: 2, shuffle: true, generator: new d.Generator(5) }));
    assert.deepEqual(epoch(resumed).rows, [whole.rows[3]]); // rank 1 goes on with batch 3
  });

  it('refuses a shard that is not a rank of its size', () => {
    assert.throws(() => new d.DataLoader(indexed([]), { shard: { rank: 2, size: 2 } }), /shard must be \{ rank, size \} with 0 <= rank < size/);
  });
});

describe('MPI launch and communicators', () => {
  it('detects Open MPI, MPICH / Slurm PMI and PMIx launches, and nothing otherwise', () => {
    assert.deepEqual(detectMpi({ OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_RANK: '3' }), { variable: 'OMPI_COMM_WORLD_SIZE', size: 4, rank: 3 });
    assert.deepEqual(detectMpi({ PMI_SIZE: '2', PMI_RANK: '0' }), { variable: 'PMI_SIZE', size: 2, rank: 0 });
    assert.deepEqual(detectMpi({ PMIX_RANK: '1' }), { variable: 'PMIX_RANK', rank: 1 });
    assert.equal(detectMpi({ PATH: '/usr/bin' }), null);
    assert.equal(detectMpi({ OMPI_COMM_WORLD_SIZE: '2', DESCENT_MPI: '0' }), null);
  });

  it('differsAcrossRanks compares each value over the ranks with one min and one max reduction', () => {
    // Two ranks simulated by a communicator that holds the other rank's values.
    const other = [1, 7, NaN];
    const comm: d.Communicator = {
      rank: 0,
      size: 2,
      allreduce: (data, op) => data.forEach((v, i) => (data[i] = op === 'min' ? Math.min(v, other[i]!) : Math.max(v, other[i]!))),
      broadcast: () => {},
    };
    assert.deepEqual(differsAcrossRanks(comm, [1, 8, NaN]), [false, true, false]);
    assert.equal(hash32('lr=0.1'), hash32('lr=0.1'));
    assert.notEqual(hash32('lr=0.1'), hash32('lr=0.2'));
  });

  it('fit() with a communicator of several ranks refuses a training loader without its shard, before any exchange', async () => {
    const comm: d.Communicator = {
      rank: 0,
      size: 2,
      allreduce: () => assert.fail('no collective should run'),
      broadcast: () => assert.fail('no collective should run'),
    };
    const model = new d.Linear(1, 2);
    const train = new d.DataLoader(indexed([]), { batchSize: 2 });
    await assert.rejects(
      d.fit({ model, optimizer: new d.SGD(model.parameters(), { lr: 0.1 }), train, epochs: 1, loss: (o, y) => d.crossEntropy(o, y), communicator: comm }),
      /the training loader must take this rank's share of each epoch: new DataLoader\(data, \{ \.\.\., shard: communicator \}\)/,
    );
  });

  it('fit() refuses ranks whose parameters have the same count but other shapes or dtypes, before any gradient exchange', async () => {
    // Rank 0 here; the other rank's setup facts are those of the same network in float64 (the same
    // parameter count): the first two allreduces (min, max of the facts) see both ranks' values.
    const facts = (dtype: 'float32' | 'float64') => {
      let seen: number[] = [];
      const recorder: d.Communicator = {
        rank: 0,
        size: 2,
        allreduce: (a) => {
          if (seen.length === 0) seen = Array.from(a);
          throw new Error('recorded');
        },
        broadcast: () => {},
      };
      const model = new d.Linear(1, 2, { dtype });
      const train = new d.DataLoader(indexed([]), { batchSize: 2, shard: recorder });
      return { recorder, model, train, seen: () => seen };
    };
    const other = facts('float64');
    await assert.rejects(
      d.fit({
        model: other.model,
        optimizer: new d.SGD(other.model.parameters(), { lr: 0.1 }),
        train: other.train,
        epochs: 1,
        loss: (o, y) => d.crossEntropy(o, y),
        communicator: other.recorder,
      }),
      /recorded/,
    );
    const peer = other.seen();
    const comm: d.Communicator = {
      rank: 0,
      size: 2,
      allreduce: (a, op) => {
        if (op === 'min' || op === 'max') for (let i = 0; i < a.length; i++) a[i] = Math[op](a[i]!, peer[i]!);
        else assert.fail('no gradient exchange should run');
      },
      broadcast: () => assert.fail('no broadcast should run'),
    };
    const model = new d.Linear(1, 2);
    const train = new d.DataLoader(indexed([]), { batchSize: 2, shard: comm });
    await assert.rejects(
      d.fit({ model, optimizer: new d.SGD(model.parameters(), { lr: 0.1 }), train, epochs: 1, loss: (o, y) => d.crossEntropy(o, y), communicator: comm }),
      /the 2 ranks were set up differently: parameterLayout differ/,
    );
  });
});
