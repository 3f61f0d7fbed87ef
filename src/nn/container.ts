/** Sequential: modules applied one after another; and mlp, a multilayer perceptron built from it. */
import type { Generator } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { ELU, GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh } from './activations.js';
import { Dropout, Linear } from './layers.js';
import { Module } from './module.js';

/** Applies its children in order; they are named '0', '1', ... (so parameters are '0.weight', ...). */
export class Sequential extends Module {
  private readonly layers: Module[] = [];

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Add a module at the end, named by its position. */
  append(m: Module): this {
    this.registerModule(String(this.layers.length), m);
    this.layers.push(m);
    return this;
  }

  get length(): number {
    return this.layers.length;
  }

  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const m = this.layers.at(i);
    if (!m) throw new RangeError(`Sequential.at: index ${i} is out of range for ${this.layers.length} modules`);
    return m;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.layers[Symbol.iterator]();
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.forward(y);
    return y;
  }
}

export type ActivationName = 'relu' | 'leakyRelu' | 'elu' | 'gelu' | 'tanh' | 'sigmoid' | 'softplus' | 'identity';

const ACTIVATIONS: { [K in ActivationName]: () => Module } = {
  relu: () => new ReLU(),
  leakyRelu: () => new LeakyReLU(),
  elu: () => new ELU(),
  gelu: () => new GELU(),
  tanh: () => new Tanh(),
  sigmoid: () => new Sigmoid(),
  softplus: () => new Softplus(),
  identity: () => new Identity(),
};

/** A new activation module by name ('relu', 'gelu', ...); undefined for an unknown name. */
export function activationModule(name: string): Module | undefined {
  return Object.hasOwn(ACTIVATIONS, name) ? ACTIVATIONS[name as ActivationName]() : undefined;
}

export const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as ActivationName[];

export interface MlpOptions {
  /** The nonlinearity between layers: a name, or a function making a fresh module (default 'relu'). */
  activation?: ActivationName | (() => Module);
  /** Dropout probability after each hidden activation (default 0: no Dropout layers). */
  dropout?: number;
  dtype?: 'float32' | 'float64';
  /** Generator for the initial weights and the dropout masks (default: the global one). */
  generator?: Generator;
}

/**
 * A multilayer perceptron: for sizes [n0, n1, ..., nk], Linear(n0, n1), activation, [Dropout],
 * ..., Linear(n(k-1), nk), with no activation after the last Linear (it gives logits or
 * regression outputs; the loss applies softmax or sigmoid where needed).
 */
export function mlp(sizes: readonly number[], options: MlpOptions = {}): Sequential {
  if (sizes.length < 2) throw new RangeError(`mlp: sizes needs at least an input and an output size, got [${sizes.join(', ')}]`);
  const { activation = 'relu', dropout = 0, dtype = 'float32' } = options;
  const generator = options.generator ?? defaultGenerator;
  const makeAct = typeof activation === 'function' ? activation : ACTIVATIONS[activation];
  if (!makeAct)
    throw new RangeError(
      `mlp: unknown activation ${JSON.stringify(activation)} (expected one of ${Object.keys(ACTIVATIONS).join(', ')}, or a function returning a Module)`,
    );
  if (!(dropout >= 0 && dropout <= 1)) throw new RangeError(`mlp: dropout must be in [0, 1], got ${dropout}`);
  const net = new Sequential();
  for (let i = 0; i + 1 < sizes.length; i++) {
    net.append(new Linear(sizes[i]!, sizes[i + 1]!, { dtype, generator }));
    if (i + 2 < sizes.length) {
      net.append(makeAct());
      if (dropout > 0) net.append(new Dropout(dropout, { generator }));
    }
  }
  return net;
}
