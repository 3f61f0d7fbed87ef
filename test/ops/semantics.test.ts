/**
 * Every op against PyTorch 1.13 where a rule has to choose: ties, kinks, signed zeros, infinities
 * and NaN, forward values and gradients. The expected values were computed by PyTorch and committed
 * (fixtures/torch-semantics.json, made by scripts/torch-semantics.py; CI has no PyTorch). Runs on
 * whichever backend the suite runs on (DESCENT_BACKEND).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import '../helpers.js';

type Enc = number | 'nan' | 'inf' | '-inf' | '-0';
interface Case {
  name: string;
  op: string;
  dtype: 'float32' | 'float64';
  params: Record<string, unknown>;
  inputs: { shape: number[]; values: Enc[] }[];
  y: { shape: number[]; values: Enc[] };
  grads: Enc[][];
  gradOut?: Enc[];
  /** PyTorch's vector and scalar loops disagree here: the sign of a zero, or these elements' values. */
  signedZero?: false;
  yVaries?: Record<string, Enc[]>;
  gradVaries?: Record<string, Enc[]>;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/torch-semantics.json', import.meta.url), 'utf8')) as { torch: string; cases: Case[] };

const dec = (v: Enc): number => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === '-0' ? -0 : v);

type P = Record<string, any>;
/** Descent's spelling of each op the fixture names. */
const OPS: Record<string, (xs: d.Tensor[], p: P) => d.Tensor> = {
  relu: ([x]) => d.relu(x!),
  leakyRelu: ([x], p) => d.leakyRelu(x!, p.negativeSlope),
  elu: ([x], p) => d.elu(x!, p.alpha ?? 1),
  clamp: ([x], p) => d.clamp(x!, p.min, p.max),
  abs: ([x]) => d.abs(x!),
  sign: ([x]) => d.sign(x!),
  neg: ([x]) => d.neg(x!),
  softplus: ([x]) => d.softplus(x!),
  logSigmoid: ([x]) => d.logSigmoid(x!),
  gelu: ([x]) => d.gelu(x!),
  geluTanh: ([x]) => d.gelu(x!, 'tanh'),
  sigmoid: ([x]) => d.sigmoid(x!),
  tanh: ([x]) => d.tanh(x!),
  exp: ([x]) => d.exp(x!),
  log: ([x]) => d.log(x!),
  log1p: ([x]) => d.log1p(x!),
  sqrt: ([x]) => d.sqrt(x!),
  erf: ([x]) => d.erf(x!),
  square: ([x]) => d.square(x!),
  powScalar: ([x], p) => d.pow(x!, p.exponent),
  maximum: ([a, b]) => d.maximum(a!, b!),
  minimum: ([a, b]) => d.minimum(a!, b!),
  mul: ([a, b]) => d.mul(a!, b!),
  div: ([a, b]) => d.div(a!, b!),
  pow: ([a, b]) => d.pow(a!, b!),
  maxDim: ([x], p) => d.max(x!, p.axis as number),
  minDim: ([x], p) => d.min(x!, p.axis as number),
  maxAll: ([x]) => d.max(x!),
  minAll: ([x]) => d.min(x!),
  maxAxes: ([x], p) => d.max(x!, p.axes as number[]),
  maxPool2d: ([x], p) => d.maxPool2d(x!, p.kernel, { stride: p.stride, padding: p.padding }),
  matmul: ([a, b]) => d.matmul(a!, b!),
};

/**
 * Where Descent deliberately differs from PyTorch 1.13, and why: the cases (by name), which output
 * ('y', or the gradient of input 0) at which flat index, and what Descent gives there instead.
 */
const DIVERGENCES: { cases: RegExp; of: 'y' | 'grad'; index: number; value: number; why: string }[] = [
  // PyTorch computes sign as (0 < x) - (x < 0), so sign(NaN) = 0 and a NaN disappears: its
  // long-standing bug pytorch/pytorch#41245 (NumPy gives NaN). Descent keeps the NaN, so that it
  // reaches the divergence guard. (The fixture's inputs start with NaN: index 0.)
  { cases: /^sign /, of: 'y', index: 0, value: NaN, why: 'sign(NaN) is NaN, as NumPy' },
  // PyTorch computes x^0.5 as sqrt(x), so (-Inf)^0.5 = NaN and (-0)^0.5 = -0; IEEE 754's pow (C's,
  // NumPy's, Math.pow) gives +Inf and +0, and so does Descent's pow, for every exponent alike.
  // (Input index 1 is -Inf, 5 is -0.)
  { cases: /^powScalarHalf /, of: 'y', index: 1, value: Infinity, why: 'IEEE pow(-Inf, 0.5) = +Inf' },
  { cases: /^powScalarHalf /, of: 'y', index: 5, value: 0, why: 'IEEE pow(-0, 0.5) = +0' },
  { cases: /^powScalarHalf /, of: 'grad', index: 1, value: 0, why: '0.5 (-Inf)^-0.5 = 0 in IEEE pow' },
  { cases: /^powScalarHalf /, of: 'grad', index: 5, value: Infinity, why: '0.5 (-0)^-0.5 = +Inf in IEEE pow' },
  // log1p(x) = x to within rounding for tiny x, so log1p of a subnormal is that subnormal (Math.log1p,
  // correctly rounded); PyTorch's log1p flushes it to 0. (5e-324 is float64 input 7; 1e-45 float32's 12.)
  { cases: /^log1p float64/, of: 'y', index: 7, value: 5e-324, why: 'log1p(subnormal) = subnormal' },
  { cases: /^log1p float32/, of: 'y', index: 12, value: Math.fround(1e-45), why: 'log1p(subnormal) = subnormal' },
  // A padded window whose real elements are all -Inf: PyTorch starts each window's search at its
  // first real element, so that one gets the gradient; Descent pads with -Inf and takes the first
  // maximum, which is a padded position, so the gradient is dropped. The output (-Inf) is the
  // same; only the gradient into an input of -Inf differs, and the loss is not finite there anyway.
  { cases: /^maxPool2d 2x2 padding 1, windows of -inf/, of: 'grad', index: 0, value: 0, why: 'pads with -Inf' },
  { cases: /^maxPool2d 2x2 padding 1, windows of -inf/, of: 'grad', index: 8, value: 0, why: 'pads with -Inf' },
];

