/**
 * SyncBatchNorm without MPI: BatchNorm exactly without a communicator (or with one rank, or in
 * eval mode); two ranks simulated in one process by replaying what the other rank sends (exact
 * against BatchNorm on the whole batch: outputs, input and parameter gradients, running
 * statistics); a float64 finite-difference check; convertSyncBatchnorm; the guards. The real
 * two-process check is test/distributed/sync-bn.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../api/internal.js';
import { assertClose, flat } from '../helpers.js';

const same = (a: d.Tensor, b: d.Tensor) => assert.deepEqual(flat(a), flat(b));

/**
 * One rank of `size` in one process. min and max leave the data as it is (the ranks agree); the
 * k-th 'sum' records this rank's buffer in `sent[k]` and adds `others[k]` when given: what the
 * other ranks send, recorded from an earlier run of theirs.
 */
class ReplayComm implements d.Communicator {
  readonly sent: Float64Array[] = [];
  constructor(
    readonly rank: number,
    readonly size: number,
    private readonly others: readonly (Float64Array | undefined)[] = [],
  ) {}
  allreduce(data: Float32Array | Float64Array, op: d.ReduceOp = 'sum'): void {
    if (op !== 'sum') return;
    const other = this.others[this.sent.length];
    this.sent.push(Float64Array.from(data));
    if (other) for (let i = 0; i < data.length; i++) data[i]! += other[i]!;
  }
  broadcast(): void {}
}

/** BatchNorm-like layer -> its output for x and the gradients of <output, seed> for x, weight and bias. */
function run(bn: d.BatchNorm1d | d.BatchNorm2d | d.SyncBatchNorm, x: d.Tensor, seed: d.Tensor) {
  const xi = d.clone(x);
  const { value, grads } = d.vjp(() => bn.forward(xi), [xi, bn.weight!, bn.bias!], seed);
  return { y: value, dx: grads.get(xi), dw: grads.get(bn.weight!), db: grads.get(bn.bias!) };
}

/** A layer with non-trivial weight, bias and running statistics. */
function setUp<T extends d.BatchNorm1d | d.BatchNorm2d | d.SyncBatchNorm>(bn: T, g: d.Generator): T {
  const C = bn.numFeatures;
  const dtype = bn.weight!.dtype as 'float32' | 'float64';
  bn.weight!.assign(d.add(d.randn([C], { generator: g, dtype }), 1));
  bn.bias!.assign(d.randn([C], { generator: g, dtype }));
  bn.runningMean!.assign(d.randn([C], { generator: g, dtype }));
  return bn;
}

describe('SyncBatchNorm alone is BatchNorm', () => {
  const cases = [
    { name: 'BatchNorm1d [N, C]', shape: [6, 3], make: (o: d.BatchNormOptions) => new d.BatchNorm1d(3, o) },
    { name: 'BatchNorm1d [N, C, L]', shape: [4, 3, 5], make: (o: d.BatchNormOptions) => new d.BatchNorm1d(3, o) },
    { name: 'BatchNorm2d', shape: [2, 3, 4, 5], make: (o: d.BatchNormOptions) => new d.BatchNorm2d(3, o) },
  ];
  for (const c of cases) {
    for (const comm of [undefined, new ReplayComm(0, 1)]) {
      it(`${c.name}, ${comm ? 'a communicator of one rank' : 'no communicator'}: forward, backward, running statistics and eval, bit for bit`, () => {
        for (const momentum of [0.1, null]) {
          const g1 = new d.Generator(5),
            g2 = new d.Generator(5);
          const bn = setUp(c.make({ momentum }), g1);
          const sync = setUp(new d.SyncBatchNorm(3, { momentum, communicator: comm }), g2);
          const g = new d.Generator(9);
          for (let step = 0; step < 2; step++) {
            const x = d.randn(c.shape, { generator: g });
            const seed = d.randn(c.shape, { generator: g });
            const a = run(bn, x, seed),
              b = run(sync, x, seed);
            for (const k of ['y', 'dx', 'dw', 'db'] as const) same(a[k], b[k]);
          }
          for (const k of ['running_mean', 'running_var', 'num_batches_tracked']) same(bn.stateDict()[k]!, sync.stateDict()[k]!);
          bn.eval();
          sync.eval();
          const x = d.randn(c.shape, { generator: g });
          same(bn.forward(x), sync.forward(x));
          assert.equal(comm?.sent.length ?? 0, 0, 'one rank: no collective call');
        }
      });
    }
  }

  it('has BatchNorm state-dict keys, mixes examples, and checks its input', () => {
    const sync = new d.SyncBatchNorm(4);
    assert.deepEqual(Object.keys(sync.stateDict()), Object.keys(new d.BatchNorm1d(4).stateDict()));
    assert.equal(sync.mixesExamples, true);
    assert.equal(sync.collectiveForward, false);
    assert.equal(sync.setCommunicator(new ReplayComm(0, 2)).collectiveForward, true);
    assert.equal(sync.forward(d.randn([2, 4, 2, 2, 3])).rank, 5);
    assert.throws(() => sync.forward(d.randn([3, 5])), /SyncBatchNorm: expected input of rank 2 or 3 or 4 or 5 with 4 channels on axis 1, got shape \[3, 5\]/);
    assert.throws(
      () => new d.SyncBatchNorm(4, { communicator: null }).forward(d.randn([4])),
      /SyncBatchNorm: expected input of rank 2 or 3 or 4 or 5 with 4 channels on axis 1, got shape \[4\]/,
    );
  });
});

