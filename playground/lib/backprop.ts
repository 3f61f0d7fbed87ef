/**
 * Backprop step by step, on the 5-weight network of `descent explain`:
 *   h = tanh(w1 x1 + w2 x2 + b1),  out = v h + c,  loss = (out - y)^2,
 * with the same seeded starting weights and examples, so the page and the terminal show the same
 * numbers. The forward pass is recorded by Descent; the walk below visits the recorded operations
 * from the loss back to the weights and, at each one, asks that operation's own backward rule
 * (the rule Descent's autodiff uses) for the gradient it passes on. Every value holds one number
 * per example, so each example's gradient can be followed through every step.
 */
import * as d from 'descent';
import type { Tensor } from './setup.js';

export const WEIGHT_NAMES = ['w1', 'w2', 'b1', 'v', 'c'] as const;

export interface BackpropStep {
  step: number;
  tensor: string;
  made_by: string;
  shape: number[];
  /** d(mean loss)/d(this value), one number per element (per example for [B, 1] values). */
  gradient: number[];
  /** The value itself (forward pass). */
  value: number[];
  rule: string;
}

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

type Node = NonNullable<Tensor['node']>;

/** The network of `descent explain`: Linear(2, 1), Tanh, Linear(1, 1), float64, weights rounded to 2 decimals, |v| >= 0.3. */
export function tinyNetwork(gen: d.Generator): d.Sequential {
  const net = new d.Sequential(
    new d.Linear(2, 1, { dtype: 'float64', generator: gen }),
    new d.Tanh(),
    new d.Linear(1, 1, { dtype: 'float64', generator: gen }),
  );
  for (const p of net.parameters())
    p.assign(
      d.tensor(
        Array.from(p.data, (w) => Math.round(w * 100) / 100),
        { shape: [...p.shape], dtype: 'float64' },
      ),
    );
  const v = (net.at(2) as d.Linear).weight;
  if (Math.abs(v.item()) < 0.3) v.assign(d.tensor([[v.item() < 0 ? -0.6 : 0.6]], { dtype: 'float64' }));
  return net;
}

/** The examples of `descent explain`: inputs with one decimal in [-2, 2], targets round(10 sin(x1) - 5 x2) / 10. */
export function tinyExamples(gen: d.Generator, B: number): { xs: [number, number][]; ys: number[] } {
  const one = () => Math.round((gen.nextFloat64() * 4 - 2) * 10) / 10;
  const xs = Array.from({ length: B }, (): [number, number] => [one(), one()]);
  const ys = xs.map(([a, b]) => Math.round(Math.sin(a) * 10 - b * 5) / 10);
  return { xs, ys };
}

/** How each recorded op passes the gradient back, in words (the words of `descent explain`). */
const RULES: Record<string, string | ((n: Node) => string)> = {
  div: 'divides by a constant, so it divides the gradient by it too',
  sum: 'adds numbers up, so each of them receives the gradient unchanged',
  mul: (n) =>
    n.inputs[0] === n.inputs[1] ? 'squares, so it sends back 2 x value x gradient' : 'multiplies, so each factor receives the gradient times the other factor',
  sub: 'subtracts, so the first input receives the gradient and the second its negative',
  add: 'adds, so both inputs receive the gradient (a bias, shared by all examples, receives the sum over the examples)',
  matmul: 'matrix product with a weight, so the weight receives (inputs)^T x gradient, a sum over the examples, and the inputs receive gradient x weight',
  tanh: 'tanh, so the gradient is multiplied by its slope 1 - tanh^2',
  reshape: 'rearranges numbers, so the gradient is arranged back',
};

function ruleOf(n: Node): string {
  const r = RULES[n.op];
  return r === undefined ? '' : typeof r === 'string' ? r : r(n);
}

