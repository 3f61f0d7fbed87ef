/**
 * ONNX operators as Descent ops, one entry per operator type (opset 13-17 semantics, the ones
 * torch.onnx.export writes at opset 17). Every entry is written with differentiable Descent ops,
 * so an imported model trains. Shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat chains
 * that PyTorch writes for `x.view(x.size(0), -1)`) runs on plain integer arrays (`Ints`), never on
 * the tape. Inference forms: BatchNormalization uses its running statistics and Dropout is the
 * identity, whether or not the module is training.
 */
import { shapeStr } from '../../core/shape.js';
import { Tensor } from '../../core/tensor.js';
import {
  abs,
  add,
  argmax,
  argmin,
  cos,
  eq,
  expand,
  gather,
  ge,
  gt,
  le,
  lt,
  max,
  maximum,
  min,
  minimum,
  ne,
  sign,
  sin,
  sum,
  where,
  cast,
  concat,
  conv2d,
  div,
  elu,
  erf,
  exp,
  indexSelect,
  leakyRelu,
  log,
  logSoftmax,
  matmul,
  maxPool2d,
  avgPool2d,
  mean,
  mul,
  neg,
  pad,
  padSpatial,
  permute,
  pow,
  relu,
  reshape,
  rsqrt,
  sigmoid,
  slice,
  softmax,
  softplus,
  sqrt,
  sub,
  tanh,
  tensor,
} from '../../ops/index.js';
import type { OnnxAttribute, OnnxNode, OnnxTensor } from './model-proto.js';
import { dataTypeName, ONNX_BOOL, ONNX_DOUBLE, ONNX_FLOAT, ONNX_INT32, ONNX_INT64 } from './model-proto.js';

/** Integers computed in plain JS (shapes, axes, indices), with their ONNX dims. */
export interface Ints {
  ints: number[];
  dims: number[];
}

export type Value = Tensor | Ints;

export function isInts(v: Value | undefined): v is Ints {
  return v !== undefined && !(v instanceof Tensor);
}

/** What an operator's function gets: its node, its inputs (undefined where omitted) and errors that name the node. */
export interface OpCall {
  node: OnnxNode;
  inputs: (Value | undefined)[];
  /** `node N (Op 'name')`, for error messages. */
  where: string;
  /** The model's float type, for constants. */
  floatType: 'float32' | 'float64';
}

export class OnnxImportError extends Error {}

function attr(c: OpCall, name: string): OnnxAttribute | undefined {
  return c.node.attributes.find((a) => a.name === name);
}
const attrInt = (c: OpCall, name: string, dflt: number): number => attr(c, name)?.i ?? dflt;
const attrFloat = (c: OpCall, name: string, dflt: number): number => attr(c, name)?.f ?? dflt;
const attrInts = (c: OpCall, name: string): number[] | undefined => attr(c, name)?.ints;

function fail(c: OpCall, why: string): never {
  throw new OnnxImportError(`importOnnx: ${c.where}: ${why}`);
}

/** Input i as a tensor (integers become a tensor of the model's float type, as broadcast operands). */
function t(c: OpCall, i: number): Tensor {
  const v = c.inputs[i];
  if (v === undefined) fail(c, `input ${i} is missing`);
  if (isInts(v)) return tensor(v.ints, { shape: v.dims, dtype: c.floatType });
  return v;
}

/** Input i as integers (a shape or axes); a tensor here would be data where ONNX expects a constant. */
function ints(c: OpCall, i: number): Ints {
  const v = c.inputs[i];
  if (v === undefined) fail(c, `input ${i} is missing`);
  if (!isInts(v)) fail(c, `input ${i} ('${c.node.inputs[i]}') must be integers computed from constants and shapes, got a ${v.dtype} tensor`);
  return v;
}

/** An ONNX tensor as a Value: floats as a Tensor, integers as Ints. */
export function fromOnnxTensor(ot: OnnxTensor, what: string): Value {
  if (ot.dataType === ONNX_FLOAT || ot.dataType === ONNX_DOUBLE)
    return tensor(ot.dataType === ONNX_FLOAT ? Float32Array.from(ot.data) : Float64Array.from(ot.data), { shape: ot.dims });
  if (ot.dataType === ONNX_INT64 || ot.dataType === ONNX_INT32) return { ints: Array.from(ot.data), dims: [...ot.dims] };
  throw new OnnxImportError(`importOnnx: ${what}: type ${dataTypeName(ot.dataType)} is not supported`);
}

const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