/**
 * Two ranks, each with half of a batch, simulated in one process: a first pass records what each
 * rank sends (its statistics row in forward, the gradient of the gathered statistics in
 * backward; neither depends on what the other sends in the same call), a second pass replays it.
 */
function twoRanks(shape: number[], dtype: 'float32' | 'float64', momentum: number | null = 0.1) {
  const g = new d.Generator(21);
  const x = d.mul(d.add(d.randn(shape, { generator: g, dtype }), 3), 2); // mean 6, std 2: not centred
  const seed = d.randn(shape, { generator: g, dtype });
  const half = shape[0]! / 2;
  const part = (t: d.Tensor, r: number) => d.narrow(t, 0, r * half, half);
  const C = shape[1]!;
  const layer = (comm: d.Communicator) => setUp(new d.SyncBatchNorm(C, { dtype, momentum, communicator: comm }), new d.Generator(3));
  // Pass 1 records the statistics rows; pass 2, given the other's row, the backward buffers
  // (they depend on the global statistics); pass 3 replays both.
  const pass = (others: readonly (readonly (Float64Array | undefined)[])[]) =>
    [0, 1].map((r) => {
      const comm = new ReplayComm(r, 2, others[1 - r]);
      run(layer(comm), part(x, r), part(seed, r));
      return comm.sent;
    });
  const rows = pass([[], []]);
  const record = pass(rows.map((sent) => [sent[0]]));
  const ranks = [0, 1].map((r) => {
    const comm = new ReplayComm(r, 2, record[1 - r]);
    const bn = layer(comm);
    const out = run(bn, part(x, r), part(seed, r));
    assert.equal(comm.sent.length, 2, 'one allreduce in forward, one in backward');
    return { ...out, bn };
  });
  const full = setUp(shape.length === 4 ? new d.BatchNorm2d(C, { dtype, momentum }) : new d.BatchNorm1d(C, { dtype, momentum }), new d.Generator(3));
  return { ranks, one: run(full, x, seed), full, part };
}