/** Every tensor the loss was made from, each after its inputs (an iterative depth-first walk). */
function recordedOrder(loss: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([loss]);
  const stack: { t: Tensor; i: number }[] = [{ t: loss, i: 0 }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const inputs = top.t.node?.inputs ?? [];
    if (top.i < inputs.length) {
      const c = inputs[top.i++]!;
      if (!seen.has(c)) {
        seen.add(c);
        stack.push({ t: c, i: 0 });
      }
    } else {
      stack.pop();
      order.push(top.t);
    }
  }
  return order;
}

/** Sum a gradient over the axes its op broadcast, back to the input's shape. */
function toShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((n, i) => n === shape[i])) return g;
  const lead = g.shape.length - shape.length;
  const axes = g.shape.map((n, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1));
  return d.reshape(d.sum(g, axes, true), [...shape]);
}

/** The gradient of the loss at every recorded tensor and weight, each op's own backward rule applied in reverse order. */
function walkBack(loss: Tensor, order: Tensor[], params: Tensor[]): Map<Tensor, Tensor> {
  const wanted = (t: Tensor) => t.node !== null || params.includes(t);
  const grads = new Map<Tensor, Tensor>([[loss, d.onesLike(loss)]]);
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k]!;
    const g = grads.get(t);
    if (!t.node || !g) continue;
    const want = t.node.inputs.map(wanted);
    t.node.backward(g, want).forEach((gi, i) => {
      const input = t.node!.inputs[i]!;
      if (!gi || !want[i]) return;
      const r = toShape(gi, input.shape);
      const prev = grads.get(input);
      grads.set(input, prev ? d.add(prev, r) : r);
    });
  }
  return grads;
}

const r4 = (v: number) => Math.round(v * 1e4) / 1e4;

/** The recorded forward pass of the mean loss, walked back: one step per op, then one per weight. */
function backwardSteps(net: d.Sequential, X: Tensor, Y: Tensor): BackpropStep[] {
  const params = net.parameters();
  const names = new Map<Tensor, string>([
    [X, 'x'],
    [Y, 'y'],
  ]);
  ['w (first layer: w1, w2)', 'b1', 'v', 'c'].forEach((n, i) => names.set(params[i]!, n));
  for (const p of params) p.tracked++;
  try {
    const loss = d.enableGrad(() => d.mseLoss(net.forward(X), Y));
    const order = recordedOrder(loss).filter((t) => t.node);
    order.forEach((t, i) => names.set(t, t === loss ? 'mean loss' : `t${i + 1}`));
    const grads = d.noGrad(() => walkBack(loss, order, params));
    const constant = (u: Tensor) => (u.shape.every((n) => n === 1) ? String(r4(Number(u.data[0]))) : 'constant');
    const steps: BackpropStep[] = [...order].reverse().map((t, i) => ({
      step: i + 1,
      tensor: names.get(t)!,
      made_by: `${t.node!.op}(${t.node!.inputs.map((u) => names.get(u) ?? constant(u)).join(', ')})`,
      shape: [...t.shape],
      gradient: Array.from(grads.get(t)!.data),
      value: Array.from(t.data),
      rule: ruleOf(t.node!),
    }));
    for (const p of params)
      steps.push({
        step: steps.length + 1,
        tensor: names.get(p)!,
        made_by: 'a weight',
        shape: [...p.shape],
        gradient: Array.from(grads.get(p)!.data),
        value: Array.from(p.data),
        rule: 'reached: its gradient is complete',
      });
    return steps;
  } finally {
    for (const p of params) p.tracked--;
  }
}

const five = (ts: readonly Tensor[]): number[] => ts.flatMap((t) => Array.from(t.data));

/** The whole walk-through for a batch of B examples (2 to 10 in the page), with `descent explain`'s seed and learning rate. */
export function backpropWalk(B: number, seed = 0, lr = 0.1): BackpropWalk {
  return d.scope(() => {
    const gen = new d.Generator(seed);
    const net = tinyNetwork(gen);
    const params = net.parameters();
    const { xs, ys } = tinyExamples(gen, B);
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
    const steps = backwardSteps(net, X, Y);
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
