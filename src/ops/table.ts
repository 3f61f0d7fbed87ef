/**
 * Every primitive op in one table, typed so that an op named in OpAttrs without a definition does
 * not compile. Tests walk it to check that each differentiable op has a gradient check.
 */
import { convOps } from './conv.js';
import { binaryOps, unaryOps, whereOps } from './elementwise.js';
import { matmulOps } from './matmul.js';
import { movementOps } from './movement.js';
import { reduceOps } from './reduce.js';
import type { OpTable } from './run.js';
import type { OpName } from './types.js';

export const OPS: OpTable<OpName> = { ...unaryOps, ...binaryOps, ...whereOps, ...reduceOps, ...matmulOps, ...movementOps, ...convOps };

export const OP_NAMES = Object.keys(OPS) as OpName[];

export function isDifferentiable(name: OpName): boolean {
  return OPS[name].backward !== null;
}
