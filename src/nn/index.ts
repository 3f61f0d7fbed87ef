/** Neural-network layers, initialisers and losses. */
export { Module } from './module.js';
export type { LoadStateDictResult } from './module.js';
export { Linear, Dropout, Dropout2d, AlphaDropout, Flatten, Unflatten } from './layers.js';
export { Conv2d } from './conv.js';
export type { Conv2dLayerOptions } from './conv.js';
export { MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, GlobalAvgPool2d } from './pooling.js';
export { BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm } from './norm.js';
export type { BatchNormOptions, LayerNormOptions, GroupNormOptions } from './norm.js';
export { SyncBatchNorm } from './sync-norm.js';
export type { SyncBatchNormOptions } from './sync-norm.js';
export { Embedding } from './embedding.js';
export type { EmbeddingOptions } from './embedding.js';
export { Residual } from './residual.js';
export type { ResidualOptions } from './residual.js';
export type { LinearOptions } from './layers.js';
export { ReLU, LeakyReLU, ELU, GELU, Sigmoid, Tanh, Softplus, Softmax, LogSoftmax, Identity } from './activations.js';
export { Sequential, mlp } from './container.js';
export type { ActivationName, MlpOptions } from './container.js';
// Initialisers live in a namespace (init.zeros, init.kaimingUniform, ...): their names would
// otherwise clash with the tensor-making ops zeros, uniform, ...
import * as init from './init.js';
export { init };
export type { Nonlinearity, FanMode, InitOptions, KaimingOptions } from './init.js';
export { mseLoss, l1Loss, huberLoss, smoothL1Loss, binaryCrossEntropy, binaryCrossEntropyWithLogits, klDiv, hingeLoss } from './losses.js';
export type { KlReduction } from './losses.js';
export { crossEntropy, nllLoss, multiMarginLoss } from './classification.js';
export type { ClassWeightOptions, CrossEntropyOptions } from './classification.js';
export type { Reduction, ReductionOptions } from './reduction.js';
export { ACTIVATIONS, ACTIVATION_CHOICES, LOSSES, LOSS_NAMES } from './registry.js';
export type { LossName } from './registry.js';