describe('SyncBatchNorm over two ranks (simulated) is BatchNorm on the whole batch', () => {
  for (const [shape, dtype, tol] of [
    [[8, 3], 'float64', 1e-12],
    [[4, 3, 2, 5], 'float64', 1e-12],
    [[6, 2, 7], 'float32', 1e-5],
  ] as const) {
    it(`${dtype} ${JSON.stringify(shape)}: each rank's output and input gradient are its rows of the whole batch's; parameter gradients add up; running statistics agree`, () => {
      const { ranks, one, full, part } = twoRanks([...shape], dtype);
      const t = { rtol: tol, atol: tol };
      ranks.forEach((r, k) => {
        assertClose(r.y, part(one.y, k).toArray(), t, `rank ${k} output`);
        assertClose(r.dx, part(one.dx, k).toArray(), t, `rank ${k} input gradient`);
        for (const key of ['running_mean', 'running_var']) assertClose(r.bn.stateDict()[key]!, full.stateDict()[key]!.toArray(), t, key);
      });
      // <y, seed> is a sum over examples: the whole batch's parameter gradient is the ranks' sum.
      assertClose(d.add(ranks[0]!.dw, ranks[1]!.dw), one.dw.toArray(), t, 'weight gradient');
      assertClose(d.add(ranks[0]!.db, ranks[1]!.db), one.db.toArray(), t, 'bias gradient');
      same(ranks[0]!.bn.runningVar!, ranks[1]!.bn.runningVar!); // identical on every rank
    });
  }

  it('a BatchNorm per rank (each half normalised by its own statistics) does not match', () => {
    const { one, part } = twoRanks([8, 3], 'float64');
    const g = new d.Generator(21);
    const x = d.mul(d.add(d.randn([8, 3], { generator: g, dtype: 'float64' }), 3), 2);
    const seed = d.randn([8, 3], { generator: g, dtype: 'float64' });
    const own = run(setUp(new d.BatchNorm1d(3, { dtype: 'float64' }), new d.Generator(3)), part(x, 0), part(seed, 0));
    assert.throws(() => assertClose(own.y, part(one.y, 0).toArray(), { rtol: 1e-3, atol: 1e-3 }));
  });

  it('the input gradient is the finite-difference one (float64), the other rank held fixed', () => {
    const g = new d.Generator(4);
    const x0 = d.randn([5, 3], { generator: g, dtype: 'float64' });
    const x1 = d.randn([7, 3], { generator: g, dtype: 'float64' });
    const other = new ReplayComm(1, 2);
    setUp(new d.SyncBatchNorm(3, { dtype: 'float64', communicator: other }), new d.Generator(3)).forward(x1);
    // Rank 0's output as a function of its own examples, rank 1's statistics fixed and its
    // backward contribution zero: the tape's gradient must be this function's.
    const f = (x: d.Tensor) =>
      setUp(new d.SyncBatchNorm(3, { dtype: 'float64', communicator: new ReplayComm(0, 2, [other.sent[0]]) }), new d.Generator(3)).forward(x);
    const r = d.gradCheck(f, [x0], { directions: 4 });
    assert.ok(r.ok, JSON.stringify(r));
  });

  it('a rank with an empty batch still takes part, and weighs nothing', () => {
    const g = new d.Generator(8);
    const x = d.randn([6, 2], { generator: g, dtype: 'float64' });
    const full = new ReplayComm(0, 2);
    new d.SyncBatchNorm(2, { dtype: 'float64', communicator: full }).forward(x);
    const empty = new ReplayComm(1, 2, [full.sent[0]]);
    const y0 = new d.SyncBatchNorm(2, { dtype: 'float64', communicator: empty }).forward(d.narrow(x, 0, 0, 0));
    assert.deepEqual(y0.shape, [0, 2]);
    const y = new d.SyncBatchNorm(2, { dtype: 'float64', communicator: new ReplayComm(0, 2, [empty.sent[0]]) }).forward(x);
    assertClose(y, new d.BatchNorm1d(2, { dtype: 'float64' }).forward(x).toArray(), { atol: 1e-12 });
  });

  it('refuses ranks with different channel counts, and one value per channel over all ranks', () => {
    const disagree: d.Communicator = {
      rank: 0,
      size: 2,
      allreduce: (data, op) => void (op === 'max' && (data[0] = 99)),
      broadcast: () => {},
    };
    assert.throws(
      () => new d.SyncBatchNorm(3, { communicator: disagree }).forward(d.randn([4, 3])),
      /the 2 ranks have different channel counts \(this rank 3\)/,
    );
    const sync = new d.SyncBatchNorm(3, { communicator: new ReplayComm(0, 2) }); // the other rank sends an empty batch
    assert.throws(() => sync.forward(d.randn([1, 3])), /expected more than 1 value per channel over all ranks when training, got 1/);
  });
});

class Block extends d.Module {
  conv = new d.Conv2d(2, 4, 3, { padding: 1 });
  norm = new d.BatchNorm2d(4, { eps: 1e-3, momentum: null });
  forward(x: d.Tensor): d.Tensor {
    return d.relu(this.norm.forward(this.conv.forward(x)));
  }
}

