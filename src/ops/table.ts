/**
 * Every primitive op in one table, typed so that an op named in OpAttrs without a definition does
 * not compile. Tests walk it to check that each differentiable op has a gradient check.
 */
import { convOps } from './conv.js';
import { crossEntropyOps } from './cross-entropy.js';
import { binaryOps, unaryOps, whereOps } from './elementwise.js';
import { matmulOps } from './matmul.js';
import { movementOps } from './movement.js';
import { reduceOps } from './reduce.js';
import type { OpTable } from './run.js';
import { addPerExample, indexSelectPerExample, matmulPerExample, mulPerExample, subPerExample } from './per-example.js';
import type { OpName, PerExampleTable } from './types.js';

export const OPS: OpTable<OpName> = { ...unaryOps, ...binaryOps, ...whereOps, ...reduceOps, ...matmulOps, ...movementOps, ...convOps, ...crossEntropyOps };

export const OP_NAMES = Object.keys(OPS) as OpName[];

export function isDifferentiable(name: OpName): boolean {
  return OPS[name].backward !== null;
}

/**
 * Per-example gradient rules by op (ops/per-example.ts): how an op one of whose inputs is a
 * parameter forms each example's gradient of it. Every op is listed, so adding an op without
 * deciding (a rule, or null: its parameters take the one-backward-per-example fallback) does
 * not compile. Ops that only pass a parameter along (reshape) are followed by the engine.
 */
export const PER_EXAMPLE: PerExampleTable<OpName> = {
  matmul: matmulPerExample,
  add: addPerExample,
  sub: subPerExample,
  mul: mulPerExample,
  indexSelect: indexSelectPerExample,
  neg: null,
  exp: null,
  log: null,
  log1p: null,
  sqrt: null,
  abs: null,
  sign: null,
  relu: null,
  sigmoid: null,
  tanh: null,
  erf: null,
  sin: null,
  cos: null,
  div: null,
  pow: null,
  maximum: null,
  minimum: null,
  reluBackward: null,
  eq: null,
  ne: null,
  lt: null,
  le: null,
  gt: null,
  ge: null,
  where: null,
  cast: null,
  sum: null,
  max: null,
  min: null,
  argmax: null,
  argmin: null,
  reshape: null,
  clone: null,
  permute: null,
  expand: null,
  slice: null,
  pad: null,
  concat: null,
  gather: null,
  scatterAdd: null,
  indexAdd: null,
  im2col: null,
  col2im: null,
  windowArgmax: null,
  softmaxCrossEntropy: null,
  softmaxCrossEntropyGrad: null,
};
