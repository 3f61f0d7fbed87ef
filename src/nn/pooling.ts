/** Pooling layers over the spatial axes of NCHW tensors [N, C, H, W]. */
import type { Tensor } from '../core/tensor.js';
import type { AvgPoolOptions, Pair, PoolOptions } from '../ops/index.js';
import { adaptiveAvgPool2d, avgPool2d, globalAvgPool2d, maxPool2d } from '../ops/index.js';
import { Module } from './module.js';

/** Maximum over each kernel window (stride defaults to the kernel size); gradient to the maximum. */
export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: PoolOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.options);
  }
  protected override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}, stride=${JSON.stringify(this.options.stride ?? this.kernelSize)}, padding=${JSON.stringify(this.options.padding ?? 0)}`;
  }
}

/** Mean over each kernel window (stride defaults to the kernel size). */
export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: AvgPoolOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.options);
  }
  protected override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}, stride=${JSON.stringify(this.options.stride ?? this.kernelSize)}, padding=${JSON.stringify(this.options.padding ?? 0)}`;
  }
}

/** Average pooling to a fixed output size [oh, ow], whatever the input size (PyTorch's bins). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
  protected override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}

/** Mean of each channel over its whole plane: [N, C, H, W] to [N, C] (pooling and flattening at once). */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    return globalAvgPool2d(x);
  }
}