function intsBinary(a: Ints, b: Ints, f: (x: number, y: number) => number): Ints {
  if (a.ints.length === 1 || b.ints.length === 1 || a.ints.length === b.ints.length) {
    const n = Math.max(a.ints.length, b.ints.length);
    const at = (v: Ints, i: number) => v.ints[v.ints.length === 1 ? 0 : i]!;
    return { ints: Array.from({ length: n }, (_, i) => Math.trunc(f(at(a, i), at(b, i)))), dims: a.ints.length >= b.ints.length ? a.dims : b.dims };
  }
  throw new OnnxImportError(`importOnnx: integer arrays of ${a.ints.length} and ${b.ints.length} values do not broadcast`);
}

function binary(f: (a: Tensor, b: Tensor) => Tensor, g: (x: number, y: number) => number): OpFn {
  return (c) => {
    const [a, b] = c.inputs;
    if (isInts(a) && isInts(b)) return intsBinary(a, b, g);
    return f(t(c, 0), t(c, 1));
  };
}

const unary =
  (f: (x: Tensor) => Tensor): OpFn =>
  (c) =>
    f(t(c, 0));

export type OpFn = (c: OpCall) => Value;

function gemm(c: OpCall): Value {
  const alpha = attrFloat(c, 'alpha', 1),
    beta = attrFloat(c, 'beta', 1);
  let y = matmul(t(c, 0), t(c, 1), { transA: attrInt(c, 'transA', 0) === 1, transB: attrInt(c, 'transB', 0) === 1 });
  if (alpha !== 1) y = mul(y, alpha);
  if (c.inputs[2] !== undefined) y = add(y, beta === 1 ? t(c, 2) : mul(t(c, 2), beta));
  return y;
}

/** ONNX pads [x1_begin, x2_begin, ..., x1_end, x2_end] of the two spatial axes as [top, bottom, left, right]. */
function spatialPads(c: OpCall): [number, number, number, number] {
  const autoPad = attr(c, 'auto_pad')?.s ?? 'NOTSET';
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') fail(c, `auto_pad ${autoPad} is not supported (expected NOTSET with explicit pads, or VALID)`);
  const p = attrInts(c, 'pads') ?? [0, 0, 0, 0];
  if (p.length !== 4) fail(c, `expected 4 pads for a 2-D window, got [${p.join(', ')}]`);
  return [p[0]!, p[2]!, p[1]!, p[3]!];
}

function window(c: OpCall, x: Tensor): { kernel: [number, number]; stride: [number, number]; dilation: [number, number] } {
  if (x.rank !== 4) fail(c, `only 2-D windows on NCHW inputs are supported, got input ${shapeStr(x.shape)}`);
  if (attrInt(c, 'ceil_mode', 0) !== 0) fail(c, 'ceil_mode = 1 is not supported');
  const pair = (v: number[] | undefined, d: number): [number, number] => (v ? [v[0]!, v[1]!] : [d, d]);
  const kernel = attrInts(c, 'kernel_shape');
  return {
    kernel: kernel ? [kernel[0]!, kernel[1]!] : [0, 0],
    stride: pair(attrInts(c, 'strides'), 1),
    dilation: pair(attrInts(c, 'dilations'), 1),
  };
}

function conv(c: OpCall): Value {
  const x = t(c, 0),
    w = t(c, 1);
  const { stride, dilation } = window(c, x);
  const xp = padSpatial(x, spatialPads(c), 0);
  return conv2d(xp, w, c.inputs[2] === undefined ? null : t(c, 2), { stride, dilation, groups: attrInt(c, 'group', 1) });
}

function maxPool(c: OpCall): Value {
  const x = t(c, 0);
  const { kernel, stride, dilation } = window(c, x);
  if (c.node.outputs.length > 1 && c.node.outputs[1]) fail(c, 'the Indices output is not supported');
  return maxPool2d(padSpatial(x, spatialPads(c), -Infinity), kernel, { stride, dilation });
}

function averagePool(c: OpCall): Value {
  const x = t(c, 0);
  const { kernel, stride } = window(c, x);
  const [top, bottom, left, right] = spatialPads(c);
  const countIncludePad = attrInt(c, 'count_include_pad', 0) === 1;
  if (top === bottom && left === right) return avgPool2d(x, kernel, { stride, padding: [top, left], countIncludePad });
  if (!countIncludePad) fail(c, `uneven pads [${[top, left, bottom, right].join(', ')}] with count_include_pad = 0 are not supported`);
  return avgPool2d(padSpatial(x, [top, bottom, left, right], 0), kernel, { stride });
}

function perChannel(v: Tensor, rank: number): Tensor {
  return reshape(v, [v.size, ...new Array<number>(Math.max(rank - 2, 0)).fill(1)]);
}

