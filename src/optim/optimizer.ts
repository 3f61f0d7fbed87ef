/**
 * The base of every optimizer. An optimizer holds parameter groups (the tensors it updates and
 * their hyperparameters) and per-parameter state (step counts, momentum buffers, moment
 * estimates). It steps from a gradient store, never from the tape:
 *
 *   const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 *   const { grads } = valueAndGrad(() => loss(model, x, y), model.parameters());
 *   opt.step(grads);
 */
import { isFloat } from '../core/dtype.js';
import { noGrad } from '../core/grad-mode.js';
import { shapeStr, shapesEqual } from '../core/shape.js';
import { keep, scope, Tensor } from '../core/tensor.js';
import { clone, detach, tensor } from '../ops/index.js';
import { checkFinite, checkInteger, checkNonNegative, checkPositive } from './checks.js';

/** Hyperparameters every group has. */
export interface BaseHyper {
  /** Learning rate: the size of the step (schedulers change it as training goes). */
  lr: number;
  /**
   * Set by the first learning-rate scheduler attached to the optimizer: the lr every schedule is
   * a multiple of (PyTorch's `initial_lr`), so that several schedulers agree on it.
   */
  initialLr?: number;
}

/** A parameter group: the tensors and the hyperparameters they are updated with. */
export type ParamGroup<H extends BaseHyper = BaseHyper> = H & { params: Tensor[] };

/** A group as given to a constructor: any hyperparameter left out takes the optimizer's default. */
export type ParamGroupInput<H extends BaseHyper = BaseHyper> = { params: Tensor[] } & Partial<H>;

/** What a constructor accepts: the tensors to optimise, or groups of them with their own hyperparameters. */
export type ParamsInput<H extends BaseHyper = BaseHyper> = Iterable<Tensor> | Iterable<ParamGroupInput<H>>;

/** Per-parameter state: how many updates the parameter has had, and its long-lived buffers. */
export interface ParamState {
  step: number;
  buffers: Record<string, Tensor>;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The JSON half of a checkpoint. Parameters are numbered 0, 1, ... in order across groups. */
export interface OptimizerMeta {
  /** The optimizer's name (loading into another kind of optimizer is refused). */
  optimizer: string;
  /** Each group's hyperparameters (current lr included) and the numbers of its parameters. */
  paramGroups: ({ params: number[] } & { [key: string]: JsonValue })[];
  /** Step count of every parameter that has been updated, keyed by its number. */
  state: Record<string, { step: number }>;
}

/**
 * A checkpoint of an optimizer: state tensors keyed `state.<paramIndex>.<name>` (copies, unaffected
 * by later steps) and a JSON-serialisable `meta`.
 */
export interface OptimizerState {
  tensors: Record<string, Tensor>;
  meta: OptimizerMeta;
}

const STATE_KEY = /^state\.(\d+)\.([A-Za-z][A-Za-z0-9]*)$/;

/**
 * A deep copy of JSON-like hyperparameters (numbers, booleans, strings, arrays, plain objects),
 * as JSON.parse(JSON.stringify(x)) would give (undefined fields dropped, non-finite numbers null)
 * at a fraction of its cost: the trainer takes one after every update.
 */
function cloneJson(x: unknown): unknown {
  if (typeof x === 'number') return Number.isFinite(x) ? x : null;
  if (x === null || typeof x !== 'object') return x;
  if (Array.isArray(x)) return x.map((v) => (v === undefined ? null : cloneJson(v)));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) if (v !== undefined && typeof v !== 'function') out[k] = cloneJson(v);
  return out;
}

/** An exact copy in new storage (so that a saved state is not changed by later steps). */
function copyTensor(t: Tensor): Tensor {
  return noGrad(() => clone(t));
}

/**
 * To write an optimizer: extend Optimizer<MyHyper>, pass a name and the defaults to super, list
 * the buffer names in stateNames (and those every updated parameter has in requiredStateNames),
 * check hyperparameters in validateGroup, and write the update rule in update() with ops,
 * keeping buffers with this.buffer(...) and writing values with assign.
 */
