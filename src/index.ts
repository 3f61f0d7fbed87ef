/** Descent: tensors, reverse-mode autodiff and mini-batch training in TypeScript. */
export type { DType, TypedArray } from './core/dtype.js';
export type { Shape } from './core/shape.js';
export { broadcastShapes } from './core/shape.js';
export { Generator, manualSeed, defaultGenerator } from './core/random.js';
export type { RngState } from './core/random.js';
export { Tensor, scope, keep, isTensor } from './core/tensor.js';
export type { NestedArray } from './core/tensor.js';
export { memory, resetPeakMemory } from './core/storage.js';
export type { MemoryInfo } from './core/storage.js';
export { noGrad, enableGrad, isGradEnabled } from './core/grad-mode.js';
export { setBackend, getBackend, registerBackend, listBackends } from './backend/index.js';
export type { Backend } from './backend/index.js';
export * from './ops/index.js';
export * from './autograd/index.js';
