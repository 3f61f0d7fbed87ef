/**
 * The ONNX form of each primitive op, for layers that have no rule of their own (a user's Module
 * whose forward calls ops directly): their forward is traced on the tape and each recorded op is
 * written with its entry here. Typed over the op-name union, like the op table: an op added
 * without a decision here (a rule, or null for "no ONNX form") does not compile.
 *
 * Shapes recorded on the tape are the example's; where the batch axis appears (Reshape, Expand,
 * Slice) the rules write it so that another batch size still runs: Reshape copies axis 0 when it
 * keeps it (ONNX's 0), Expand writes 1 for axes it leaves alone (ONNX broadcasts them), Slice
 * lists only the axes it cuts.
 */
import type { DType } from '../../core/dtype.js';
import type { Tensor } from '../../core/tensor.js';
import type { OpAttrs, OpName } from '../../ops/index.js';
import type { OnnxGraphBuilder } from './graph-builder.js';
import { intAttr, intsAttr } from './graph-builder.js';
import { ONNX_BOOL, ONNX_DOUBLE, ONNX_FLOAT, ONNX_INT32 } from './model-proto.js';

/** One recorded op: the builder, the node-name prefix, its inputs' names in the graph, its attributes and tensors. */
export interface OpEmit<A> {
  b: OnnxGraphBuilder;
  path: string;
  inputs: string[];
  attrs: A;
  tensors: readonly Tensor[];
  out: Tensor;
}

export type OnnxOpRule<A> = (e: OpEmit<A>) => string;

const ELEM: Record<DType, number> = { float32: ONNX_FLOAT, float64: ONNX_DOUBLE, int32: ONNX_INT32 };

const node =
  (opType: string) =>
  (e: OpEmit<unknown>): string =>
    e.b.node(e.path, opType, e.inputs);

/** Descent's comparisons give 1/0 in the inputs' dtype; ONNX's give BOOL. */
const compare =
  (opType: string, not = false) =>
  (e: OpEmit<unknown>): string => {
    let r = e.b.node(e.path, opType, e.inputs);
    if (not) r = e.b.node(e.path, 'Not', [r]);
    return e.b.node(e.path, 'Cast', [r], [intAttr('to', ELEM[e.out.dtype])]);
  };

function reduce(opType: 'ReduceSum' | 'ReduceMax' | 'ReduceMin'): OnnxOpRule<OpAttrs['sum']> {
  return (e) => {
    const { axes, keepdims } = e.attrs;
    if (axes.length === 0) return e.b.node(e.path, 'Identity', e.inputs);
    const keep = intAttr('keepdims', keepdims ? 1 : 0);
    // opset 13+: ReduceSum takes its axes as an input; ReduceMax and ReduceMin as an attribute until opset 18
    if (opType === 'ReduceSum') return e.b.node(e.path, opType, [e.inputs[0]!, e.b.int64s(`${e.path}/axes`, axes)], [keep]);
    return e.b.node(e.path, opType, e.inputs, [intsAttr('axes', axes), keep]);
  };
}

function argReduce(opType: 'ArgMax' | 'ArgMin'): OnnxOpRule<OpAttrs['argmax']> {
  return (e) => {
    let x = e.inputs[0]!,
      axis = e.attrs.axis;
    if (axis === null) {
      x = e.b.node(e.path, 'Reshape', [x, e.b.int64s(`${e.path}/flat`, [-1])]);
      axis = 0;
    }
    const r = e.b.node(e.path, opType, [x], [intAttr('axis', axis), intAttr('keepdims', e.attrs.keepdims ? 1 : 0)]);
    return e.b.node(e.path, 'Cast', [r], [intAttr('to', ONNX_INT32)]);
  };
}

function matmulRule(e: OpEmit<OpAttrs['matmul']>): string {
  const swap = (name: string, t: Tensor) => {
    const perm = t.shape.map((_, i) => i);
    [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1]!, perm[t.rank - 2]!];
    return e.b.node(e.path, 'Transpose', [name], [intsAttr('perm', perm)]);
  };
  const a = e.attrs.transA ? swap(e.inputs[0]!, e.tensors[0]!) : e.inputs[0]!;
  const b = e.attrs.transB ? swap(e.inputs[1]!, e.tensors[1]!) : e.inputs[1]!;
  return e.b.node(e.path, 'MatMul', [a, b]);
}

function reshapeRule(e: OpEmit<OpAttrs['reshape']>): string {
  const x = e.tensors[0]!;
  const target = [...e.attrs.shape];
  if (x.rank > 0 && target.length > 0 && x.shape[0] === target[0]) target[0] = 0; // keep the batch axis as it comes
  return e.b.node(e.path, 'Reshape', [e.inputs[0]!, e.b.int64s(`${e.path}/shape`, target)]);
}

