/** Stochastic gradient descent, optionally with (Nesterov) momentum and L2 weight decay, as torch.optim.SGD. */
import { getBackend } from '../backend/index.js';
import { Tensor } from '../core/tensor.js';
import { add, mul, neg, sub } from '../ops/index.js';
import { checkBoolean, checkFinite, checkNonNegative } from './checks.js';
import type { BaseHyper, ParamGroup, ParamState, ParamsInput } from './optimizer.js';
import { Optimizer } from './optimizer.js';

export interface SGDHyper extends BaseHyper {
  /** mu: how much of the previous step direction is kept (0 = plain SGD). */
  momentum: number;
  /** tau: the new gradient enters the momentum buffer with weight 1 - tau (from the second step on). */
  dampening: number;
  /** lambda: L2 penalty, added to the gradient as lambda * theta. */
  weightDecay: number;
  /** Step along g + mu * b instead of b. */
  nesterov: boolean;
  /** Ascend the objective instead of descending. */
  maximize: boolean;
}

export type SGDOptions = Pick<SGDHyper, 'lr'> & Partial<Omit<SGDHyper, 'lr' | 'initialLr'>>;

/**
 * For each parameter theta with gradient g, at step t:
 *
 *   g <- -g                         if maximize
 *   g <- g + lambda theta           if lambda != 0
 *   b_t = g                         at the first momentum step (no dampening: PyTorch's choice)
 *   b_t = mu b_{t-1} + (1 - tau) g  afterwards
 *   g <- g + mu b_t (nesterov)  or  g <- b_t
 *   theta <- theta - lr g
 *
 * maximize negates the gradient before weight decay (as PyTorch's implementation does), so weight
 * decay shrinks the weights whichever way the objective is followed.
 */
export class SGD extends Optimizer<SGDHyper> {
  protected readonly stateNames = ['momentumBuffer'] as const;
  protected readonly requiredStateNames = [] as const;

  constructor(params: ParamsInput<SGDHyper>, options: SGDOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('SGD: options { lr, ... } are required (lr has no default)');
    super('SGD', params, {
      lr: options.lr,
      momentum: options.momentum ?? 0,
      dampening: options.dampening ?? 0,
      weightDecay: options.weightDecay ?? 0,
      nesterov: options.nesterov ?? false,
      maximize: options.maximize ?? false,
    });
  }

  protected override requiredStateFor(g: SGDHyper): readonly string[] {
    return g.momentum !== 0 ? ['momentumBuffer'] : [];
  }

  protected validateGroup(g: SGDHyper, who: string): void {
    checkNonNegative(who, 'momentum', g.momentum);
    checkFinite(who, 'dampening', g.dampening);
    checkNonNegative(who, 'weightDecay', g.weightDecay);
    checkBoolean(who, 'nesterov', g.nesterov);
    checkBoolean(who, 'maximize', g.maximize);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new RangeError(`${who}: Nesterov momentum requires momentum > 0 and dampening = 0, got momentum ${g.momentum} and dampening ${g.dampening}`);
    }
  }

  protected update(p: Tensor, grad: Tensor, group: ParamGroup<SGDHyper>, state: ParamState): void {
    if (this.fusedUpdate(p, grad, group, state)) return;
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    let g = maximize ? neg(grad) : grad;
    if (weightDecay !== 0) g = add(g, mul(p, weightDecay));
    if (momentum !== 0) {
      const existing = state.buffers.momentumBuffer;
      let buf: Tensor;
      if (!existing) {
        buf = this.buffer(state, 'momentumBuffer', () => mul(g, 1)); // a copy of g
      } else {
        buf = existing.assign(add(mul(existing, momentum), mul(g, 1 - dampening)));
      }
      g = nesterov ? add(g, mul(buf, momentum)) : buf;
    }
    p.assign(sub(p, mul(g, lr)));
  }

  /**
   * The same update in one kernel call where the backend has one (Backend.sgdStep: the same
   * operations in the same order, so the same bits): new storages for the parameter and the
   * buffer, assigned as the composed ops' results are. False where the kernel is absent or a
   * tensor lives on another backend.
   */
  private fusedUpdate(p: Tensor, grad: Tensor, group: ParamGroup<SGDHyper>, state: ParamState): boolean {
    const b = getBackend();
    const existing = state.buffers.momentumBuffer;
    const onB = (t: Tensor | undefined) => t === undefined || t.storage.backend === b.name;
    if (!b.sgdStep || !onB(p) || !onB(grad) || !onB(existing) || (p.dtype !== 'float32' && p.dtype !== 'float64')) return false;
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    const first = momentum !== 0 && !existing;
    const pOut = new Tensor(b.alloc(p.dtype, p.size), p.shape);
    const bufOut = momentum !== 0 ? new Tensor(b.alloc(p.dtype, p.size), p.shape) : null;
    b.sgdStep(p.storage, grad.storage, existing?.storage ?? null, pOut.storage, bufOut?.storage ?? null, {
      lr,
      momentum,
      dampening,
      weightDecay,
      nesterov,
      maximize,
      first,
    });
    if (bufOut !== null) {
      if (first) this.buffer(state, 'momentumBuffer', () => bufOut);
      else existing!.assign(bufOut);
    }
    p.assign(pOut);
    return true;
  }
}
