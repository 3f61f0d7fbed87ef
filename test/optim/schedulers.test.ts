import { assertClose } from '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import type { LRScheduler } from '../../src/optim/index.js';
import {
  Adagrad,
  Adam,
  CosineAnnealingLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  MultiStepLR,
  OneCycleLR,
  ReduceLROnPlateau,
  SequentialLR,
  SGD,
  StepLR,
} from '../../src/optim/index.js';

const sgd = (lr: number, extra: { momentum?: number } = {}) => new SGD([d.tensor([0], { dtype: 'float64' })], { lr, ...extra });
const TOL = { atol: 1e-15, rtol: 1e-14 };

/** The lr after construction (epoch 0) and after each of n steps. */
function sequence(s: LRScheduler, n = 10): number[] {
  const out = [s.optimizer.paramGroups[0]!.lr];
  for (let i = 0; i < n; i++) {
    s.step();
    out.push(s.optimizer.paramGroups[0]!.lr);
    assert.deepEqual(s.getLastLr(), [out[out.length - 1]]);
  }
  return out;
}

// cos(pi/4) terms of the cosine schedules below
const HI = (1 + Math.SQRT1_2) / 2; // (1 + cos(pi/4)) / 2 = 0.8535...
const LO = (1 - Math.SQRT1_2) / 2; // (1 + cos(3pi/4)) / 2 = 0.1464...

describe('epoch schedulers (closed forms)', () => {
  it('StepLR(stepSize 3, gamma 0.5): halve every 3 epochs', () => {
    assert.deepEqual(sequence(new StepLR(sgd(1), 3, 0.5)), [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125]);
  });

  it('MultiStepLR([5, 2], gamma 0.1): x0.1 at epochs 2 and 5 (milestones sorted)', () => {
    assertClose(sequence(new MultiStepLR(sgd(1), [5, 2], 0.1)), [1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01], TOL);
  });

  it('ExponentialLR(0.5) from 2: 2 * 0.5^t', () => {
    assert.deepEqual(sequence(new ExponentialLR(sgd(2), 0.5)), [2, 1, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625, 0.001953125]);
  });

  it('CosineAnnealingLR(tMax 4): etaMin + (base - etaMin)(1 + cos(pi t / 4)) / 2, continuing past tMax', () => {
    // base 1, etaMin 0: cos(pi t/4) = 1, 0.707, 0, -0.707, -1, -0.707, 0, 0.707, 1, 0.707, 0
    assertClose(sequence(new CosineAnnealingLR(sgd(1), 4)), [1, HI, 0.5, LO, 0, LO, 0.5, HI, 1, HI, 0.5], TOL);
    // base 1, etaMin 0.2: 0.2 + 0.8 * (the factors above)
    const f = [1, HI, 0.5, LO, 0, LO, 0.5, HI, 1, HI, 0.5].map((x) => 0.2 + 0.8 * x);
    assertClose(sequence(new CosineAnnealingLR(sgd(1), 4, 0.2)), f, TOL);
  });

  it('LinearLR(startFactor 0.25, totalIters 4) from 0.4: 0.1, 0.175, 0.25, 0.325, then 0.4', () => {
    // factor 0.25 + 0.75 min(t, 4) / 4 = 0.25, 0.4375, 0.625, 0.8125, 1, 1, ...
    assertClose(sequence(new LinearLR(sgd(0.4), { startFactor: 0.25, totalIters: 4 })), [0.1, 0.175, 0.25, 0.325, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4], TOL);
    // PyTorch's defaults: 1/3 up to 1 over 5 epochs
    assertClose(sequence(new LinearLR(sgd(3)), 6), [1, 1.4, 1.8, 2.2, 2.6, 3, 3], TOL);
  });

  it('LambdaLR: base * f(t), one function per group', () => {
    const a = d.tensor([0]),
      b = d.tensor([0]);
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 2 }], { lr: 1 });
    const s = new LambdaLR(opt, [(t) => 1 / (t + 1), (t) => 0.5 ** t]);
    assert.deepEqual(s.getLastLr(), [1, 2]);
    s.step();
    s.step();
    // epoch 2: 1 * 1/3 and 2 * 0.25
    assert.deepEqual(s.getLastLr(), [1 / 3, 0.5]);
    assert.deepEqual(
      opt.paramGroups.map((g) => g.lr),
      [1 / 3, 0.5],
    );
    assert.throws(() => new LambdaLR(opt, [(t) => t]), /expected one function or 2 functions/);
  });

  it('validates its arguments', () => {
    assert.throws(() => new StepLR(sgd(1), 0), /StepLR: stepSize must be an integer >= 1, got 0/);
    assert.throws(() => new MultiStepLR(sgd(1), [1.5]), /MultiStepLR: milestones\[0\] must be an integer >= 1/);
    assert.throws(() => new CosineAnnealingLR(sgd(1), 0), /tMax must be an integer >= 1/);
    assert.throws(() => new LinearLR(sgd(1), { startFactor: 0 }), /LinearLR: startFactor must be a finite number > 0, got 0/);
    assert.throws(() => new LinearLR(sgd(1), { endFactor: 1.5 }), /endFactor must be in \[0, 1\], got 1.5/);
    assert.throws(() => new ExponentialLR({} as SGD, 0.5), /ExponentialLR: expected an Optimizer/);
    assert.throws(() => new LambdaLR(sgd(1), () => NaN), /LambdaLR: the schedule gives lr NaN for param group 0 at epoch 0/);
  });

  it('the first scheduler records initialLr; later ones build on it, not on the already-changed lr', () => {
    const opt = sgd(1);
    new LinearLR(opt, { startFactor: 0.5 });
    assert.equal(opt.paramGroups[0]!.lr, 0.5);
    assert.equal(opt.paramGroups[0]!.initialLr, 1);
    const exp = new ExponentialLR(opt, 0.5);
    assert.deepEqual(exp.baseLrs, [1]);
  });

  it('stateDict / loadStateDict resume the schedule', () => {
    const a = new StepLR(sgd(1), 2, 0.5);
    for (let i = 0; i < 3; i++) a.step();
    const state = JSON.parse(JSON.stringify(a.stateDict()));
    assert.deepEqual(state, { scheduler: 'StepLR', lastEpoch: 3, baseLrs: [1], lastLr: [0.5] });
    const b = new StepLR(sgd(1), 2, 0.5);
    b.loadStateDict(state);
    a.step();
    b.step();
    assert.deepEqual(b.getLastLr(), a.getLastLr());
    assert.deepEqual(b.getLastLr(), [0.25]);
    assert.throws(
      () => new ExponentialLR(sgd(1), 0.5).loadStateDict(state),
      /ExponentialLR.loadStateDict: the state is of a StepLR scheduler, not ExponentialLR/,
    );
  });
});

