import { assertClose } from '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import type { Optimizer, BaseHyper, OptimizerState } from '../../src/optim/index.js';
import { Adagrad, Adam, AdamW, CosineAnnealingLR, RMSprop, SGD } from '../../src/optim/index.js';

const f64 = (v: number[]) => d.tensor(v, { dtype: 'float64' });
const copy = (t: Tensor) => d.tensor(t.dataSync(), { shape: t.shape, dtype: t.dtype });

/** Gradients of a non-quadratic loss, per parameter: d/dp [sum(sin(3p)) + sum(p^2)] = 3 cos(3p) + 2p. */
function lossGrads(ps: Tensor[]): Map<Tensor, Tensor> {
  const out = new Map<Tensor, Tensor>();
  for (const p of ps) out.set(p, d.grad(() => d.add(d.sum(d.sin(d.mul(p, 3))), d.sum(d.square(p))), [p]).get(p));
  return out;
}

type Groups = { params: Tensor[]; lr?: number }[];

const MAKERS: [string, (ps: Groups) => Optimizer<BaseHyper>][] = [
  ['SGD (nesterov, weight decay)', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 })],
  ['SGD (momentum, dampening)', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.8, dampening: 0.3 })],
  ['Adam (amsgrad)', (ps) => new Adam(ps, { lr: 0.05, amsgrad: true, weightDecay: 1e-2 })],
  ['AdamW', (ps) => new AdamW(ps, { lr: 0.05 })],
  ['RMSprop (centered, momentum)', (ps) => new RMSprop(ps, { lr: 0.01, momentum: 0.9, centered: true })],
  ['Adagrad (lrDecay)', (ps) => new Adagrad(ps, { lr: 0.1, lrDecay: 0.1, initialAccumulatorValue: 0.1 })],
];