/** Relative tolerances: composed ops round once per primitive (a few ulps); the piecewise ones are exact anyway. */
const RTOL = { float64: 1e-13, float32: 2e-6 };

function same(actual: number, expected: number, dtype: 'float32' | 'float64', signedZero: boolean): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (!Number.isFinite(expected)) return actual === expected;
  if (expected === 0) return actual === 0 && (!signedZero || Object.is(actual, expected));
  return Math.abs(actual - expected) <= RTOL[dtype] * Math.abs(expected);
}

function runCase(c: Case): void {
  const fn = OPS[c.op];
  assert.ok(fn, `no Descent op for fixture op '${c.op}'`);
  const xs = c.inputs.map((inp) => d.tensor(inp.values.map(dec), { shape: inp.shape, dtype: c.dtype }));
  const yShape = c.y.shape;
  const seedValues = c.gradOut ? c.gradOut.map(dec) : new Array<number>(c.y.values.length).fill(1);
  const seed = d.tensor(seedValues, { shape: yShape, dtype: c.dtype });
  const differentiable = c.op !== 'sign';
  let value: d.Tensor, grads: number[][];
  if (differentiable) {
    const r = d.vjp(() => fn(xs, c.params), xs, seed);
    value = r.value;
    grads = xs.map((x) => Array.from(r.grads.get(x).data));
  } else {
    // sign is piecewise constant: no gradient rule, and PyTorch's gradient is 0 everywhere
    value = fn(xs, c.params);
    grads = xs.map((x) => new Array<number>(x.size).fill(0));
  }
  assert.deepEqual(value.shape, yShape, `${c.name}: output shape`);
  const signedZero = c.signedZero !== false;
  const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
  // every answer PyTorch gives at element i (several where its loops disagree), or Descent's own
  const wanted = (of: 'y' | 'grad', i: number, torch: Enc, varies?: Record<string, Enc[]>): number[] => {
    const div = DIVERGENCES.find((e) => e.cases.test(c.name) && e.of === of && e.index === i);
    return div ? [div.value] : (varies?.[i] ?? [torch]).map(dec);
  };
  const got = Array.from(value.data);
  c.y.values.forEach((torch, i) => {
    const want = wanted('y', i, torch, c.yVaries);
    assert.ok(
      want.some((w) => same(got[i]!, w, c.dtype, signedZero)),
      `${c.name}: y[${i}] = ${show(got[i]!)}, PyTorch ${want.map(show).join(' or ')}`,
    );
  });
  c.grads.forEach((gWant, k) => {
    gWant.forEach((torch, i) => {
      const want = k === 0 ? wanted('grad', i, torch, c.gradVaries) : [dec(torch)];
      // the sign of a zero gradient is not compared: it depends on how each library composes it
      assert.ok(
        want.some((w) => same(grads[k]![i]!, w, c.dtype, false)),
        `${c.name}: gradient of input ${k} [${i}] = ${grads[k]![i]}, PyTorch ${want.map(show).join(' or ')}`,
      );
    });
  });
}

describe(`ops against PyTorch ${fixture.torch} at ties, kinks, zeros, infinities and NaN`, () => {
  it('the fixture covers every piecewise op, in float32 and float64', () => {
    const ops = new Set(fixture.cases.map((c) => c.op));
    for (const op of ['relu', 'leakyRelu', 'elu', 'clamp', 'abs', 'maximum', 'minimum', 'maxDim', 'minDim', 'maxAll', 'minAll', 'maxPool2d', 'matmul', 'pow'])
      assert.ok(ops.has(op), op);
    assert.ok(fixture.cases.length > 50);
  });
  for (const c of fixture.cases) {
    it(c.name, () => runCase(c));
  }
});
