/** Adam and AdamW, as torch.optim.Adam and torch.optim.AdamW. */
import type { Tensor } from '../core/tensor.js';
import { add, div, maximum, mul, neg, sqrt, sub, zerosLike } from '../ops/index.js';
import { checkBoolean, checkInRange, checkNonNegative } from './checks.js';
import type { BaseHyper, ParamGroup, ParamState, ParamsInput } from './optimizer.js';
import { Optimizer } from './optimizer.js';

export interface AdamHyper extends BaseHyper {
  /** [beta1, beta2]: decay rates of the running means of the gradient and of its square. */
  betas: [number, number];
  /** Added to the denominator (after the square root) so it is never 0. */
  eps: number;
  weightDecay: number;
  /** Divide by the largest second-moment estimate so far (Reddi et al., "On the Convergence of Adam and Beyond"). */
  amsgrad: boolean;
  maximize: boolean;
}

export type AdamOptions = Partial<Omit<AdamHyper, 'initialLr'>>;

/**
 * Adam's update shared by Adam and AdamW. For parameter theta with gradient g at step t:
 *
 *   g <- -g                                    if maximize
 *   theta <- theta (1 - lr lambda)             AdamW: decoupled weight decay
 *   g <- g + lambda theta                      Adam: L2 penalty through the gradient
 *   m_t = beta1 m_{t-1} + (1 - beta1) g        running mean of the gradient
 *   v_t = beta2 v_{t-1} + (1 - beta2) g^2      running mean of its square
 *   vmax_t = max(vmax_{t-1}, v_t)              amsgrad: v_t is replaced by vmax_t below
 *   theta <- theta - (lr / (1 - beta1^t)) m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)
 *
 * m and v start at 0, so early on they are biased toward 0; dividing by 1 - beta^t corrects
 * that. With amsgrad the maximum is taken over the uncorrected v (as PyTorch's implementation
 * does) and corrected with the current step's factor.
 */
abstract class AdamBase extends Optimizer<AdamHyper> {
  protected readonly stateNames = ['expAvg', 'expAvgSq', 'maxExpAvgSq'] as const;
  protected readonly requiredStateNames = ['expAvg', 'expAvgSq'] as const;
  protected abstract readonly decoupled: boolean;

  constructor(name: string, params: ParamsInput<AdamHyper>, options: AdamOptions, defaultWeightDecay: number) {
    super(name, params, {
      lr: options.lr ?? 1e-3,
      betas: options.betas ? [...options.betas] : [0.9, 0.999],
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? defaultWeightDecay,
      amsgrad: options.amsgrad ?? false,
      maximize: options.maximize ?? false,
    });
  }

  protected validateGroup(g: AdamHyper, who: string): void {
    if (!Array.isArray(g.betas) || g.betas.length !== 2) throw new RangeError(`${who}: betas must be a pair [beta1, beta2], got ${JSON.stringify(g.betas)}`);
    checkInRange(who, 'betas[0]', g.betas[0], 0, 1);
    checkInRange(who, 'betas[1]', g.betas[1], 0, 1);
    checkNonNegative(who, 'eps', g.eps);
    checkNonNegative(who, 'weightDecay', g.weightDecay);
    checkBoolean(who, 'amsgrad', g.amsgrad);
    checkBoolean(who, 'maximize', g.maximize);
  }

  protected override requiredStateFor(g: AdamHyper): readonly string[] {
    return g.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : this.requiredStateNames;
  }

  protected update(p: Tensor, grad: Tensor, group: ParamGroup<AdamHyper>, state: ParamState): void {
    const {
      lr,
      betas: [beta1, beta2],
      eps,
      weightDecay,
      amsgrad,
      maximize,
    } = group;
    const t = state.step;
    let g = maximize ? neg(grad) : grad;
    let theta = p;
    if (weightDecay !== 0) {
      if (this.decoupled) theta = mul(p, 1 - lr * weightDecay);
      else g = add(g, mul(p, weightDecay));
    }
    const m = this.buffer(state, 'expAvg', () => zerosLike(p));
    const v = this.buffer(state, 'expAvgSq', () => zerosLike(p));
    m.assign(add(mul(m, beta1), mul(g, 1 - beta1)));
    v.assign(add(mul(v, beta2), mul(mul(g, g), 1 - beta2)));
    let second = v;
    if (amsgrad) {
      const vmax = this.buffer(state, 'maxExpAvgSq', () => zerosLike(p));
      second = vmax.assign(maximum(vmax, v));
    }
    const stepSize = lr / (1 - beta1 ** t);
    const denom = add(div(sqrt(second), Math.sqrt(1 - beta2 ** t)), eps);
    p.assign(sub(theta, mul(div(m, denom), stepSize)));
  }
}

/** Adam (Kingma & Ba), with weight decay as an L2 penalty added to the gradient. Defaults as PyTorch. */
export class Adam extends AdamBase {
  protected readonly decoupled = false;
  constructor(params: ParamsInput<AdamHyper>, options: AdamOptions = {}) {
    super('Adam', params, options, 0);
  }
}

/**
 * AdamW (Loshchilov & Hutter): weight decay applied to the weights directly, theta <- theta (1 -
 * lr lambda), so it is not rescaled by Adam's per-coordinate step size. Default weightDecay 1e-2.
 */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;
  constructor(params: ParamsInput<AdamHyper>, options: AdamOptions = {}) {
    super('AdamW', params, options, 1e-2);
  }
}