describe('SequentialLR', () => {
  it('warm-up then cosine: LinearLR for 3 epochs, then CosineAnnealingLR(4) from its own epoch 0', () => {
    const opt = sgd(1);
    const warm = new LinearLR(opt, { startFactor: 0.25, totalIters: 3 });
    const cos = new CosineAnnealingLR(opt, 4);
    assert.equal(opt.paramGroups[0]!.lr, 1, 'the cosine constructor set its epoch-0 lr');
    const s = new SequentialLR(opt, [warm, cos], [3]);
    // epochs 0-2: 0.25 + 0.75 t / 3 = 0.25, 0.5, 0.75; epoch 3 on: the cosine at t - 3 = 0, 1, 2, ...
    assertClose(sequence(s), [0.25, 0.5, 0.75, 1, HI, 0.5, LO, 0, LO, 0.5, HI], TOL);
    assert.equal(cos.lastEpoch, 7);
    assert.equal(s.lrAt(4, 1, 0), HI);
  });

  it('saves and restores with its schedulers', () => {
    const build = () => {
      const opt = sgd(1);
      return new SequentialLR(opt, [new ExponentialLR(opt, 0.5), new StepLR(opt, 2, 0.1)], [2]);
    };
    const a = build();
    for (let i = 0; i < 3; i++) a.step();
    const b = build();
    b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
    a.step();
    b.step();
    // epoch 4: StepLR at local epoch 2: 1 * 0.1^1
    assertClose(b.getLastLr(), [0.1], TOL);
    assert.deepEqual(b.getLastLr(), a.getLastLr());
  });

  it('checks its arguments', () => {
    const opt = sgd(1);
    const x = new ExponentialLR(opt, 0.5),
      y = new StepLR(opt, 2);
    assert.throws(() => new SequentialLR(opt, [x, y], []), /2 schedulers need 1 milestones, got 0/);
    assert.throws(() => new SequentialLR(opt, [x, new StepLR(sgd(1), 2)], [3]), /schedulers\[1\] \(StepLR\) belongs to another optimizer/);
    assert.throws(() => new SequentialLR(opt, [x, y, x], [3, 3]), /milestones must increase/);
    assert.throws(() => new SequentialLR(opt, [x, new ReduceLROnPlateau(opt) as unknown as LRScheduler], [3]), /ReduceLROnPlateau cannot be sequenced/);
  });
});