function batchNorm(c: OpCall): Value {
  if (attrInt(c, 'training_mode', 0) !== 0) fail(c, 'training_mode = 1 is not supported (export the model in eval mode)');
  const x = t(c, 0);
  const r = x.rank;
  // y = (x - mean) / sqrt(var + eps) * scale + B, per channel (axis 1)
  const inv = rsqrt(add(perChannel(t(c, 4), r), attrFloat(c, 'epsilon', 1e-5)));
  return add(mul(sub(x, perChannel(t(c, 3), r)), mul(inv, perChannel(t(c, 1), r))), perChannel(t(c, 2), r));
}

function layerNorm(c: OpCall): Value {
  const x = t(c, 0);
  const start = norm(attrInt(c, 'axis', -1), x.rank);
  const axes = Array.from({ length: x.rank - start }, (_, i) => start + i);
  const m = mean(x, axes, true);
  const dx = sub(x, m);
  let y = mul(dx, rsqrt(add(mean(mul(dx, dx), axes, true), attrFloat(c, 'epsilon', 1e-5))));
  y = mul(y, t(c, 1));
  return c.inputs[2] === undefined ? y : add(y, t(c, 2));
}

function flattenOp(c: OpCall): Value {
  const x = t(c, 0);
  const a = norm(attrInt(c, 'axis', 1), x.rank);
  const lead = x.shape.slice(0, a).reduce((p, q) => p * q, 1);
  return reshape(x, [lead, x.size / lead]);
}

function reshapeOp(c: OpCall): Value {
  const x = c.inputs[0];
  const target = ints(c, 1).ints;
  const allowZero = attrInt(c, 'allowzero', 0) === 1;
  const shape = x instanceof Tensor ? x.shape : x ? x.dims : fail(c, 'input 0 is missing');
  const dims = target.map((d, i) => (d === 0 && !allowZero ? shape[i]! : d));
  if (isInts(x)) return { ints: x.ints, dims: dims.includes(-1) ? [x.ints.length] : dims };
  return reshape(t(c, 0), dims);
}

function shapeOp(c: OpCall): Value {
  const v = c.inputs[0];
  const s = v instanceof Tensor ? v.shape : v ? v.dims : fail(c, 'input 0 is missing');
  const start = norm(attrInt(c, 'start', 0), s.length),
    end = attr(c, 'end') ? norm(attrInt(c, 'end', s.length), s.length) : s.length;
  const out = s.slice(start, end);
  return { ints: [...out], dims: [out.length] };
}

function gatherOp(c: OpCall): Value {
  const data = c.inputs[0];
  const axisAttr = attrInt(c, 'axis', 0);
  if (isInts(data)) {
    const idx = ints(c, 1);
    if (data.dims.length > 1) fail(c, 'gathering from a multi-dimensional integer array is not supported');
    const n = data.ints.length;
    return { ints: idx.ints.map((i) => data.ints[i < 0 ? i + n : i]!), dims: idx.dims };
  }
  const x = t(c, 0);
  const axis = norm(axisAttr, x.rank);
  const iv = c.inputs[1];
  const index = isInts(iv)
    ? tensor(
        iv.ints.map((i) => (i < 0 ? i + x.shape[axis]! : i)),
        { shape: iv.dims, dtype: 'int32' },
      )
    : iv;
  if (!index || index.dtype !== 'int32') fail(c, 'indices must be integers');
  const rows = indexSelect(x, axis, reshape(index, [index.size]));
  return reshape(rows, [...x.shape.slice(0, axis), ...index.shape, ...x.shape.slice(axis + 1)]);
}

function axesOf(c: OpCall): number[] {
  return c.inputs[1] !== undefined ? ints(c, 1).ints : (attrInts(c, 'axes') ?? []);
}

function unsqueezeOp(c: OpCall): Value {
  const v = c.inputs[0];
  const axes = axesOf(c);
  if (isInts(v)) {
    const rank = v.dims.length + axes.length;
    const dims = [...v.dims];
    for (const a of axes.map((a) => norm(a, rank)).sort((p, q) => p - q)) dims.splice(a, 0, 1);
    return { ints: v.ints, dims };
  }
  const x = t(c, 0);
  const rank = x.rank + axes.length;
  const dims = [...x.shape];
  for (const a of axes.map((a) => norm(a, rank)).sort((p, q) => p - q)) dims.splice(a, 0, 1);
  return reshape(x, dims);
}