describe('SyncBatchNorm.convertSyncBatchnorm', () => {
  it('replaces every BatchNorm1d/2d, at any depth, keeping the tensors, options, mode and state-dict keys', () => {
    const shared = new d.BatchNorm1d(8, { affine: false, dtype: 'float32' });
    const model = new d.Sequential(
      new Block(),
      new d.Flatten(),
      new d.Linear(4 * 3 * 3, 8),
      shared,
      new d.Residual(new d.Sequential(new d.Linear(8, 8), shared)),
    );
    const block = model.at(0) as Block;
    block.norm.eval();
    const params = model.parameters();
    const state = model.stateDict();
    const comm = new ReplayComm(0, 1);
    assert.equal(d.SyncBatchNorm.convertSyncBatchnorm(model, comm), model);
    const syncs = model.namedModules().filter(([, m]) => m instanceof d.SyncBatchNorm);
    assert.deepEqual(
      syncs.map(([k]) => k),
      ['0.norm', '3'],
    );
    assert.ok(!model.namedModules().some(([, m]) => m instanceof d.BatchNorm1d || m instanceof d.BatchNorm2d));
    const norm = block.norm as unknown as d.SyncBatchNorm;
    assert.ok(norm instanceof d.SyncBatchNorm && norm.communicator === comm);
    assert.equal(norm.eps, 1e-3);
    assert.equal(norm.momentum, null);
    assert.equal(norm.training, false);
    assert.ok(model.at(3) instanceof d.SyncBatchNorm && model.at(3).training);
    const inner = (model.at(4) as d.Residual).body as d.Sequential;
    assert.equal(inner.at(1), model.at(3), 'a layer used twice becomes one SyncBatchNorm');
    assert.equal((model.at(3) as d.SyncBatchNorm).weight, null);
    // The same tensors under the same keys: an optimizer made before still trains them.
    assert.deepEqual(model.parameters(), params);
    const after = model.stateDict();
    assert.deepEqual(Object.keys(after), Object.keys(state));
    for (const k of Object.keys(state)) assert.equal(after[k], state[k], k);
    assert.ok(!Object.hasOwn(model, '3'), 'no stray field for a Sequential slot');
    assert.deepEqual(model.forward(d.randn([5, 2, 3, 3])).shape, [5, 8]);
  });

  it('one BatchNorm in two slots of the same Sequential becomes one SyncBatchNorm in both', () => {
    const bn = new d.BatchNorm1d(4);
    const model = new d.Sequential(bn, new d.ReLU(), bn);
    d.SyncBatchNorm.convertSyncBatchnorm(model);
    assert.ok(model.at(0) instanceof d.SyncBatchNorm);
    assert.equal(model.at(2), model.at(0));
    assert.deepEqual(
      model.namedChildren().map(([k, m]) => `${k}:${m.constructor.name}`),
      ['0:SyncBatchNorm', '1:ReLU', '2:SyncBatchNorm'],
    );
    assert.ok(!model.namedModules().some(([, m]) => m instanceof d.BatchNorm1d), 'no BatchNorm left registered');
    assert.deepEqual(model.forward(d.randn([3, 4])).shape, [3, 4]);
  });

  it('a BatchNorm given itself is returned converted; SyncBatchNorm and other layers are left as they are', () => {
    const bn = new d.BatchNorm2d(3, { dtype: 'float64' });
    const sync = d.SyncBatchNorm.convertSyncBatchnorm(bn);
    assert.ok(sync instanceof d.SyncBatchNorm);
    assert.equal(sync.weight, bn.weight);
    assert.equal(sync.runningVar, bn.runningVar);
    assert.equal(sync.communicator, null);
    const already = new d.Sequential(sync, new d.LayerNorm(3));
    const before = [...already];
    assert.deepEqual([...d.SyncBatchNorm.convertSyncBatchnorm(already)], before);
  });
});

describe('fit() with SyncBatchNorm', () => {
  it('refuses, on every rank, an epoch whose batches are not a multiple of the ranks', async () => {
    const comm = new ReplayComm(0, 2);
    const model = new d.Sequential(new d.Linear(3, 4), new d.SyncBatchNorm(4, { communicator: comm }), new d.Linear(4, 2));
    const data = new d.TensorDataset(d.randn([50, 3]), d.randint(0, 2, [50]));
    const train = new d.DataLoader(data, { batchSize: 10, shard: comm }); // 5 batches over 2 ranks
    const optimizer = new d.SGD(model.parameters(), { lr: 0.1 });
    await assert.rejects(
      d.fit({ model, optimizer, train, epochs: 1, loss: (o, t) => d.crossEntropy(o, t), communicator: comm }),
      /fit: the model's layer\(s\) '1' \(SyncBatchNorm\) take their statistics over the 2 ranks in every forward pass.*expected the epoch's batches to be a multiple of 2, got 5/,
    );
  });
});
