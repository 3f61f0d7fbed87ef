/**
 * For tests only: the package root, the `descent/node` entry and the few internals that tests check
 * directly (the op table, relu's backward kernel, the im2col/col2im/windowArgmax helpers), as one
 * namespace. None of these extra names is public API: see public-api.test.ts for what is.
 */
export * from '../../src/index.js';
export * from '../../src/node/index.js';
export { OP_NAMES, isDifferentiable } from '../../src/ops/table.js';
export type { OpName } from '../../src/ops/types.js';
export { reluBackward } from '../../src/ops/elementwise.js';
export { im2col, col2im, windowArgmax } from '../../src/ops/conv.js';
export { softmaxCrossEntropy, softmaxCrossEntropyGrad } from '../../src/ops/cross-entropy.js';