describe('Optimizer: checkpoints', () => {
  for (const [label, make] of MAKERS) {
    it(`${label}: save, load into a fresh optimizer, continue = not stopping, bit for bit`, () => {
      const gen = new d.Generator(7);
      // One float32 and one float64 parameter, in two groups (the second with its own lr).
      const P = [d.randn([3, 2], { generator: gen }), d.randn([4], { dtype: 'float64', generator: gen })];
      const groupsOf = (ps: Tensor[]): Groups => [{ params: [ps[0]!] }, { params: [ps[1]!], lr: 0.02 }];
      const A = make(groupsOf(P));
      const schedA = new CosineAnnealingLR(A, 10, 0.001);
      for (let k = 0; k < 3; k++) {
        A.step(lossGrads(P));
        schedA.step();
      }
      const saved = A.stateDict();
      const savedData = Object.fromEntries(Object.entries(saved.tensors).map(([k, t]) => [k, Array.from(t.data)]));
      const savedSched = JSON.parse(JSON.stringify(schedA.stateDict()));
      const savedParams = P.map(copy);
      for (let k = 0; k < 3; k++) {
        A.step(lossGrads(P));
        schedA.step();
      }
      // The saved tensors are copies: the three further steps did not change them.
      for (const [k, t] of Object.entries(saved.tensors)) assert.deepEqual(Array.from(t.data), savedData[k], `${k} changed after saving`);
      assert.ok(Object.keys(saved.tensors).length > 0);

      // Resume: fresh parameters from the saved values, a fresh optimizer and scheduler, then load.
      const Q = savedParams.map(copy);
      const B = make(groupsOf(Q));
      const schedB = new CosineAnnealingLR(B, 10, 0.001);
      const json: OptimizerState = { tensors: saved.tensors, meta: JSON.parse(JSON.stringify(saved.meta)) };
      B.loadStateDict(json);
      schedB.loadStateDict(savedSched);
      for (let k = 0; k < 3; k++) {
        B.step(lossGrads(Q));
        schedB.step();
      }
      P.forEach((p, i) => assert.deepEqual(Array.from(Q[i]!.data), Array.from(p.data), `parameter ${i} differs after resuming`));
      assert.deepEqual(schedB.getLastLr(), schedA.getLastLr());

      // Without the optimizer state the continuation differs (so the check above can fail).
      const R = savedParams.map(copy);
      const C = make(groupsOf(R));
      C.paramGroups.forEach((g, i) => (g.lr = B.paramGroups[i]!.lr));
      for (let k = 0; k < 3; k++) C.step(lossGrads(R));
      assert.notDeepEqual(Array.from(R[1]!.data), Array.from(P[1]!.data));
    });
  }

  it("meta holds per-parameter step counts and each group's hyperparameters, params numbered across groups", () => {
    const a = f64([1]),
      b = f64([2]),
      c = f64([3]);
    const opt = new Adam(
      [
        { params: [a, b], lr: 0.5 },
        { params: [c], betas: [0.8, 0.9] },
      ],
      { lr: 0.1 },
    );
    opt.step(
      new Map([
        [a, f64([1])],
        [c, f64([1])],
      ]),
    );
    opt.step(new Map([[c, f64([1])]]));
    const { meta, tensors } = opt.stateDict();
    assert.deepEqual(meta.state, { '0': { step: 1 }, '2': { step: 2 } });
    assert.deepEqual(Object.keys(tensors).sort(), ['state.0.expAvg', 'state.0.expAvgSq', 'state.2.expAvg', 'state.2.expAvgSq']);
    assert.deepEqual(meta.paramGroups[0], { lr: 0.5, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, params: [0, 1] });
    assert.deepEqual(meta.paramGroups[1]!.params, [2]);
    assert.deepEqual(meta.paramGroups[1]!.betas, [0.8, 0.9]);
    assert.equal(meta.optimizer, 'Adam');
    // The meta survives JSON unchanged.
    assert.deepEqual(JSON.parse(JSON.stringify(meta)), meta);
  });

  it('loadStateDict restores hyperparameters (current lr included) and rejects mismatches clearly', () => {
    const w = f64([1, 2]);
    const opt = new SGD([w], { lr: 0.1, momentum: 0.9 });
    opt.step(new Map([[w, f64([1, 1])]]));
    opt.paramGroups[0]!.lr = 0.025;
    const state = opt.stateDict();
    const fresh = new SGD([f64([0, 0])], { lr: 0.1, momentum: 0.9 });
    const group = fresh.paramGroups[0]!;
    fresh.loadStateDict(state);
    assert.equal(fresh.paramGroups[0]!.lr, 0.025);
    assert.equal(fresh.paramGroups[0], group, 'groups are updated in place');

    assert.throws(() => new Adam([f64([0, 0])]).loadStateDict(state), /Adam.loadStateDict: the state is of a SGD optimizer, not Adam/);
    assert.throws(
      () => new SGD([f64([0, 0, 0])], { lr: 1 }).loadStateDict(state),
      /tensor 'state.0.momentumBuffer' is \[2\] float64, but parameter 0 is \[3\] float64/,
    );
    assert.throws(() => new SGD([d.tensor([0, 0])], { lr: 1 }).loadStateDict(state), /is \[2\] float64, but parameter 0 is \[2\] float32/);
    assert.throws(
      () => new SGD([f64([0, 0]), f64([0])], { lr: 1 }).loadStateDict(state),
      /param group 0 of the state holds parameters \[0\], expected \[0, 1\]/,
    );
    assert.throws(
      () => new SGD([{ params: [f64([0, 0])] }, { params: [f64([0])] }], { lr: 1 }).loadStateDict(state),
      /the state has 1 param groups, this optimizer has 2/,
    );
    const renamed = { ...state, tensors: { 'state.0.velocity': state.tensors['state.0.momentumBuffer']! } };
    assert.throws(() => fresh.loadStateDict(renamed), /SGD has no state named 'velocity' \(it has momentumBuffer\)/);
    assert.throws(
      () => fresh.loadStateDict({ ...state, tensors: { 'momentum.0': state.tensors['state.0.momentumBuffer']! } }),
      /tensor key 'momentum.0' is not of the form state.<paramIndex>.<name>/,
    );
    assert.throws(
      () => fresh.loadStateDict({ ...state, tensors: { 'state.4.momentumBuffer': state.tensors['state.0.momentumBuffer']! } }),
      /names parameter 4, but there are 1/,
    );
    const adam = new Adam([f64([1])]);
    adam.step(new Map([[adam.paramGroups[0]!.params[0]!, f64([1])]]));
    const a = adam.stateDict();
    delete a.tensors['state.0.expAvgSq'];
    assert.throws(() => new Adam([f64([1])]).loadStateDict(a), /parameter 0 has taken 1 steps but the state has no tensor 'state.0.expAvgSq'/);
    // A buffer that the hyperparameters make necessary is required too (a checkpoint that lost it
    // would otherwise resume with a fresh buffer, silently inexact).
    assert.throws(() => fresh.loadStateDict({ ...state, tensors: {} }), /parameter 0 has taken 1 steps but the state has no tensor 'state.0.momentumBuffer'/);
    const withoutMomentum = { ...state, tensors: {}, meta: { ...state.meta, paramGroups: [{ ...state.meta.paramGroups[0]!, momentum: 0 }] } };
    new SGD([f64([0, 0])], { lr: 0.1 }).loadStateDict(withoutMomentum); // plain SGD has no buffer to miss
    const rms = new RMSprop([f64([1])], { lr: 0.01, momentum: 0.9, centered: true });
    rms.step(new Map([[rms.paramGroups[0]!.params[0]!, f64([1])]]));
    for (const name of ['gradAvg', 'momentumBuffer']) {
      const r = rms.stateDict();
      delete r.tensors[`state.0.${name}`];
      assert.throws(() => new RMSprop([f64([1])], { lr: 0.01, momentum: 0.9, centered: true }).loadStateDict(r), new RegExp(`no tensor 'state.0.${name}'`));
    }
    const ams = new Adam([f64([1])], { amsgrad: true });
    ams.step(new Map([[ams.paramGroups[0]!.params[0]!, f64([1])]]));
    const am = ams.stateDict();
    delete am.tensors['state.0.maxExpAvgSq'];
    assert.throws(() => new Adam([f64([1])], { amsgrad: true }).loadStateDict(am), /no tensor 'state.0.maxExpAvgSq'/);
    const badLr = opt.stateDict();
    badLr.meta.paramGroups[0]!.lr = -1;
    assert.throws(() => fresh.loadStateDict(badLr), /SGD \(param group 0\): lr must be a finite number >= 0, got -1/);
    // A failed load changed nothing.
    assert.equal(fresh.paramGroups[0]!.lr, 0.025);
  });
});

