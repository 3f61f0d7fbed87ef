/** Elementwise ops: one input, two broadcast inputs, where, and dtype casts. */
import type { BinaryOp, UnaryOp } from '../backend/index.js';
import type { DType } from '../core/dtype.js';
import { isFloat } from '../core/dtype.js';
import { broadcastShapes, broadcastStrides } from '../core/shape.js';
import { Tensor } from '../core/tensor.js';
import { scalar } from './creation.js';
import type { OpDef, OpTable } from './run.js';
import { apply } from './run.js';

export type TensorLike = Tensor | number;

// ------------------------------------------------------------------------------------ unary --

type UnaryName = UnaryOp;

function unaryDef(op: UnaryName, floatOnly: boolean, backward: OpDef<{}>['backward']): OpDef<{}> {
  return {
    infer([x]) {
      if (floatOnly && !isFloat(x!.dtype)) throw new TypeError(`${op}: expects a float32 or float64 tensor, got ${x!.dtype} (cast it first)`);
      return { shape: [...x!.shape], dtype: x!.dtype };
    },
    forward(b, [x], out) {
      b.unary(op, x!.storage, out);
    },
    backward,
  };
}

const SQRT_PI_OVER_2 = 2 / Math.sqrt(Math.PI);

export const unaryOps: OpTable<UnaryName> = {
  neg: unaryDef('neg', false, (g) => [neg(g)]),
  exp: unaryDef('exp', true, (g, { out }) => [mul(g, out)]), // d e^x = e^x
  log: unaryDef('log', true, (g, { inputs: [x] }) => [div(g, x!)]), // d log x = 1/x
  log1p: unaryDef('log1p', true, (g, { inputs: [x] }) => [div(g, add(x!, 1))]),
  sqrt: unaryDef('sqrt', true, (g, { out }) => [div(g, mul(out, 2))]), // d sqrt x = 1/(2 sqrt x)
  // d|x| = (x > 0) - (x < 0): 0 at 0 and at NaN, as PyTorch (whose sign(NaN) is 0; ours is NaN)
  abs: unaryDef('abs', false, (g, { inputs: [x] }) => [mul(g, sub(gt(x!, 0), lt(x!, 0)))]),
  sign: unaryDef('sign', false, null),
  relu: unaryDef('relu', false, (g, { inputs: [x] }) => [reluBackward(g, x!)]), // 0 at x <= 0, g at NaN, as PyTorch
  sigmoid: unaryDef('sigmoid', true, (g, { out }) => [mul(g, mul(out, sub(1, out)))]), // s(1-s)
  tanh: unaryDef('tanh', true, (g, { out }) => [mul(g, sub(1, mul(out, out)))]), // 1 - tanh^2
  erf: unaryDef('erf', true, (g, { inputs: [x] }) => [mul(g, mul(exp(neg(mul(x!, x!))), SQRT_PI_OVER_2))]), // 2/sqrt(pi) e^{-x^2}
  sin: unaryDef('sin', true, (g, { inputs: [x] }) => [mul(g, cos(x!))]),
  cos: unaryDef('cos', true, (g, { inputs: [x] }) => [neg(mul(g, sin(x!)))]),
};

export const neg = (x: Tensor): Tensor => apply('neg', unaryOps.neg, [x], {});
export const exp = (x: Tensor): Tensor => apply('exp', unaryOps.exp, [x], {});
/** Natural log; log(0) = -Infinity. */
export const log = (x: Tensor): Tensor => apply('log', unaryOps.log, [x], {});
export const log1p = (x: Tensor): Tensor => apply('log1p', unaryOps.log1p, [x], {});
export const sqrt = (x: Tensor): Tensor => apply('sqrt', unaryOps.sqrt, [x], {});
export const abs = (x: Tensor): Tensor => apply('abs', unaryOps.abs, [x], {});
export const sign = (x: Tensor): Tensor => apply('sign', unaryOps.sign, [x], {});
export const relu = (x: Tensor): Tensor => apply('relu', unaryOps.relu, [x], {});
export const sigmoid = (x: Tensor): Tensor => apply('sigmoid', unaryOps.sigmoid, [x], {});
export const tanh = (x: Tensor): Tensor => apply('tanh', unaryOps.tanh, [x], {});
export const erf = (x: Tensor): Tensor => apply('erf', unaryOps.erf, [x], {});
export const sin = (x: Tensor): Tensor => apply('sin', unaryOps.sin, [x], {});
export const cos = (x: Tensor): Tensor => apply('cos', unaryOps.cos, [x], {});

// ----------------------------------------------------------------------------------- binary --

type ArithName = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'reluBackward';
type CompareName = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

function sameDType(op: string, a: Tensor, b: Tensor): DType {
  if (a.dtype !== b.dtype) throw new TypeError(`${op}: dtypes differ (${a.dtype} and ${b.dtype}); cast one with cast(x, '${a.dtype}')`);
  return a.dtype;
}

function binaryDef(op: BinaryOp, backward: OpDef<{}>['backward'], floatOnly = false): OpDef<{}> {
  return {
    infer([a, b]) {
      const dtype = sameDType(op, a!, b!);
      if (floatOnly && !isFloat(dtype)) throw new TypeError(`${op}: expects float32 or float64 tensors, got ${dtype} (cast first)`);
      return { shape: broadcastShapes(op, a!.shape, b!.shape), dtype };
    },
    forward(be, [a, b], out, _attrs, shape) {
      be.binary(op, a!.storage, b!.storage, out, shape, broadcastStrides(a!.shape, shape), broadcastStrides(b!.shape, shape));
    },
    backward,
  };
}

