/** RMSprop (Hinton; centered variant from Graves 2013), as torch.optim.RMSprop. */
import type { Tensor } from '../core/tensor.js';
import { add, div, mul, neg, sqrt, sub, zerosLike } from '../ops/index.js';
import { checkBoolean, checkNonNegative } from './checks.js';
import type { BaseHyper, ParamGroup, ParamState, ParamsInput } from './optimizer.js';
import { Optimizer } from './optimizer.js';

export interface RMSpropHyper extends BaseHyper {
  /** Smoothing constant of the running mean of g^2. */
  alpha: number;
  /** Added to the root (after the square root). */
  eps: number;
  weightDecay: number;
  momentum: number;
  /** Normalise by an estimate of the gradient's variance instead of its raw second moment. */
  centered: boolean;
  maximize: boolean;
}

export type RMSpropOptions = Partial<Omit<RMSpropHyper, 'initialLr'>>;

/**
 * For parameter theta with gradient g:
 *
 *   g <- -g                                 if maximize
 *   g <- g + lambda theta                   if lambda != 0
 *   v_t = alpha v_{t-1} + (1 - alpha) g^2   running mean of g^2
 *   gbar_t = alpha gbar_{t-1} + (1 - alpha) g,  v~ = v_t - gbar_t^2    if centered (a variance)
 *   v~ = v_t                                otherwise
 *   b_t = mu b_{t-1} + g / (sqrt(v~) + eps),  theta <- theta - lr b_t     if mu > 0 (b_0 = 0)
 *   theta <- theta - lr g / (sqrt(v~) + eps)                              otherwise
 */
export class RMSprop extends Optimizer<RMSpropHyper> {
  protected readonly stateNames = ['squareAvg', 'gradAvg', 'momentumBuffer'] as const;
  protected readonly requiredStateNames = ['squareAvg'] as const;

  constructor(params: ParamsInput<RMSpropHyper>, options: RMSpropOptions = {}) {
    super('RMSprop', params, {
      lr: options.lr ?? 1e-2,
      alpha: options.alpha ?? 0.99,
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? 0,
      momentum: options.momentum ?? 0,
      centered: options.centered ?? false,
      maximize: options.maximize ?? false,
    });
  }

  protected validateGroup(g: RMSpropHyper, who: string): void {
    checkNonNegative(who, 'alpha', g.alpha);
    checkNonNegative(who, 'eps', g.eps);
    checkNonNegative(who, 'weightDecay', g.weightDecay);
    checkNonNegative(who, 'momentum', g.momentum);
    checkBoolean(who, 'centered', g.centered);
    checkBoolean(who, 'maximize', g.maximize);
  }

  protected override requiredStateFor(g: RMSpropHyper): readonly string[] {
    return ['squareAvg', ...(g.centered ? ['gradAvg'] : []), ...(g.momentum > 0 ? ['momentumBuffer'] : [])];
  }

  protected update(p: Tensor, grad: Tensor, group: ParamGroup<RMSpropHyper>, state: ParamState): void {
    const { lr, alpha, eps, weightDecay, momentum, centered, maximize } = group;
    let g = maximize ? neg(grad) : grad;
    if (weightDecay !== 0) g = add(g, mul(p, weightDecay));
    const v = this.buffer(state, 'squareAvg', () => zerosLike(p));
    v.assign(add(mul(v, alpha), mul(mul(g, g), 1 - alpha)));
    let variance = v;
    if (centered) {
      const gbar = this.buffer(state, 'gradAvg', () => zerosLike(p));
      gbar.assign(add(mul(gbar, alpha), mul(g, 1 - alpha)));
      variance = sub(v, mul(gbar, gbar));
    }
    const denom = add(sqrt(variance), eps);
    if (momentum > 0) {
      const b = this.buffer(state, 'momentumBuffer', () => zerosLike(p));
      b.assign(add(mul(b, momentum), div(g, denom)));
      p.assign(sub(p, mul(b, lr)));
    } else {
      p.assign(sub(p, mul(div(g, denom), lr)));
    }
  }
}
