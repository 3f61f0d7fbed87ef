/**
 * The reverse pass. Ops record nodes as they run (ops/run.ts); this walks them backwards from the
 * output: an iterative topological sort (no recursion, so a chain of 100,000 ops is fine), then
 * each node's rule in reverse order, summing the gradients of tensors used more than once.
 * Gradients of broadcast inputs are summed back to the input's shape here and nowhere else.
 */
import { enableGrad, noGrad } from '../core/grad-mode.js';
import { shapeStr, shapesEqual } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { add, cast, reshape, sum, zerosLike } from '../ops/index.js';

/** Sum a gradient over the axes an op broadcast, so it has the input's shape. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  if (lead < 0) throw new Error(`autograd: gradient of shape ${shapeStr(g.shape)} cannot be summed to ${shapeStr(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
    else if (shape[i - lead] !== g.shape[i]) throw new Error(`autograd: gradient of shape ${shapeStr(g.shape)} does not broadcast to ${shapeStr(shape)}`);
  }
  return reshape(sum(g, axes, true), shape);
}

/** Post-order over the graph behind `outputs`: every tensor comes after the inputs it was made from. */
export function topoSort(outputs: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: { t: Tensor; i: number }[] = [];
  for (const o of outputs) {
    if (visited.has(o)) continue;
    visited.add(o);
    stack.push({ t: o, i: 0 });
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const inputs = top.t.node?.inputs;
      if (inputs && top.i < inputs.length) {
        const c = inputs[top.i++]!;
        if (!visited.has(c)) {
          visited.add(c);
          stack.push({ t: c, i: 0 });
        }
      } else {
        stack.pop();
        order.push(top.t);
      }
    }
  }
  return order;
}

/**
 * Gradients of sum_k <outputs[k], seeds[k]> with respect to each tensor in `wrt` (zeros for those
 * the outputs do not depend on). With createGraph the backward ops are themselves recorded, so the
 * result can be differentiated again.
 */
export function backwardPass(outputs: readonly Tensor[], seeds: readonly Tensor[], wrt: readonly Tensor[], createGraph: boolean): Map<Tensor, Tensor> {
  const run = () => {
    const order = topoSort(outputs);
    const targets = new Set(wrt);
    // needs(t): t is asked for, or some path from t's inputs reaches a tensor that is.
    const needs = new Set<Tensor>();
    for (const t of order) {
      if (targets.has(t) || t.node?.inputs.some((i) => needs.has(i))) needs.add(t);
    }
    const grads = new Map<Tensor, Tensor>();
    const accumulate = (t: Tensor, g: Tensor) => {
      const prev = grads.get(t);
      grads.set(t, prev ? add(prev, g) : g);
    };
    outputs.forEach((o, k) => {
      const s = seeds[k]!;
      if (!shapesEqual(s.shape, o.shape)) throw new RangeError(`backward: seed shape ${shapeStr(s.shape)} differs from output shape ${shapeStr(o.shape)}`);
      accumulate(o, s);
    });
    for (let n = order.length - 1; n >= 0; n--) {
      const t = order[n]!;
      const node = t.node;
      const g = grads.get(t);
      if (!node || !g || !needs.has(t)) continue;
      const want = node.inputs.map((i) => needs.has(i));
      const inGrads = node.backward(g, want);
      node.inputs.forEach((inp, i) => {
        const gi = inGrads[i];
        if (!want[i] || !gi) return;
        let r = sumToShape(gi, inp.shape);
        if (r.dtype !== inp.dtype) r = cast(r, inp.dtype);
        accumulate(inp, r);
      });
    }
    const result = new Map<Tensor, Tensor>();
    for (const w of wrt) result.set(w, grads.get(w) ?? zerosLike(w));
    return result;
  };
  return createGraph ? enableGrad(run) : noGrad(run);
}
