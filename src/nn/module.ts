/**
 * Module: the base class of every layer. A module owns parameters (tensors a gradient step
 * updates), buffers (state that is saved but not trained) and child modules, each registered
 * explicitly under a name. Names are joined with dots along the tree ('0.weight', 'fc1.bias'),
 * exactly as PyTorch's state_dict keys, so a state dict can be saved and loaded by name.
 *
 * Registered tensors are kept (they outlive every scope) and keep their identity for the life of
 * the module: training replaces their values with `assign`, so a gradient store or optimizer state
 * keyed by the parameter tensors stays valid.
 *
 * Fields register themselves, as PyTorch's __setattr__ does: assigning a Module to a field
 * (`this.fc = new Linear(3, 4)`) registers it as a child named after the field, and assigning a
 * Tensor registers it as a parameter (it must be float; Descent has no separate Parameter type, so
 * a tensor that should be saved but not trained goes through registerBuffer). A value already
 * registered (`this.weight = this.registerParameter('weight', w)`) is left as it is; assigning a
 * new Module or Tensor to a registered name replaces the registration in place. Modules or
 * tensors inside an array field cannot be followed that way: parameters() and stateDict() refuse
 * a module whose array field holds one that is not registered, naming the field.
 */
import { isFloat } from '../core/dtype.js';
import { shapeStr, shapesEqual } from '../core/shape.js';
import { keep, scope, Tensor } from '../core/tensor.js';
import { clone, tensor } from '../ops/index.js';
import { noGrad } from '../core/grad-mode.js';

/** What loadStateDict found: keys the module has that the dict lacks, and keys the dict has that the module lacks. */
export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Each module's raw object -> the proxy its constructor returned (what every caller holds). */
const PROXIES = new WeakMap<object, Module>();
/** The raw object behind a module's proxy (reading fields through a proxy is several times slower). */
const RAW: unique symbol = Symbol('descent.module.raw');

export abstract class Module {
  /** True while training (Dropout drops units); false after eval(). */
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  constructor() {
    Object.defineProperty(this, RAW, { value: this, enumerable: false });
    // Every assignment to a property of the module, and every class-field definition of a
    // subclass, reaches the defineProperty trap (a plain `this.x = v` on a proxy defines x on it);
    // reads are not trapped.
    const self = new Proxy(this, {
      defineProperty: (target, key, desc) => {
        if (typeof key === 'string' && 'value' in desc) target.adoptField(key, desc.value);
        return Reflect.defineProperty(target, key, desc);
      },
    });
    PROXIES.set(this, self);
    return self;
  }

  /** The layer's computation on a batch. */
  abstract forward(x: Tensor): Tensor;

  /** Set training mode on this module and every descendant. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode (train(false)): Dropout becomes the identity. */
  eval(): this {
    return this.train(false);
  }

  // ------------------------------------------------------------------------- registration --

