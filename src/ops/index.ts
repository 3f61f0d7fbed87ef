export * from './creation.js';
export * from './elementwise.js';
export * from './reduce.js';
export * from './movement.js';
export * from './matmul.js';
export * from './activation.js';
export { OPS, OP_NAMES, isDifferentiable } from './table.js';
export type { OpAttrs, OpName } from './types.js';
export type { OpDef, BackwardCtx } from './run.js';