export abstract class Optimizer<H extends BaseHyper = BaseHyper> {
  /** The groups, in order; schedulers and users may change hyperparameters here between steps. */
  readonly paramGroups: ParamGroup<H>[];
  /** The hyperparameters a group gets for anything it does not set. */
  readonly defaults: Readonly<H>;
  /** Per-parameter state, created at a parameter's first update. */
  protected readonly state = new Map<Tensor, ParamState>();
  /** Every name `update` may store in `ParamState.buffers`. */
  protected abstract readonly stateNames: readonly string[];
  /** The names created at a parameter's first update, whatever the hyperparameters (checked on load). */
  protected abstract readonly requiredStateNames: readonly string[];

  constructor(
    readonly name: string,
    params: ParamsInput<H>,
    defaults: H,
  ) {
    this.defaults = Object.freeze({ ...defaults });
    // Any iterable of tensors (a Set, a generator of a model's parameters) is accepted, as in PyTorch.
    const list: readonly unknown[] = Array.isArray(params)
      ? params
      : params !== null && typeof params === 'object' && Symbol.iterator in params
        ? Array.from(params as Iterable<unknown>)
        : [];
    if (list.length === 0) {
      throw new RangeError(`${name}: got an empty parameter list; pass the tensors to optimise, or groups { params: [...], ...hyperparameters }`);
    }
    const inputs: readonly ParamGroupInput<H>[] = list.every((p) => p instanceof Tensor)
      ? [{ params: list as Tensor[] } as ParamGroupInput<H>]
      : (list as readonly ParamGroupInput<H>[]);
    const seen = new Set<Tensor>();
    this.paramGroups = inputs.map((input, gi) => {
      if (input instanceof Tensor || input === null || typeof input !== 'object' || !Array.isArray(input.params)) {
        throw new TypeError(
          `${name}: params must be all tensors or all groups { params: Tensor[], ... }; entry ${gi} is neither a group nor consistent with the others`,
        );
      }
      // Array hyperparameters (betas) are copied, so that no two groups share one.
      const group: Record<string, unknown> = {};
      for (const [k, v] of [...Object.entries(defaults), ...Object.entries(input)]) {
        if (v !== undefined && k !== 'params') group[k] = Array.isArray(v) ? [...(v as unknown[])] : v;
      }
      input.params.forEach((p, pi) => {
        if (!(p instanceof Tensor)) throw new TypeError(`${name}: param group ${gi}, entry ${pi} is not a Tensor`);
        if (!isFloat(p.dtype))
          throw new TypeError(`${name}: param group ${gi}, entry ${pi} is ${p.dtype} ${shapeStr(p.shape)}; only float32 and float64 tensors can be optimised`);
        if (seen.has(p))
          throw new RangeError(
            `${name}: a parameter ${shapeStr(p.shape)} appears more than once (param group ${gi}, entry ${pi}); each tensor may be in one group only`,
          );
        seen.add(p);
      });
      group.params = [...input.params];
      return group as unknown as ParamGroup<H>;
    });
    this.paramGroups.forEach((g, gi) => this.checkGroup(g, gi, true));
  }

  /**
   * Check a group's hyperparameters. The lr must be > 0 when the optimizer is made; a scheduler
   * may later bring it to 0 (cosine annealing to etaMin = 0), so steps accept lr >= 0.
   */
  private checkGroup(group: ParamGroup<H>, gi: number, atConstruction: boolean): void {
    const who = `${this.name} (param group ${gi})`;
    if (atConstruction) checkPositive(who, 'lr', group.lr);
    else checkNonNegative(who, 'lr', group.lr);
    if (group.initialLr !== undefined) checkFinite(who, 'initialLr', group.initialLr);
    this.validateGroup(group, who);
  }

  /**
   * The buffers every parameter of a group with these hyperparameters has once it has taken a
   * step (checked on load, so a checkpoint missing one is refused instead of resuming inexactly).
   */
  protected requiredStateFor(_group: H): readonly string[] {
    return this.requiredStateNames;
  }

  /** Throw a clear error for any invalid hyperparameter of the group (`who` names the optimizer and group). */
  protected abstract validateGroup(group: H, who: string): void;

  /** Update one parameter in place (via assign) from its gradient; runs inside scope and noGrad, after state.step was incremented. */
  protected abstract update(param: Tensor, grad: Tensor, group: ParamGroup<H>, state: ParamState): void;