  private checkName(kind: string, name: string): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new RangeError(`${this.constructor.name}.register${kind}: name must be a non-empty string without '.', got ${JSON.stringify(name)}`);
    }
    if (this.params.has(name) || this.buffers.has(name) || this.children.has(name)) {
      throw new RangeError(`${this.constructor.name}.register${kind}: the name '${name}' is already registered on this module`);
    }
  }

  /** Register a trainable tensor (float32 or float64) under `name`; it is kept alive. Returns it. */
  protected registerParameter(name: string, t: Tensor): Tensor {
    this.checkName('Parameter', name);
    if (!(t instanceof Tensor)) throw new TypeError(`${this.constructor.name}.registerParameter('${name}'): expected a Tensor`);
    if (!isFloat(t.dtype)) throw new TypeError(`${this.constructor.name}.registerParameter('${name}'): parameters must be float32 or float64, got ${t.dtype}`);
    this.params.set(name, keep(t));
    return t;
  }

  /** Register a non-trainable tensor (running statistics, counters) saved in the state dict; it is kept alive. */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.checkName('Buffer', name);
    if (!(t instanceof Tensor)) throw new TypeError(`${this.constructor.name}.registerBuffer('${name}'): expected a Tensor`);
    this.buffers.set(name, keep(t));
    return t;
  }

  /** Register a child module; its parameters appear under `name.`. Returns it. */
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.checkName('Module', name);
    if (!(m instanceof Module)) throw new TypeError(`${this.constructor.name}.registerModule('${name}'): expected a Module`);
    for (const [, d] of m.namedModules()) {
      if (d === this) throw new RangeError(`${this.constructor.name}.registerModule('${name}'): the module contains this one, which would make a cycle`);
    }
    this.children.set(name, m);
    return m;
  }

  /**
   * Put `m` in place of the child registered as `name` (same key, same place in the order), even
   * when `m` is already a child under another name (a layer used twice). For layer conversions
   * such as SyncBatchNorm.convertSyncBatchnorm.
   */
  protected replaceModule(name: string, m: Module): void {
    if (!this.children.has(name)) throw new RangeError(`${this.constructor.name}.replaceModule('${name}'): no child is registered under that name`);
    for (const [, d] of m.namedModules()) {
      if (d === this) throw new RangeError(`${this.constructor.name}.replaceModule('${name}'): the module contains this one, which would make a cycle`);
    }
    this.children.set(name, m);
  }

  /** A Tensor or Module assigned to field `key` (see the class comment); other values are plain fields. */
  private adoptField(key: string, value: unknown): void {
    const self = PROXIES.get(this)!;
    if (value instanceof Module) {
      if ([...this.children.values()].includes(value)) return;
      if (this.children.has(key)) {
        for (const [, d] of value.namedModules()) {
          if (d === self) throw new RangeError(`${this.constructor.name}.${key}: the module contains this one, which would make a cycle`);
        }
        this.children.set(key, value);
      } else if (this.params.has(key) || this.buffers.has(key)) {
        throw new TypeError(`${this.constructor.name}.${key}: cannot assign a Module to a registered ${this.params.has(key) ? 'parameter' : 'buffer'}`);
      } else {
        self.registerModule(key, value);
      }
    } else if (value instanceof Tensor) {
      if ([...this.params.values(), ...this.buffers.values()].includes(value)) return;
      if (this.params.has(key)) {
        if (!isFloat(value.dtype)) throw new TypeError(`${this.constructor.name}.${key}: parameters must be float32 or float64, got ${value.dtype}`);
        this.params.set(key, keep(value));
      } else if (this.buffers.has(key)) {
        this.buffers.set(key, keep(value));
      } else if (this.children.has(key)) {
        throw new TypeError(`${this.constructor.name}.${key}: cannot assign a Tensor to a registered child module`);
      } else if (!isFloat(value.dtype)) {
        throw new TypeError(
          `${this.constructor.name}.${key}: a tensor assigned to a field becomes a parameter, and parameters must be float32 or float64, got ${value.dtype}; to save it without training it, use this.${key} = this.registerBuffer('${key}', t)`,
        );
      } else {
        self.registerParameter(key, value);
      }
    }
  }

  /**
   * Refuse an array field holding a Module or Tensor that is not registered on this module: its
   * parameters would silently never reach the optimizer (PyTorch's plain-list pitfall).
   */
  private checkArrayFields(): void {
    let children: Set<Module> | undefined, tensors: Set<Tensor> | undefined;
    const raw = (this as unknown as { [RAW]: Record<string, unknown> })[RAW];
    for (const key of Object.keys(raw)) {
      const value = raw[key];
      if (!Array.isArray(value)) continue;
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        const lost =
          v instanceof Module
            ? !(children ??= new Set(this.children.values())).has(v)
            : v instanceof Tensor
              ? !(tensors ??= new Set([...this.params.values(), ...this.buffers.values()])).has(v)
              : false;
        if (lost) {
          const what = v instanceof Module ? `a ${v.constructor.name} that is not a registered child` : 'a Tensor that is not a registered parameter or buffer';
          throw new Error(
            `${this.constructor.name}: the field '${key}[${i}]' holds ${what}, so its parameters would never be trained or saved; register each one (this.registerModule('${key}${i}', m) / registerParameter), or hold the layers in an nn.Sequential`,
          );
        }
      }
    }
  }

  // ---------------------------------------------------------------------------- traversal --

  /** Direct children, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  /**
   * This module and every descendant, depth first in registration order, with dotted names (''
   * for this one). A module reachable along two paths is listed once, under its first name.
   */
  namedModules(): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const stack: [string, Module][] = [['', this]];
    while (stack.length) {
      const [prefix, m] = stack.pop()!;
      if (seen.has(m)) continue;
      seen.add(m);
      out.push([prefix, m]);
      const kids = [...m.children];
      for (let i = kids.length - 1; i >= 0; i--) stack.push([join(prefix, kids[i]![0]), kids[i]![1]]);
    }
    return out;
  }

  /** Every parameter with its dotted name; a tensor shared by two layers appears once. */
  namedParameters(): [string, Tensor][] {
    return this.collect((m) => m.params);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    return this.collect((m) => m.buffers);
  }

  /** Total number of trainable scalars (shared tensors counted once). */
  numParameters(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  private collect(pick: (m: Module) => Map<string, Tensor>): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      m.checkArrayFields();
      for (const [name, t] of pick(m)) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([join(prefix, name), t]);
      }
    }
    return out;
  }

  // --------------------------------------------------------------------------- state dicts --

  /**
   * Parameters and buffers by dotted name (PyTorch's order: each module's parameters, then its
   * buffers, then its children). The values are the live tensors, not copies: they follow later
   * updates, so copy them (or save them) if a snapshot is wanted. A tensor tied between two
   * layers appears under both names, so every layer finds its key when loading; one module
   * reachable along two paths is listed once, under its first name (see namedModules).
   */
  stateDict(): Record<string, Tensor> {
    const sd: Record<string, Tensor> = {};
    for (const [prefix, m] of this.namedModules()) {
      m.checkArrayFields();
      for (const [name, t] of m.params) sd[join(prefix, name)] = t;
      for (const [name, t] of m.buffers) sd[join(prefix, name)] = t;
    }
    return sd;
  }

  /**
   * Copy values from a state dict into this module's parameters and buffers (their identity is
   * kept: each gets a private copy of the value through `assign`). Every key is checked before
   * anything is copied, so a failed load changes nothing. A shape or dtype mismatch is always an
   * error; missing and unexpected keys are errors when `strict`, else they are returned.
   */
  loadStateDict(sd: Record<string, Tensor>, strict = true): LoadStateDictResult {
    sd = this.renameLegacyKeys(sd);
    const own = this.stateDict();
    const missingKeys = Object.keys(own).filter((k) => !Object.hasOwn(sd, k));
    const unexpectedKeys = Object.keys(sd).filter((k) => !Object.hasOwn(own, k));
    const name = this.constructor.name;
    if (strict && (missingKeys.length || unexpectedKeys.length)) {
      const parts: string[] = [];
      if (missingKeys.length) parts.push(`missing keys: ${missingKeys.map((k) => `'${k}'`).join(', ')}`);
      if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.map((k) => `'${k}'`).join(', ')}`);
      throw new RangeError(
        `${name}.loadStateDict: the state dict does not match the module (${parts.join('; ')}); pass strict = false to load the keys that match`,
      );
    }
    const pairs: [Tensor, Tensor][] = [];
    for (const [key, target] of Object.entries(own)) {
      if (!Object.hasOwn(sd, key)) continue;
      const src = sd[key];
      if (!(src instanceof Tensor)) throw new TypeError(`${name}.loadStateDict: the value for '${key}' is not a Tensor`);
      if (!shapesEqual(src.shape, target.shape) || src.dtype !== target.dtype) {
        throw new RangeError(
          `${name}.loadStateDict: '${key}' has shape ${shapeStr(src.shape)} ${src.dtype} in the state dict but ${shapeStr(target.shape)} ${target.dtype} in the module`,
        );
      }
      pairs.push([target, src]);
    }
    // A copy per entry, so later in-place changes to either side never reach the other.
    scope(() => {
      for (const [target, src] of pairs) {
        if (target === src) continue;
        // On one backend, a copy there (GPU memory is not read back); across backends, through the host.
        const same = src.storage.backend === target.storage.backend;
        target.assign(same ? noGrad(() => clone(src)) : tensor(src.dataSync(), { shape: src.shape, dtype: src.dtype }));
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Earlier names of this module's own parameters and buffers, old name -> current name, that
   * loadStateDict accepts (a layer whose keys were renamed overrides this). Empty by default.
   */
  protected legacyStateKeys(): Readonly<Record<string, string>> {
    return {};
  }

  /** `sd` with every legacy key of every module replaced by its current name (a key given under both names is an error). */
  private renameLegacyKeys(sd: Record<string, Tensor>): Record<string, Tensor> {
    let out: Record<string, Tensor> | null = null;
    for (const [prefix, m] of this.namedModules()) {
      for (const [old, current] of Object.entries(m.legacyStateKeys())) {
        const from = join(prefix, old),
          to = join(prefix, current);
        if (!Object.hasOwn(sd, from)) continue;
        if (Object.hasOwn(sd, to))
          throw new RangeError(`${this.constructor.name}.loadStateDict: the state dict has both '${to}' and its earlier name '${from}'; expected one of them`);
        out ??= Object.assign(Object.create(null) as Record<string, Tensor>, sd);
        out[to] = out[from]!;
        delete out[from];
      }
    }
    return out ?? sd;
  }

  // ------------------------------------------------------------------------------ printing --

  /** The arguments shown between the parentheses of this module's line (override in layers). */
  protected extraRepr(): string {
    return '';
  }

  /** A PyTorch-like tree of the modules, then the number of parameters. */
  toString(): string {
    return `${this.repr('')}\nParameters: ${this.numParameters().toLocaleString('en-US')}`;
  }

  private repr(indent: string): string {
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (this.children.size === 0) return `${head})`;
    const inner = indent + '  ';
    const lines = [...this.children].map(([n, m]) => `${inner}(${n}): ${m.repr(inner)}`);
    return `${head}\n${lines.join('\n')}\n${indent})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}