describe('OneCycleLR', () => {
  it('linear, two phases: 0.1 -> 1 over steps 0-2, then -> 0.001 at step 9; momentum the other way', () => {
    const opt = sgd(0.5, { momentum: 0.9 });
    const s = new OneCycleLR(opt, 1, 10, { divFactor: 10, finalDivFactor: 100, annealStrategy: 'linear' });
    // initial = 1/10 = 0.1, min = 0.1/100 = 0.001; phase 1 ends at 0.3*10 - 1 = 2, phase 2 at 9
    // steps 0-2: 0.1 + 0.9 t/2; steps 3-9: 1 - 0.999 (t - 2)/7; step 10 (= totalSteps) extends the line
    const lrs = [0.1, 0.55, 1, ...[3, 4, 5, 6, 7, 8, 9, 10].map((t) => 1 - (0.999 * (t - 2)) / 7)];
    const moms = [0.95, 0.9, 0.85, ...[3, 4, 5, 6, 7, 8, 9, 10].map((t) => 0.85 + (0.1 * (t - 2)) / 7)];
    const seenM = [opt.paramGroups[0]!.momentum];
    const seen = [opt.paramGroups[0]!.lr];
    for (let i = 0; i < 10; i++) {
      s.step();
      seen.push(opt.paramGroups[0]!.lr);
      seenM.push(opt.paramGroups[0]!.momentum);
    }
    assertClose(seen, lrs, TOL);
    assertClose(seenM, moms, TOL);
    assertClose([seen[9]!], [0.001], TOL);
    assert.throws(() => s.step(), /OneCycleLR: tried to step 11 times; totalSteps is 10/);
    assert.equal(opt.paramGroups[0]!.initialLr, 0.1);
  });

  it("cos (default), driving Adam's beta1", () => {
    const opt = new Adam([d.tensor([0])], { betas: [0.9, 0.99] });
    const s = new OneCycleLR(opt, 1, 10);
    // initial 1/25 = 0.04, min 0.04/1e4 = 4e-6; anneal(a, b, pct) = b + (a - b)(cos(pi pct) + 1)/2
    assert.deepEqual(opt.paramGroups[0]!.betas, [0.95, 0.99]);
    assertClose([opt.paramGroups[0]!.lr], [0.04], TOL); // 1 + (0.04 - 1)(cos 0 + 1)/2, to rounding
    s.step(); // pct 1/2: 1 + (0.04 - 1)/2 = 0.52; beta1 0.85 + 0.1/2 = 0.9
    assertClose([opt.paramGroups[0]!.lr, opt.paramGroups[0]!.betas[0]], [0.52, 0.9], TOL);
    s.step(); // top of the cycle
    assertClose([opt.paramGroups[0]!.lr, opt.paramGroups[0]!.betas[0]], [1, 0.85], TOL);
    s.step();
    s.step(); // step 4: pct 2/7 of phase 2
    const c = (Math.cos((Math.PI * 2) / 7) + 1) / 2;
    assertClose([opt.paramGroups[0]!.lr, opt.paramGroups[0]!.betas[0]], [4e-6 + (1 - 4e-6) * c, 0.95 + (0.85 - 0.95) * c], TOL);
    for (let i = 0; i < 5; i++) s.step();
    assertClose([opt.paramGroups[0]!.lr], [4e-6], TOL);
  });

  it('three phases (linear): up, back down to the start, then down to the final lr', () => {
    const opt = sgd(1, { momentum: 0.9 });
    const s = new OneCycleLR(opt, 1, 10, { divFactor: 10, finalDivFactor: 100, annealStrategy: 'linear', threePhase: true });
    // phase ends: 2, 2*0.3*10 - 2 = 4, 9
    const lrs = [0.1, 0.55, 1, 0.55, 0.1, ...[5, 6, 7, 8, 9].map((t) => 0.1 - (0.099 * (t - 4)) / 5)];
    assertClose(sequence(s, 9), lrs, TOL);
    assertClose([opt.paramGroups[0]!.momentum], [0.95], TOL);
  });

  it('checks its arguments', () => {
    assert.throws(
      () => new OneCycleLR(new Adagrad([d.tensor([0])]), 1, 10),
      /cycleMomentum needs an optimizer with momentum or betas \(SGD, RMSprop, Adam, \.\.\.\), Adagrad has neither/,
    );
    new OneCycleLR(new Adagrad([d.tensor([0])]), 1, 10, { cycleMomentum: false });
    assert.throws(() => new OneCycleLR(sgd(1), 1, 2), /phase 1 would be empty/);
    assert.throws(() => new OneCycleLR(sgd(1), 1, 10, { annealStrategy: 'exp' as 'cos' }), /annealStrategy must be one of 'cos', 'linear'/);
    assert.throws(() => new OneCycleLR(sgd(1), [1, 2], 10), /maxLr has 2 values for 1 param groups/);
  });
});