describe('Optimizer: groups and steps', () => {
  it('param groups override the defaults; each group steps with its own lr', () => {
    const a = f64([1]),
      b = f64([1]);
    const opt = new SGD([{ params: [a], lr: 0.5 }, { params: [b] }], { lr: 0.1, momentum: 0.9 });
    assert.equal(opt.paramGroups[0]!.lr, 0.5);
    assert.equal(opt.paramGroups[0]!.momentum, 0.9);
    assert.equal(opt.paramGroups[1]!.lr, 0.1);
    opt.step(
      new Map([
        [a, f64([2])],
        [b, f64([2])],
      ]),
    );
    // first momentum step: b = g = 2; a = 1 - 0.5 * 2 = 0, b = 1 - 0.1 * 2 = 0.8
    assertClose(a, [0], { atol: 1e-15 });
    assertClose(b, [0.8], { atol: 1e-15 });
  });

  it('accepts any iterable of tensors; array hyperparameters are not shared between groups', () => {
    const a = f64([1]),
      b = f64([1]);
    assert.deepEqual(new SGD(new Set([a, b]), { lr: 0.1 }).paramGroups[0]!.params, [a, b]);
    const opt = new Adam([{ params: [a] }, { params: [b] }]);
    opt.paramGroups[0]!.betas[0] = 0.5;
    assert.deepEqual(opt.paramGroups[1]!.betas, [0.9, 0.999]);
    assert.deepEqual(opt.defaults.betas, [0.9, 0.999]);
  });

  it('a parameter absent from the gradient store is skipped, step count included', () => {
    const a = f64([1]),
      b = f64([1]);
    const opt = new Adam([a, b], { lr: 0.1 });
    // A real GradStore throws on get() for tensors it does not hold; the optimizer only asks has().
    const grads = d.grad(() => d.sum(d.square(a)), [a]);
    opt.step(grads);
    opt.step(grads);
    assert.equal(b.item(), 1);
    assert.deepEqual(opt.stateDict().meta.state, { '0': { step: 2 } });
    // Adam's first steps move a by about lr each: 1 -> 0.9 -> 0.8
    assertClose(a, [0.8], { atol: 1e-6 });
  });

  it('a bad gradient is reported before anything changes', () => {
    const a = f64([1]),
      b = f64([1, 2]);
    const opt = new SGD([a, b], { lr: 0.1 });
    assert.throws(
      () =>
        opt.step(
          new Map([
            [a, f64([1])],
            [b, f64([1])],
          ]),
        ),
      /SGD.step: the gradient of parameter 1 is \[1\] float64, expected \[2\] float64 like the parameter/,
    );
    assert.equal(a.item(), 1);
    assert.throws(() => opt.step(new Map([[b, d.tensor([1, 1])]])), /is \[2\] float32, expected \[2\] float64/);
    assert.throws(() => opt.step([] as unknown as Map<Tensor, Tensor>), /expected a gradient store/);
  });

  it('refuses bad parameter lists', () => {
    const a = f64([1]);
    assert.throws(() => new SGD([], { lr: 0.1 }), /SGD: got an empty parameter list/);
    assert.throws(() => new SGD([a, a], { lr: 0.1 }), /appears more than once \(param group 0, entry 1\)/);
    assert.throws(() => new SGD([{ params: [a] }, { params: [a] }], { lr: 0.1 }), /appears more than once \(param group 1, entry 0\)/);
    assert.throws(() => new Adam([d.tensor([1], { dtype: 'int32' })]), /int32 \[1\]; only float32 and float64 tensors can be optimised/);
    assert.throws(() => new Adam([a, { params: [f64([1])] }] as unknown as Tensor[]), /must be all tensors or all groups/);
    assert.throws(() => new SGD([{ params: [a], momentum: -1 }], { lr: 0.1 }), /SGD \(param group 0\): momentum must be/);
  });

  it('hyperparameters are checked again at each step; lr may reach 0 (a finished schedule)', () => {
    const a = f64([1]);
    const opt = new SGD([a], { lr: 0.1 });
    opt.paramGroups[0]!.lr = 0;
    opt.step(new Map([[a, f64([5])]]));
    assert.equal(a.item(), 1);
    opt.paramGroups[0]!.lr = -0.1;
    assert.throws(() => opt.step(new Map([[a, f64([5])]])), /SGD \(param group 0\): lr must be a finite number >= 0, got -0.1/);
  });

  it('steps leak no tensors and record nothing on the tape', () => {
    const w = d.randn([8, 4], { generator: new d.Generator(1) });
    const opt = new Adam([w], { lr: 0.01, amsgrad: true });
    const once = () => d.scope(() => opt.step(d.grad(() => d.sum(d.square(w)), [w])));
    once();
    const before = d.memory().tensors;
    for (let i = 0; i < 20; i++) once();
    assert.equal(d.memory().tensors, before);
    assert.equal(w.requiresGrad, false);
    assert.equal(w.node, null);
  });
});
