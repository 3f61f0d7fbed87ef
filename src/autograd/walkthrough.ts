/**
 * The backward pass told step by step, for `descent explain` and the playground's "backprop step
 * by step" panel: the 5-weight network h = tanh(w1 x1 + w2 x2 + b1), out = v h + c, its examples,
 * and the recorded ops of the mean squared loss walked back, each with the gradient of the mean
 * loss flowing through it and the rule it applies, in words. Browser-safe.
 */
import { enableGrad } from '../core/grad-mode.js';
import type { Generator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { scope } from '../core/tensor.js';
import { Tanh } from '../nn/activations.js';
import { Sequential } from '../nn/container.js';
import { Linear } from '../nn/layers.js';
import { mseLoss } from '../nn/losses.js';
import { onesLike, tensor } from '../ops/index.js';
import { backwardPass, topoSort } from './tape.js';

/** One step of the walk: a recorded value (or, at the end, a weight) and the gradient of the mean loss at it. */
export interface BackwardStep {
  step: number;
  tensor: string;
  /** The op and inputs that made it ('a weight' for the weights). */
  made_by: string;
  shape: number[];
  /** d(mean loss)/d(this value), one number per element (per example for [B, 1] values). */
  gradient: number[];
  /** The value itself (forward pass). */
  value: number[];
  /** How its op passes the gradient back, in words. */
  rule: string;
}

const r4 = (v: number) => Math.round(v * 1e4) / 1e4;

/** The walk-through's network: Linear(2, 1), Tanh, Linear(1, 1), float64, weights rounded to 2 decimals, |v| >= 0.3. */
export function walkthroughNetwork(gen: Generator): Sequential {
  const net = new Sequential(new Linear(2, 1, { dtype: 'float64', generator: gen }), new Tanh(), new Linear(1, 1, { dtype: 'float64', generator: gen }));
  // Round the random starting weights to 2 decimals so they are easy to read; v is kept away from 0.
  for (const p of net.parameters())
    p.assign(
      tensor(
        Array.from(p.data, (w) => Math.round(w * 100) / 100),
        { shape: p.shape, dtype: 'float64' },
      ),
    );
  const v = (net.at(2) as Linear).weight;
  if (Math.abs(v.item()) < 0.3) v.assign(tensor([[v.item() < 0 ? -0.6 : 0.6]], { dtype: 'float64' }));
  return net;
}

/** Its examples: inputs with one decimal in [-2, 2], targets round(10 sin(x1) - 5 x2) / 10, a smooth function the network can learn. */
export function walkthroughExamples(gen: Generator, B: number): { xs: [number, number][]; ys: number[] } {
  const one = () => Math.round((gen.nextFloat64() * 4 - 2) * 10) / 10;
  const xs = Array.from({ length: B }, (): [number, number] => [one(), one()]);
  const ys = xs.map(([a, b]) => Math.round(Math.sin(a) * 10 - b * 5) / 10);
  return { xs, ys };
}

/** How each recorded op passes the gradient back, in words. */
function ruleOf(t: Tensor): string {
  const n = t.node!;
  switch (n.op) {
    case 'div':
      return 'divides by a constant, so it divides the gradient by it too';
    case 'sum':
      return 'adds numbers up, so each of them receives the gradient unchanged';
    case 'mul':
      return n.inputs[0] === n.inputs[1]
        ? 'squares, so it sends back 2 x value x gradient'
        : 'multiplies, so each factor receives the gradient times the other factor';
    case 'sub':
      return 'subtracts, so the first input receives the gradient and the second its negative';
    case 'add':
      return 'adds, so both inputs receive the gradient (a bias, shared by all examples, receives the sum over the examples)';
    case 'matmul':
      return 'matrix product with a weight, so the weight receives (inputs)^T x gradient, a sum over the examples, and the inputs receive gradient x weight';
    case 'tanh':
      return 'tanh, so the gradient is multiplied by its slope 1 - tanh^2';
    case 'reshape':
      return 'rearranges numbers, so the gradient is arranged back';
    default:
      return '';
  }
}

/** An unnamed input: its value when it is one number (the 2 of div(t, 2)), else 'constant'. */
function constantText(u: Tensor): string {
  return u.shape.every((d) => d === 1) ? String(r4(Number(u.data[0]))) : 'constant';
}

/**
 * Every op of the forward pass of the mean squared loss of `net` on (X, Y), in reverse order, with
 * the gradient of the mean loss flowing through it; then each of the network's four weight tensors.
 */
export function backwardSteps(net: Sequential, X: Tensor, Y: Tensor): BackwardStep[] {
  return scope(() => {
    const params = net.parameters();
    const names = new Map<Tensor, string>([
      [X, 'x'],
      [Y, 'y'],
    ]);
    ['w (first layer: w1, w2)', 'b1', 'v', 'c'].forEach((n, i) => names.set(params[i]!, n));
    for (const p of params) p.tracked++;
    try {
      const loss = enableGrad(() => mseLoss(net.forward(X), Y));
      const order = topoSort([loss]).filter((t) => t.node);
      order.forEach((t, i) => names.set(t, t === loss ? 'mean loss' : `t${i + 1}`));
      const grads = backwardPass([loss], [onesLike(loss)], [...order, ...params], false);
      const step = (t: Tensor, made_by: string, rule: string): BackwardStep => ({
        step: 0,
        tensor: names.get(t)!,
        made_by,
        shape: [...t.shape],
        gradient: Array.from(grads.get(t)!.data),
        value: Array.from(t.data),
        rule,
      });
      const steps = [...order]
        .reverse()
        .map((t) => step(t, `${t.node!.op}(${t.node!.inputs.map((u) => names.get(u) ?? constantText(u)).join(', ')})`, ruleOf(t)));
      for (const p of params) steps.push(step(p, 'a weight', 'reached: its gradient is complete'));
      steps.forEach((s, i) => (s.step = i + 1));
      return steps;
    } finally {
      for (const p of params) p.tracked--;
    }
  });
}