function squeezeOp(c: OpCall): Value {
  const v = c.inputs[0];
  const shape = v instanceof Tensor ? v.shape : v ? v.dims : fail(c, 'input 0 is missing');
  const axes = axesOf(c).map((a) => norm(a, shape.length));
  const dims = shape.filter((d, i) => (axes.length ? !axes.includes(i) : d !== 1));
  return isInts(v) ? { ints: v.ints, dims } : reshape(t(c, 0), dims);
}

function concatOp(c: OpCall): Value {
  const axis = attrInt(c, 'axis', 0);
  if (c.inputs.every(isInts)) {
    const all = c.inputs as Ints[];
    const out = all.flatMap((v) => v.ints);
    return { ints: out, dims: [out.length] };
  }
  return concat(
    c.inputs.map((_, i) => t(c, i)),
    axis,
  );
}

function padOp(c: OpCall): Value {
  const mode = attr(c, 'mode')?.s ?? 'constant';
  if (mode !== 'constant') fail(c, `mode '${mode}' is not supported (expected 'constant')`);
  const x = t(c, 0);
  const p = ints(c, 1).ints;
  if (c.inputs[3] !== undefined) fail(c, 'the axes input is not supported');
  const value = c.inputs[2] === undefined ? 0 : t(c, 2).item();
  const pairs = x.shape.map((_, i) => [p[i]!, p[i + x.rank]!] as const);
  if (pairs.some(([a, b]) => a < 0 || b < 0)) fail(c, `negative pads [${p.join(', ')}] are not supported`);
  return pairs.every(([a, b]) => a === 0 && b === 0) ? x : pad(x, pairs, value);
}

function sliceOp(c: OpCall): Value {
  const starts = ints(c, 1).ints,
    ends = ints(c, 2).ints;
  const v = c.inputs[0];
  const shape = v instanceof Tensor ? v.shape : v ? v.dims : fail(c, 'input 0 is missing');
  const axes = c.inputs[3] !== undefined ? ints(c, 3).ints.map((a) => norm(a, shape.length)) : starts.map((_, i) => i);
  if (c.inputs[4] !== undefined && ints(c, 4).ints.some((s) => s !== 1)) fail(c, 'steps other than 1 are not supported');
  const clampTo = (i: number, n: number) => Math.max(0, Math.min(n, i < 0 ? i + n : i));
  const ranges: ([number, number] | null)[] = shape.map(() => null);
  axes.forEach((a, k) => (ranges[a] = [clampTo(starts[k]!, shape[a]!), clampTo(ends[k]!, shape[a]!)]));
  if (isInts(v)) {
    if (v.dims.length !== 1) fail(c, 'slicing a multi-dimensional integer array is not supported');
    const [b, e] = ranges[0] ?? [0, v.ints.length];
    return { ints: v.ints.slice(b, e), dims: [Math.max(0, e - b)] };
  }
  return slice(t(c, 0), ranges);
}

function constantOp(c: OpCall): Value {
  const a = c.node.attributes[0];
  if (!a) fail(c, 'no value attribute');
  if (a.name === 'value' && a.t) return fromOnnxTensor(a.t, c.where);
  if (a.name === 'value_int') return { ints: [a.i!], dims: [] };
  if (a.name === 'value_ints') return { ints: a.ints!, dims: [a.ints!.length] };
  if (a.name === 'value_float') return tensor([a.f!], { shape: [], dtype: c.floatType });
  if (a.name === 'value_floats') return tensor(a.floats!, { dtype: c.floatType });
  return fail(c, `attribute '${a.name}' is not supported`);
}

function castOp(c: OpCall): Value {
  const to = attrInt(c, 'to', 0);
  const v = c.inputs[0];
  // BOOL values are kept as Descent keeps masks: 1 and 0 in a float tensor
  if (to === ONNX_BOOL) return isInts(v) ? { ints: v.ints.map((i) => (i !== 0 ? 1 : 0)), dims: v.dims } : ne(t(c, 0), 0);
  if (to === ONNX_INT64 || to === ONNX_INT32) {
    if (isInts(v)) return v;
    return cast(t(c, 0), 'int32');
  }
  if (to === ONNX_FLOAT || to === ONNX_DOUBLE) return cast(t(c, 0), to === ONNX_FLOAT ? 'float32' : 'float64');
  return fail(c, `cast to ${dataTypeName(to)} is not supported`);
}

/** ONNX's Expand broadcasts both ways: the output has the larger of each pair of sizes. */
function expandOp(c: OpCall): Value {
  const x = t(c, 0);
  const shape = ints(c, 1).ints;
  const rank = Math.max(x.rank, shape.length);
  const dim = (s: readonly number[], i: number) => s[i - (rank - s.length)] ?? 1;
  const out = Array.from({ length: rank }, (_, i) => Math.max(dim(x.shape, i), dim(shape, i)));
  return expand(x, out);
}