/**
 * d max(a, b), as PyTorch: an input loses the gradient only where the other one beats it; on ties
 * each gets half. Where either is NaN nothing beats anything, so both get the whole gradient (the
 * NaN output depends on each).
 */
function extremumGrad(beats: (a: Tensor, b: Tensor) => Tensor) {
  return (g: Tensor, { inputs: [a, b], needs }: { inputs: readonly Tensor[]; needs: readonly boolean[] }) => {
    const half = mul(eq(a!, b!), 0.5);
    return [needs[0] ? mul(g, sub(sub(1, beats(b!, a!)), half)) : null, needs[1] ? mul(g, sub(sub(1, beats(a!, b!)), half)) : null];
  };
}

export const binaryOps: OpTable<ArithName | CompareName> = {
  add: binaryDef('add', (g) => [g, g]),
  sub: binaryDef('sub', (g) => [g, neg(g)]),
  mul: binaryDef('mul', (g, { inputs: [a, b], needs }) => [needs[0] ? mul(g, b!) : null, needs[1] ? mul(g, a!) : null]),
  // y = a/b: dy/da = 1/b, dy/db = -a/b^2 = -y/b
  div: binaryDef('div', (g, { inputs: [, b], out, needs }) => [needs[0] ? div(g, b!) : null, needs[1] ? neg(div(mul(g, out), b!)) : null], true),
  // y = a^b: dy/da = b a^(b-1), taken as 0 where b = 0 (y = 1 there whatever a is, NaN included:
  // otherwise 0^0 would give 0 * 0^-1 = NaN); dy/db = y log a, taken as 0 where a = 0 and b >= 0
  // (0^b is constant there) and NaN for a < 0 (a^b is not real near b). Both as PyTorch.
  pow: binaryDef('pow', (g, { inputs: [a, b], out, needs }) => [
    needs[0] ? mul(g, where(eq(b!, 0), 0, mul(b!, pow(a!, sub(b!, 1))))) : null,
    needs[1] ? mul(g, where(mul(eq(a!, 0), ge(b!, 0)), 0, mul(out, log(a!)))) : null,
  ]),
  maximum: binaryDef(
    'maximum',
    extremumGrad((a, b) => gt(a, b)),
  ),
  minimum: binaryDef(
    'minimum',
    extremumGrad((a, b) => lt(a, b)),
  ),
  // linear in g, with the same gate; piecewise constant in x (derivative 0 wherever it exists)
  reluBackward: binaryDef('reluBackward', (g, { inputs: [, x], needs }) => [needs[0] ? reluBackward(g, x!) : null, null]),
  eq: binaryDef('eq', null),
  ne: binaryDef('ne', null),
  lt: binaryDef('lt', null),
  le: binaryDef('le', null),
  gt: binaryDef('gt', null),
  ge: binaryDef('ge', null),
};

/** Turn numbers into 0-d tensors of the other operand's dtype. */
function pair(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  if (a instanceof Tensor && b instanceof Tensor) return [a, b];
  if (a instanceof Tensor) return [a, scalar(checkNumber(op, b), a.dtype)];
  if (b instanceof Tensor) return [scalar(checkNumber(op, a), b.dtype), b];
  return [scalar(checkNumber(op, a)), scalar(checkNumber(op, b))];
}

function checkNumber(op: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${op}: expected a Tensor or a number, got ${v === null ? 'null' : typeof v}`);
  return v;
}

function bin(name: ArithName | CompareName) {
  return (a: TensorLike, b: TensorLike): Tensor => apply(name, binaryOps[name], pair(name, a, b), {});
}

export const add = bin('add');
export const sub = bin('sub');
export const mul = bin('mul');
export const div = bin('div');
export const pow = bin('pow');
export const maximum = bin('maximum');
export const minimum = bin('minimum');
/** ReLU's backward in one pass: 0 where x <= 0 (even where g is NaN), g elsewhere (x NaN included), as PyTorch's threshold_backward. */
export const reluBackward = bin('reluBackward');
/** Comparisons give masks: 1 where true, 0 where false, in the inputs' dtype. */
export const eq = bin('eq');
export const ne = bin('ne');
export const lt = bin('lt');
export const le = bin('le');
export const gt = bin('gt');
export const ge = bin('ge');

// ----------------------------------------------------------------------------- where, cast --

export const whereOps: OpTable<'where' | 'cast'> = {
  where: {
    infer([c, a, b]) {
      return { shape: broadcastShapes('where', c!.shape, a!.shape, b!.shape), dtype: sameDType('where', a!, b!) };
    },
    forward(be, [c, a, b], out, _attrs, shape) {
      be.where(
        c!.storage,
        a!.storage,
        b!.storage,
        out,
        shape,
        broadcastStrides(c!.shape, shape),
        broadcastStrides(a!.shape, shape),
        broadcastStrides(b!.shape, shape),
      );
    },
    backward: (g, { inputs: [c], needs }) => [null, needs[1] ? where(c!, g, 0) : null, needs[2] ? where(c!, 0, g) : null],
  },
  cast: {
    infer([x], { dtype }) {
      return { shape: [...x!.shape], dtype };
    },
    forward(be, [x], out) {
      be.cast(x!.storage, out);
    },
    backward: (g, { inputs: [x] }) => [isFloat(x!.dtype) && isFloat(g.dtype) ? cast(g, x!.dtype) : null],
  },
};

/** Elements of a where cond is non-zero, else of b (broadcast). Numbers take the other's dtype. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pair('where', a, b);
  return apply('where', whereOps.where, [cond, x, y], {});
}

/** Convert to another dtype (float to int32 truncates toward zero). */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  return apply('cast', whereOps.cast, [x], { dtype });
}
