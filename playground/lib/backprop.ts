/**
 * Backprop step by step, on the 5-weight network of `descent explain`:
 *   h = tanh(w1 x1 + w2 x2 + b1),  out = v h + c,  loss = (out - y)^2,
 * with the same seeded starting weights and examples, so the page and the terminal show the same
 * numbers: the network, the examples and the walk back through the recorded operations (each
 * with the gradient of the mean loss flowing through it) are the library's, the same code
 * `descent explain` prints (d.walkthroughNetwork, d.walkthroughExamples, d.backwardSteps). Every
 * value holds one number per example, so each example's gradient can be followed through every step.
 */
import * as d from 'descent';
import type { Tensor } from './setup.js';

export const WEIGHT_NAMES = ['w1', 'w2', 'b1', 'v', 'c'] as const;

/** One step of the walk (the library's, shared with `descent explain`). */
export type BackpropStep = d.BackwardStep;

export interface BackpropExample {
  x: [number, number];
  y: number;
  prediction: number;
  loss: number;
  /** This example's own gradient for w1, w2, b1, v, c. */
  gradient: number[];
}

export interface BackpropWalk {
  batch: number;
  weights: number[];
  examples: BackpropExample[];
  meanLoss: number;
  /** The gradient of the mean loss (autodiff), w1..c. */
  gradient: number[];
  steps: BackpropStep[];
  lr: number;
  after: number[];
  lossAfter: number;
}

const five = (ts: readonly Tensor[]): number[] => ts.flatMap((t) => Array.from(t.data));

/** The whole walk-through for a batch of B examples (2 to 10 in the page), with `descent explain`'s seed and learning rate. */
export function backpropWalk(B: number, seed = 0, lr = 0.1): BackpropWalk {
  return d.scope(() => {
    const gen = new d.Generator(seed);
    const net = d.walkthroughNetwork(gen);
    const params = net.parameters();
    const { xs, ys } = d.walkthroughExamples(gen, B);
    const X = d.tensor(xs, { dtype: 'float64' });
    const Y = d.tensor(
      ys.map((v) => [v]),
      { dtype: 'float64' },
    );
    const weights = five(params);
    const pe = d.perExampleGrads(net, (o, t, opt) => d.mseLoss(o, t, opt), X, Y);
    const preds = Array.from(d.noGrad(() => net.forward(X)).data);
    const losses = Array.from(pe.losses.data);
    const examples = xs.map((x, i) => ({
      x,
      y: ys[i]!,
      prediction: preds[i]!,
      loss: losses[i]!,
      gradient: five(params.map((p) => d.narrow(pe.grads.get(p)!, 0, i, 1))),
    }));
    const { value, grads } = d.valueAndGrad(() => d.mseLoss(net.forward(X), Y), params);
    const gradient = five(params.map((p) => grads.get(p)));
    const steps = d.backwardSteps(net, X, Y);
    const after = weights.map((w, k) => w - lr * gradient[k]!);
    let off = 0;
    for (const p of params) {
      p.assign(d.tensor(after.slice(off, off + p.size), { shape: [...p.shape], dtype: 'float64' }));
      off += p.size;
    }
    const lossAfter = d.noGrad(() => d.mseLoss(net.forward(X), Y).item());
    return { batch: B, weights, examples, meanLoss: value.item(), gradient, steps, lr, after, lossAfter };
  });
}
