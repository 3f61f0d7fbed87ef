/**
 * One training step of the 784-512-256-10 ReLU MLP, written with plain ops: forward, softmax
 * cross-entropy (mean over the batch of -log_softmax(logits)[label]), backward by valueAndGrad,
 * and SGD with momentum (PyTorch's form: v = mu v + g; w = w - lr v) under noGrad.
 */
import * as d from '../src/index.js';
import type { Tensor } from '../src/index.js';

export interface Mlp {
  params: Tensor[];
  velocity: Tensor[];
}

/** The workload every backend and peer library runs: layer sizes, SGD learning rate and momentum. */
export const SIZES = [784, 512, 256, 10] as const;
export const LR = 0.05;
export const MOMENTUM = 0.9;

export function makeMlp(generator: d.Generator): Mlp {
  const params: Tensor[] = [];
  for (let l = 0; l + 1 < SIZES.length; l++) {
    const fanIn = SIZES[l]!,
      fanOut = SIZES[l + 1]!;
    // PyTorch's Linear default: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weight [out, in] and bias
    const bound = 1 / Math.sqrt(fanIn);
    params.push(d.keep(d.uniform([fanOut, fanIn], -bound, bound, { generator })));
    params.push(d.keep(d.uniform([fanOut], -bound, bound, { generator })));
  }
  return { params, velocity: params.map((p) => d.keep(d.zerosLike(p))) };
}

function loss(params: Tensor[], x: Tensor, y: Tensor): Tensor {
  let h = x;
  for (let l = 0; l < params.length; l += 2) {
    h = d.linear(h, params[l]!, params[l + 1]!);
    if (l + 2 < params.length) h = d.relu(h);
  }
  const logp = d.logSoftmax(h, -1);
  return d.neg(d.mean(d.gather(logp, 1, d.reshape(y, [-1, 1]))));
}

export function trainStep(net: Mlp, x: Tensor, y: Tensor, lr = LR, momentum = MOMENTUM): number {
  return d.scope(() => {
    const { value, grads } = d.valueAndGrad(() => loss(net.params, x, y), net.params);
    d.noGrad(() => {
      net.params.forEach((p, i) => {
        const v = net.velocity[i]!;
        v.assign(d.add(d.mul(v, momentum), grads.get(p)));
        p.assign(d.sub(p, d.mul(v, lr)));
      });
    });
    return value.item();
  });
}