describe('ReduceLROnPlateau', () => {
  it('min mode: patience 2, factor 0.5, rel threshold 0.1, cooldown 1, minLr 0.3', () => {
    const opt = sgd(1);
    const s = new ReduceLROnPlateau(opt, { patience: 2, factor: 0.5, threshold: 0.1, cooldown: 1, minLr: 0.3 });
    // better means < best * 0.9.
    //  10  -> best 10
    //  9.5, 9.2 -> bad 1, 2;  9.1 -> bad 3 > 2: lr 0.5, cooldown 1
    //  9.6 -> bad 1, but in cooldown: not counted (bad 0)
    //  9.4, 9.3 -> bad 1, 2;  9.2 -> bad 3: lr max(0.25, 0.3) = 0.3 (without cooldown this cut would come one epoch earlier)
    //  5   -> best 5 (and cooldown ends)
    //  6, 6 -> bad 1, 2;  6 -> bad 3: max(0.15, 0.3) = 0.3 is no cut, lr stays 0.3
    const metrics = [10, 9.5, 9.2, 9.1, 9.6, 9.4, 9.3, 9.2, 5, 6, 6, 6];
    const lrs = metrics.map((m) => {
      s.step(m);
      return s.getLastLr()[0];
    });
    assert.deepEqual(lrs, [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3]);
    assert.equal(s.best, 5);
  });

  it('max mode with an absolute threshold', () => {
    const opt = sgd(1);
    const s = new ReduceLROnPlateau(opt, { mode: 'max', thresholdMode: 'abs', threshold: 0.5, patience: 0 });
    // better means > best + 0.5: 1 (best), 1.4 (bad: cut to 0.1), 2 (best), 2.4 (bad: cut to 0.01)
    const lrs = [1, 1.4, 2, 2.4].map((m) => {
      s.step(m);
      return opt.paramGroups[0]!.lr;
    });
    assertClose(lrs, [1, 0.1, 0.1, 0.01], TOL);
  });

  it('saves its state as JSON (best = null before any metric) and resumes', () => {
    const s = new ReduceLROnPlateau(sgd(1), { patience: 1 });
    assert.equal(JSON.parse(JSON.stringify(s.stateDict())).best, null);
    s.step(3);
    s.step(4);
    const state = JSON.parse(JSON.stringify(s.stateDict()));
    assert.deepEqual(state, { scheduler: 'ReduceLROnPlateau', lastEpoch: 2, best: 3, numBadEpochs: 1, cooldownCounter: 0, lastLr: [1] });
    const opt2 = sgd(1);
    const t = new ReduceLROnPlateau(opt2, { patience: 1 });
    t.loadStateDict(state);
    t.step(4); // bad 2 > 1: cut
    assertClose([opt2.paramGroups[0]!.lr], [0.1], TOL);
  });

  it('checks its arguments', () => {
    assert.throws(() => new ReduceLROnPlateau(sgd(1), { factor: 1 }), /ReduceLROnPlateau: factor must be in \[0, 1\), got 1/);
    assert.throws(() => new ReduceLROnPlateau(sgd(1), { mode: 'lowest' as 'min' }), /mode must be one of 'min', 'max'/);
    assert.throws(() => new ReduceLROnPlateau(sgd(1), { minLr: [0, 0] }), /minLr has 2 values for 1 param groups/);
    assert.throws(() => new ReduceLROnPlateau(sgd(1)).step('0.5' as unknown as number), /expected the monitored metric as a number/);
  });
});
