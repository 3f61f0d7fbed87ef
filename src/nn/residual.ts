/** Residual: a skip connection, y = f(x) + x (or + shortcut(x)), inside the module system. */
import { shapeStr, shapesEqual } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { add } from '../ops/index.js';
import { Module } from './module.js';

export interface ResidualOptions {
  /**
   * Applied to x on the skip path when f changes the shape (a 1x1 Conv2d or a Linear projection,
   * He et al. 2016); default: the identity.
   */
  shortcut?: Module;
}

/**
 * y = body(x) + x, or body(x) + shortcut(x). The gradient reaches x along both paths and is summed:
 * dL/dx = dL/dy (d body / dx) + dL/dy. Parameters are named 'body.*' and 'shortcut.*'.
 */
export class Residual extends Module {
  readonly body: Module;
  readonly shortcut: Module | null;

  constructor(body: Module, options: ResidualOptions = {}) {
    super();
    this.body = this.registerModule('body', body);
    this.shortcut = options.shortcut ? this.registerModule('shortcut', options.shortcut) : null;
  }

  forward(x: Tensor): Tensor {
    const fx = this.body.forward(x);
    const skip = this.shortcut ? this.shortcut.forward(x) : x;
    if (!shapesEqual(fx.shape, skip.shape)) {
      throw new RangeError(
        `Residual: the body gives ${shapeStr(fx.shape)} but the skip path gives ${shapeStr(skip.shape)} for input ${shapeStr(x.shape)}; pass a shortcut that maps x to the body's shape`,
      );
    }
    return add(fx, skip);
  }
}