  /** The named buffer of a parameter, made (and kept alive) by `init` the first time. */
  protected buffer(state: ParamState, name: string, init: () => Tensor): Tensor {
    let b = state.buffers[name];
    if (!b) {
      b = keep(init());
      state.buffers[name] = b;
    }
    return b;
  }

  /**
   * One update of every parameter that has a gradient in the store. A parameter absent from the
   * store is skipped, state and step count included (as a None grad in PyTorch).
   */
  step(grads: Map<Tensor, Tensor>): void {
    if (!(grads instanceof Map))
      throw new TypeError(`${this.name}.step: expected a gradient store (Map from parameter to gradient), got ${grads === null ? 'null' : typeof grads}`);
    this.paramGroups.forEach((g, gi) => this.checkGroup(g, gi, false));
    // Check every gradient before changing anything, so that a bad one leaves no half-done step.
    const work: [Tensor, Tensor, ParamGroup<H>][] = [];
    let index = 0;
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (grads.has(p)) {
          const g = grads.get(p);
          if (!(g instanceof Tensor)) throw new TypeError(`${this.name}.step: the gradient of parameter ${index} is not a Tensor`);
          if (!shapesEqual(g.shape, p.shape) || g.dtype !== p.dtype) {
            throw new RangeError(
              `${this.name}.step: the gradient of parameter ${index} is ${shapeStr(g.shape)} ${g.dtype}, expected ${shapeStr(p.shape)} ${p.dtype} like the parameter`,
            );
          }
          work.push([p, g, group]);
        }
        index++;
      }
    }
    scope(() =>
      noGrad(() => {
        for (const [p, g, group] of work) {
          let st = this.state.get(p);
          if (!st) {
            st = { step: 0, buffers: {} };
            this.state.set(p, st);
          }
          st.step++;
          this.update(p, g, group, st);
        }
      }),
    );
  }

  /**
   * A checkpoint: copies of the state tensors and the JSON meta (hyperparameters, step counts).
   * With `{ copy: false }` the tensors are views of the current state instead of copies: no data
   * is copied, and they keep their values through later steps because every update replaces a
   * buffer's storage (assign) rather than writing into it. The trainer keeps such a view after
   * every update, so that it can go back one update when the loss stops being finite.
   */
  stateDict(options: { copy?: boolean } = {}): OptimizerState {
    const copy = options.copy ?? true;
    const tensors: Record<string, Tensor> = {};
    const state: Record<string, { step: number }> = {};
    let index = 0;
    const paramGroups = this.paramGroups.map((group) => {
      const { params, ...hyper } = group;
      const numbers: number[] = [];
      for (const p of params) {
        const st = this.state.get(p);
        if (st) {
          state[index] = { step: st.step };
          for (const [name, t] of Object.entries(st.buffers)) tensors[`state.${index}.${name}`] = copy ? copyTensor(t) : keep(detach(t));
        }
        numbers.push(index++);
      }
      return { ...(cloneJson(hyper) as { [key: string]: JsonValue }), params: numbers };
    });
    return { tensors, meta: { optimizer: this.name, paramGroups, state } };
  }

  /**
   * Restore a checkpoint made by stateDict of the same kind of optimizer over parameters of the
   * same shapes, in the same groups: hyperparameters, step counts and state tensors (copied).
   * Everything is checked before anything changes.
   */
  // lint-allow-long-function: every check comes before the first change (a failed load changes nothing); one function keeps that visible
  loadStateDict(saved: OptimizerState): void {
    const who = `${this.name}.loadStateDict`;
    if (!saved || typeof saved !== 'object' || !saved.meta || typeof saved.tensors !== 'object' || saved.tensors === null) {
      throw new TypeError(`${who}: expected { tensors, meta } as made by stateDict()`);
    }
    const { meta } = saved;
    if (meta.optimizer !== this.name) throw new TypeError(`${who}: the state is of a ${String(meta.optimizer)} optimizer, not ${this.name}`);
    if (!Array.isArray(meta.paramGroups) || meta.paramGroups.length !== this.paramGroups.length) {
      throw new RangeError(
        `${who}: the state has ${Array.isArray(meta.paramGroups) ? meta.paramGroups.length : 'no'} param groups, this optimizer has ${this.paramGroups.length}`,
      );
    }
    const params: Tensor[] = [];
    this.paramGroups.forEach((group, gi) => {
      const savedGroup: unknown = meta.paramGroups[gi];
      if (savedGroup === null || typeof savedGroup !== 'object') throw new TypeError(`${who}: param group ${gi} of the state is not an object`);
      const numbers = meta.paramGroups[gi]!.params;
      const expected = group.params.map((_, i) => params.length + i);
      if (!Array.isArray(numbers) || numbers.length !== expected.length || numbers.some((n, i) => n !== expected[i])) {
        throw new RangeError(
          `${who}: param group ${gi} of the state holds parameters [${String(numbers)}], expected [${expected.join(', ')}] (the groups must have the same sizes)`,
        );
      }
      params.push(...group.params);
    });
    // Hyperparameters: the saved ones replace the current ones (as PyTorch), then are checked.
    const groups = this.paramGroups.map((group, gi) => {
      const { params: _numbers, ...hyper } = meta.paramGroups[gi]!;
      const g = { ...(JSON.parse(JSON.stringify(hyper)) as object), params: group.params } as ParamGroup<H>;
      this.checkGroup(g, gi, false);
      return g;
    });
    // Step counts.
    const steps = new Map<number, number>();
    for (const [key, entry] of Object.entries(meta.state ?? {})) {
      const i = Number(key);
      if (!Number.isInteger(i) || String(i) !== key || i < 0 || i >= params.length)
        throw new RangeError(`${who}: state entry '${key}' names no parameter (there are ${params.length})`);
      steps.set(i, checkInteger(who, `state ${key} step`, entry?.step, 0));
    }
    // Tensors, checked against their parameters.
    const buffers = new Map<number, Record<string, Tensor>>();
    for (const [key, t] of Object.entries(saved.tensors)) {
      const m = STATE_KEY.exec(key);
      if (!m) throw new RangeError(`${who}: tensor key '${key}' is not of the form state.<paramIndex>.<name>`);
      const i = Number(m[1]);
      const name = m[2]!;
      if (i >= params.length) throw new RangeError(`${who}: tensor '${key}' names parameter ${i}, but there are ${params.length}`);
      if (!this.stateNames.includes(name))
        throw new RangeError(`${who}: tensor '${key}': ${this.name} has no state named '${name}' (it has ${this.stateNames.join(', ') || 'none'})`);
      if (!steps.has(i)) throw new RangeError(`${who}: tensor '${key}' belongs to parameter ${i}, which has no step count in meta.state`);
      const p = params[i]!;
      if (!(t instanceof Tensor)) throw new TypeError(`${who}: '${key}' is not a Tensor`);
      if (!shapesEqual(t.shape, p.shape) || t.dtype !== p.dtype) {
        throw new RangeError(`${who}: tensor '${key}' is ${shapeStr(t.shape)} ${t.dtype}, but parameter ${i} is ${shapeStr(p.shape)} ${p.dtype}`);
      }
      let b = buffers.get(i);
      if (!b) buffers.set(i, (b = {}));
      b[name] = t;
    }
    const groupOf: ParamGroup<H>[] = groups.flatMap((g) => g.params.map(() => g));
    for (const [i, step] of steps) {
      if (step === 0) continue;
      for (const name of this.requiredStateFor(groupOf[i]!)) {
        if (!buffers.get(i)?.[name]) throw new RangeError(`${who}: parameter ${i} has taken ${step} steps but the state has no tensor 'state.${i}.${name}'`);
      }
    }
    // Everything checked: replace.
    for (const st of this.state.values()) for (const b of Object.values(st.buffers)) b.dispose();
    this.state.clear();
    for (const [i, step] of steps) {
      const copies: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(buffers.get(i) ?? {})) copies[name] = keep(copyTensor(t));
      this.state.set(params[i]!, { step, buffers: copies });
    }
    // Groups are updated in place, so references to them stay valid.
    groups.forEach((g, gi) => {
      const group = this.paramGroups[gi] as unknown as Record<string, unknown>;
      for (const k of Object.keys(group)) if (k !== 'params') delete group[k];
      Object.assign(group, g);
    });
  }
}
