/** Activation layers: parameter-free modules wrapping the elementwise functions of ops. */
import type { Tensor } from '../core/tensor.js';
import { elu, gelu, leakyRelu, logSoftmax, relu, sigmoid, softmax, softplus, tanh } from '../ops/index.js';
import { Module } from './module.js';

/** max(x, 0). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** x for x > 0, negativeSlope * x otherwise (PyTorch default slope 0.01). */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
  protected override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

/** x for x > 0, alpha (e^x - 1) otherwise. */
export class ELU extends Module {
  constructor(readonly alpha = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return elu(x, this.alpha);
  }
  protected override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}

/** x Phi(x) (exact, with erf) or its tanh approximation. */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
    if (approximate !== 'none' && approximate !== 'tanh')
      throw new RangeError(`GELU: approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
  }
  forward(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }
  protected override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/** 1 / (1 + e^-x). */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** log(1 + e^x), computed without overflow. (PyTorch's beta and threshold are not offered: beta = 1.) */
export class Softplus extends Module {
  forward(x: Tensor): Tensor {
    return softplus(x);
  }
}

/** e^x / sum(e^x) along `axis` (default the last, where class scores live). */
export class Softmax extends Module {
  constructor(readonly axis = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return softmax(x, this.axis);
  }
  protected override extraRepr(): string {
    return `axis=${this.axis}`;
  }
}

/** x - logSumExp(x) along `axis` (default the last). */
export class LogSoftmax extends Module {
  constructor(readonly axis = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.axis);
  }
  protected override extraRepr(): string {
    return `axis=${this.axis}`;
  }
}

/** Returns its input unchanged (a placeholder, e.g. for an optional layer). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