function reduceOp(f: typeof max): OpFn {
  return (c) => {
    const x = t(c, 0);
    // ReduceSum takes its axes as an input from opset 13, the others as an attribute until opset 18
    const axes = c.inputs[1] !== undefined ? ints(c, 1).ints : attrInts(c, 'axes');
    const all = x.shape.map((_, i) => i);
    return f(x, axes && axes.length ? axes.map((a) => norm(a, x.rank)) : all, attrInt(c, 'keepdims', 1) === 1);
  };
}

function argOp(f: typeof argmax): OpFn {
  return (c) => {
    if (attrInt(c, 'select_last_index', 0) !== 0) fail(c, 'select_last_index = 1 is not supported');
    return f(t(c, 0), attrInt(c, 'axis', 0), attrInt(c, 'keepdims', 1) === 1);
  };
}

function powOp(c: OpCall): Value {
  const e = c.inputs[1];
  if (e instanceof Tensor && e.size === 1 && e.item() === 2) return mul(t(c, 0), t(c, 0));
  return pow(t(c, 0), t(c, 1));
}

/** Every ONNX operator importOnnx reads. */
export const IMPORT_OPS: Readonly<Record<string, OpFn>> = {
  Add: binary(add, (a, b) => a + b),
  Sub: binary(sub, (a, b) => a - b),
  Mul: binary(mul, (a, b) => a * b),
  Div: binary(div, (a, b) => a / b),
  Pow: powOp,
  MatMul: (c) => matmul(t(c, 0), t(c, 1)),
  Gemm: gemm,
  Relu: unary(relu),
  Sigmoid: unary(sigmoid),
  Tanh: unary(tanh),
  Softplus: unary(softplus),
  Exp: unary(exp),
  Log: unary(log),
  Sqrt: unary(sqrt),
  Neg: unary(neg),
  Abs: unary(abs),
  Erf: unary(erf),
  LeakyRelu: (c) => leakyRelu(t(c, 0), attrFloat(c, 'alpha', 0.01)),
  Elu: (c) => elu(t(c, 0), attrFloat(c, 'alpha', 1)),
  Softmax: (c) => softmax(t(c, 0), attrInt(c, 'axis', -1)),
  LogSoftmax: (c) => logSoftmax(t(c, 0), attrInt(c, 'axis', -1)),
  Conv: conv,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: (c) => mean(t(c, 0), [2, 3], true),
  BatchNormalization: batchNorm,
  LayerNormalization: layerNorm,
  ReduceMean: (c) => mean(t(c, 0), attrInts(c, 'axes'), attrInt(c, 'keepdims', 1) === 1),
  Flatten: flattenOp,
  Reshape: reshapeOp,
  Shape: shapeOp,
  Gather: gatherOp,
  Unsqueeze: unsqueezeOp,
  Squeeze: squeezeOp,
  Concat: concatOp,
  Transpose: (c) => {
    const x = t(c, 0);
    return permute(x, attrInts(c, 'perm') ?? x.shape.map((_, i) => x.rank - 1 - i));
  },
  Pad: padOp,
  Slice: sliceOp,
  Constant: constantOp,
  Cast: castOp,
  Equal: binary(eq, (a, b) => (a === b ? 1 : 0)),
  Less: binary(lt, (a, b) => (a < b ? 1 : 0)),
  LessOrEqual: binary(le, (a, b) => (a <= b ? 1 : 0)),
  Greater: binary(gt, (a, b) => (a > b ? 1 : 0)),
  GreaterOrEqual: binary(ge, (a, b) => (a >= b ? 1 : 0)),
  Not: (c) => sub(1, t(c, 0)),
  Where: (c) => where(t(c, 0), t(c, 1), t(c, 2)),
  Max: binary(maximum, Math.max),
  Min: binary(minimum, Math.min),
  Sign: unary(sign),
  Sin: unary(sin),
  Cos: unary(cos),
  ReduceSum: reduceOp(sum),
  ReduceMax: reduceOp(max),
  ReduceMin: reduceOp(min),
  ArgMax: argOp(argmax),
  ArgMin: argOp(argmin),
  Expand: expandOp,
  GatherElements: (c) => {
    const x = t(c, 0);
    return gather(x, norm(attrInt(c, 'axis', 0), x.rank), t(c, 1));
  },
  Identity: (c) => c.inputs[0] ?? fail(c, 'input 0 is missing'),
  Dropout: (c) => c.inputs[0] ?? fail(c, 'input 0 is missing'),
};
