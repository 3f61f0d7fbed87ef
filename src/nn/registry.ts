/**
 * The activations and losses, by name: one list that callers (the CLI's --activation, --config
 * files, help text) derive their choices from, so none of them can drift from the library.
 */
import type { Tensor } from '../core/tensor.js';
import { crossEntropy, multiMarginLoss, nllLoss } from './classification.js';
import { ACTIVATION_NAMES, activationModule, type ActivationName } from './container.js';
import { binaryCrossEntropy, binaryCrossEntropyWithLogits, hingeLoss, huberLoss, l1Loss, mseLoss, smoothL1Loss } from './losses.js';
import type { Module } from './module.js';
import type { ReductionOptions } from './reduction.js';

export type { ActivationName } from './container.js';

/** Activation name -> a new module of it (the names mlp() and layer specs accept). */
export const ACTIVATIONS: { readonly [K in ActivationName]: () => Module } = Object.fromEntries(
  ACTIVATION_NAMES.map((name) => [name, () => activationModule(name)!]),
) as { [K in ActivationName]: () => Module };

/** A loss taking (prediction, target, { reduction }): mean over the batch unless told otherwise. */
export type LossFn = (input: Tensor, target: Tensor, options?: ReductionOptions) => Tensor;

export type LossName =
  | 'crossEntropy'
  | 'nllLoss'
  | 'multiMarginLoss'
  | 'mseLoss'
  | 'l1Loss'
  | 'huberLoss'
  | 'smoothL1Loss'
  | 'binaryCrossEntropy'
  | 'binaryCrossEntropyWithLogits'
  | 'hingeLoss';

/** Loss name (the function's own name) -> the loss, with its default options. */
export const LOSSES: { readonly [K in LossName]: LossFn } = {
  crossEntropy: (x, y, o) => crossEntropy(x, y, o),
  nllLoss: (x, y, o) => nllLoss(x, y, o),
  multiMarginLoss: (x, y, o) => multiMarginLoss(x, y, o),
  mseLoss: (x, y, o) => mseLoss(x, y, o),
  l1Loss: (x, y, o) => l1Loss(x, y, o),
  huberLoss: (x, y, o) => huberLoss(x, y, o),
  smoothL1Loss: (x, y, o) => smoothL1Loss(x, y, o),
  binaryCrossEntropy: (x, y, o) => binaryCrossEntropy(x, y, o),
  binaryCrossEntropyWithLogits: (x, y, o) => binaryCrossEntropyWithLogits(x, y, o),
  hingeLoss: (x, y, o) => hingeLoss(x, y, o),
};

export const LOSS_NAMES = Object.keys(LOSSES) as LossName[];
export const ACTIVATION_CHOICES: readonly ActivationName[] = ACTIVATION_NAMES;