function expandRule(e: OpEmit<OpAttrs['expand']>): string {
  const x = e.tensors[0]!;
  const lead = e.attrs.shape.length - x.rank;
  const shape = e.attrs.shape.map((d, i) => (i >= lead && x.shape[i - lead] === d ? 1 : d));
  return e.b.node(e.path, 'Expand', [e.inputs[0]!, e.b.int64s(`${e.path}/shape`, shape)]);
}

function sliceRule(e: OpEmit<OpAttrs['slice']>): string {
  const x = e.tensors[0]!;
  const axes = x.shape.map((_, i) => i).filter((i) => e.attrs.begin[i] !== 0 || e.attrs.end[i] !== x.shape[i]);
  if (axes.length === 0) return e.b.node(e.path, 'Identity', e.inputs);
  const pick = (v: number[]) => axes.map((a) => v[a]!);
  return e.b.node(e.path, 'Slice', [
    e.inputs[0]!,
    e.b.int64s(`${e.path}/starts`, pick(e.attrs.begin)),
    e.b.int64s(`${e.path}/ends`, pick(e.attrs.end)),
    e.b.int64s(`${e.path}/axes`, axes),
  ]);
}

function padRule(e: OpEmit<OpAttrs['pad']>): string {
  const pads = [...e.attrs.pads.map((p) => p[0]), ...e.attrs.pads.map((p) => p[1])];
  const value = e.b.floats(`${e.path}/value`, [e.attrs.value], []);
  return e.b.node(e.path, 'Pad', [e.inputs[0]!, e.b.int64s(`${e.path}/pads`, pads), value], [{ name: 'mode', s: 'constant' }]);
}

/** Every op's ONNX form, or null where it has none (those are named in the error). */
export const ONNX_OP_RULES: { [K in OpName]: OnnxOpRule<OpAttrs[K]> | null } = {
  neg: node('Neg'),
  exp: node('Exp'),
  log: node('Log'),
  log1p: (e) => e.b.node(e.path, 'Log', [e.b.node(e.path, 'Add', [e.inputs[0]!, e.b.floats(`${e.path}/one`, [1], [])])]),
  sqrt: node('Sqrt'),
  abs: node('Abs'),
  sign: node('Sign'),
  relu: node('Relu'),
  sigmoid: node('Sigmoid'),
  tanh: node('Tanh'),
  erf: node('Erf'),
  sin: node('Sin'),
  cos: node('Cos'),
  add: node('Add'),
  sub: node('Sub'),
  mul: node('Mul'),
  div: node('Div'),
  pow: node('Pow'),
  maximum: node('Max'),
  minimum: node('Min'),
  reluBackward: null,
  eq: compare('Equal'),
  ne: compare('Equal', true),
  lt: compare('Less'),
  le: compare('LessOrEqual'),
  gt: compare('Greater'),
  ge: compare('GreaterOrEqual'),
  where: (e) => e.b.node(e.path, 'Where', [e.b.node(e.path, 'Cast', [e.inputs[0]!], [intAttr('to', ONNX_BOOL)]), e.inputs[1]!, e.inputs[2]!]),
  cast: (e) => e.b.node(e.path, 'Cast', e.inputs, [intAttr('to', ELEM[e.attrs.dtype])]),
  sum: reduce('ReduceSum'),
  max: reduce('ReduceMax'),
  min: reduce('ReduceMin'),
  argmax: argReduce('ArgMax'),
  argmin: argReduce('ArgMin'),
  matmul: matmulRule,
  reshape: reshapeRule,
  clone: node('Identity'),
  permute: (e) => e.b.node(e.path, 'Transpose', e.inputs, [intsAttr('perm', e.attrs.perm)]),
  expand: expandRule,
  slice: sliceRule,
  pad: padRule,
  concat: (e) => e.b.node(e.path, 'Concat', e.inputs, [intAttr('axis', e.attrs.axis)]),
  gather: (e) => e.b.node(e.path, 'GatherElements', e.inputs, [intAttr('axis', e.attrs.axis)]),
  scatterAdd: null,
  indexSelect: (e) => e.b.node(e.path, 'Gather', e.inputs, [intAttr('axis', e.attrs.axis)]),
  indexAdd: null,
  im2col: null,
  col2im: null,
  windowArgmax: null,
  // losses are not part of an exported model
  softmaxCrossEntropy: null,
  softmaxCrossEntropyGrad: null,
};
