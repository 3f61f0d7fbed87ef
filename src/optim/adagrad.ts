/** Adagrad (Duchi, Hazan & Singer 2011), as torch.optim.Adagrad. */
import type { Tensor } from '../core/tensor.js';
import { add, div, fullLike, mul, neg, sqrt, sub } from '../ops/index.js';
import { checkBoolean, checkNonNegative } from './checks.js';
import type { BaseHyper, ParamGroup, ParamState, ParamsInput } from './optimizer.js';
import { Optimizer } from './optimizer.js';

export interface AdagradHyper extends BaseHyper {
  /** eta: the step size decays as lr / (1 + (t - 1) eta). */
  lrDecay: number;
  weightDecay: number;
  /** The value the sum of squared gradients starts from. */
  initialAccumulatorValue: number;
  /** Added to the root (after the square root). */
  eps: number;
  maximize: boolean;
}

export type AdagradOptions = Partial<Omit<AdagradHyper, 'initialLr'>>;

/**
 * For parameter theta with gradient g at step t:
 *
 *   g <- -g                            if maximize
 *   lr~ = lr / (1 + (t - 1) eta)
 *   g <- g + lambda theta              if lambda != 0
 *   s_t = s_{t-1} + g^2                s_0 = initialAccumulatorValue
 *   theta <- theta - lr~ g / (sqrt(s_t) + eps)
 *
 * Each coordinate's step shrinks with the total squared gradient it has seen.
 */
export class Adagrad extends Optimizer<AdagradHyper> {
  protected readonly stateNames = ['sum'] as const;
  protected readonly requiredStateNames = ['sum'] as const;

  constructor(params: ParamsInput<AdagradHyper>, options: AdagradOptions = {}) {
    super('Adagrad', params, {
      lr: options.lr ?? 1e-2,
      lrDecay: options.lrDecay ?? 0,
      weightDecay: options.weightDecay ?? 0,
      initialAccumulatorValue: options.initialAccumulatorValue ?? 0,
      eps: options.eps ?? 1e-10,
      maximize: options.maximize ?? false,
    });
  }

  protected validateGroup(g: AdagradHyper, who: string): void {
    checkNonNegative(who, 'lrDecay', g.lrDecay);
    checkNonNegative(who, 'weightDecay', g.weightDecay);
    checkNonNegative(who, 'initialAccumulatorValue', g.initialAccumulatorValue);
    checkNonNegative(who, 'eps', g.eps);
    checkBoolean(who, 'maximize', g.maximize);
  }

  protected update(p: Tensor, grad: Tensor, group: ParamGroup<AdagradHyper>, state: ParamState): void {
    const { lr, lrDecay, weightDecay, initialAccumulatorValue, eps, maximize } = group;
    let g = maximize ? neg(grad) : grad;
    if (weightDecay !== 0) g = add(g, mul(p, weightDecay));
    const clr = lr / (1 + (state.step - 1) * lrDecay);
    const s = this.buffer(state, 'sum', () => fullLike(p, initialAccumulatorValue));
    s.assign(add(s, mul(g, g)));
    p.assign(sub(p, mul(div(g, add(sqrt(s), eps)), clr)));
  }
}
