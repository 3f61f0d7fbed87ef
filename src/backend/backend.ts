import type { DType } from '../core/dtype.js';
import type { Storage } from '../core/storage.js';

/** Elementwise functions of one input. Output dtype equals input dtype. */
export type UnaryOp = 'neg' | 'exp' | 'log' | 'log1p' | 'sqrt' | 'abs' | 'sign' | 'relu' | 'sigmoid' | 'tanh' | 'erf' | 'sin' | 'cos';
/**
 * Elementwise functions of two inputs (broadcast). Comparisons write 1 or 0 in the output dtype.
 * reluBackward(g, x) is 0 where x <= 0 (also where g is NaN) and g elsewhere (where x is NaN too),
 * in one pass: ReLU's backward, as PyTorch's threshold_backward.
 */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'reluBackward';
export type ReduceOp = 'sum' | 'max' | 'min';
export type ArgReduceOp = 'argmax' | 'argmin';

/** out[b] = op(A[b]) @ op(B[b]) for each batch b; A[b] starts at aOffsets[b], B[b] at bOffsets[b]. */
export interface MatmulLayout {
  batch: number;
  m: number;
  n: number;
  k: number;
  /** A[b] is stored [k, m] (read transposed) rather than [m, k]. */
  transA: boolean;
  /** B[b] is stored [n, k] (read transposed) rather than [k, n]. */
  transB: boolean;
  aOffsets: readonly number[];
  bOffsets: readonly number[];
}

/** A tensor seen as [outer, n, inner] around one axis; the index runs along that axis with length m. */
export interface AxisLayout {
  outer: number;
  n: number;
  inner: number;
  m: number;
}

/**
 * Sliding windows over the last two axes of an NCHW tensor [n, c, h, w]: window (oh, ow) covers rows
 * oh*strideH + i*dilationH (i < kh) and columns ow*strideW + j*dilationW (j < kw); there are
 * outH x outW windows. Padding is applied beforehand (the input is already padded).
 */
export interface WindowLayout {
  n: number;
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  outH: number;
  outW: number;
}

/**
 * What a backend promises about IEEE 754's special values beyond ordinary finite results. The
 * contract suite (test/backend/contract.ts) checks every kernel against exactly this declaration.
 */
export interface BackendGuarantees {
  /**
   * 'ieee': NaN and +-Infinity come out exactly where the reference backend has them (0 * Inf in a
   * product, a NaN through max or a sum, log(0)...), and so do +0 and -0. 'finite-only': only
   * finite inputs whose reference results are finite are promised to match (GPUs may drop NaN in
   * min/max or rewrite arithmetic); non-finite results are then unspecified. Either way a NaN
   * in the data must still reach the loss, so that the divergence guard stops training.
   */
  readonly specials: 'ieee' | 'finite-only';
  /**
   * 'kept': subnormal numbers (below 2^-126 in float32) are read and produced as IEEE 754 says
   * (gradual underflow). 'flushed': they may be read as zero and produced as zero of either sign.
   */
  readonly subnormals: 'kept' | 'flushed';
  /**
   * Optional: the transcendental functions (exp, log, log1p, sigmoid, tanh, erf, sin, cos, pow, and
   * the exp and log inside crossEntropyRows and its gradient) are within this many units in the
   * last place of the reference (GPU builtins are not correctly rounded). Absent: 1 unit, and the
   * fused cross-entropy kernels exact.
   */
  readonly ulps?: number;
}

/**
 * One torch.optim.SGD update of a parameter (Backend.sgdStep). Scalars are rounded to the
 * parameter's dtype, as the ops round a number operand.
 */
export interface SgdStepHyper {
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  readonly maximize: boolean;
  /** The first step with momentum: the buffer starts as the gradient (bufIn is not read). */
  readonly first: boolean;
}

/**
 * The kernels every backend provides. Shapes and strides are in elements; all storages are
 * contiguous except where a layout gives explicit strides. The plain-TypeScript `js` backend is
 * the specification of each kernel; faster backends are tested against it.
 */
export interface Backend {
  readonly name: string;
  readonly guarantees: BackendGuarantees;
  alloc(dtype: DType, size: number): Storage;
  fill(out: Storage, value: number): void;
  /** Convert element type (float to int32 truncates toward zero, like a C cast). */
  cast(x: Storage, out: Storage): void;
  unary(op: UnaryOp, x: Storage, out: Storage): void;
  /** out[i] = a[ia] op b[ib] over `shape`, reading a and b with the given (broadcast) strides. */
  binary(op: BinaryOp, a: Storage, b: Storage, out: Storage, shape: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void;
  /** out = cond != 0 ? a : b, all read with broadcast strides over `shape`. */
  where(
    cond: Storage,
    a: Storage,
    b: Storage,
    out: Storage,
    shape: readonly number[],
    cStrides: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
  ): void;
  /** Reduce x (of `shape`) over the sorted `axes`; out holds the kept dimensions in order. */
  reduce(op: ReduceOp, x: Storage, out: Storage, shape: readonly number[], axes: readonly number[]): void;
  /** Index of the largest/smallest element along the middle axis of [outer, n, inner]; first one on ties. */
  argReduce(op: ArgReduceOp, x: Storage, out: Storage, outer: number, n: number, inner: number): void;
  matmul(a: Storage, b: Storage, out: Storage, layout: MatmulLayout): void;
  /** dst[dstOffset + sum i_d*dstStrides[d]] = src[srcOffset + sum i_d*srcStrides[d]] over `shape`. */
  copy(
    src: Storage,
    dst: Storage,
    shape: readonly number[],
    srcOffset: number,
    srcStrides: readonly number[],
    dstOffset: number,
    dstStrides: readonly number[],
  ): void;
  /** PyTorch gather: out[o, j, i] = x[o, idx[o, j, i], i]; idx and out are [outer, m, inner]. */
  gather(x: Storage, idx: Storage, out: Storage, layout: AxisLayout): void;
  /** out[o, idx[o, j, i], i] += src[o, j, i] (out must be initialised). */
  scatterAdd(src: Storage, idx: Storage, out: Storage, layout: AxisLayout): void;
  /**
   * Optional: the common case of the ziggurat normal sampler (stats/gaussian.ts) in place. buf
   * (float32, n elements) holds 32-bit draws as bits; each one inside its layer's inner rectangle
   * (|u & ~127| < kn[u & 127]) becomes std * ((u & ~127) * wn[u & 127]), rounded to float32 once;
   * the others stay as they are and their indices, in order, are returned. tables: kn then wn.
   */
  zigguratMap?(buf: Storage, std: number, tables: Float64Array): Int32Array;
  /** Optional: scatterAdd into zeros, whatever out held (one pass instead of fill + scatterAdd). */
  scatterAddZeroed?(src: Storage, idx: Storage, out: Storage, layout: AxisLayout): void;
  /**
   * Optional: softmax cross-entropy of each row of x [rows, cols] (float) against the int32 class
   * target[i] (in [0, cols)), out[i] = -logSoftmax(x)[i, target[i]], computed as the ops compose
   * it: shift = the row's maximum where finite (else 0), s = x - shift, L = log(sum(exp(s)))
   * with the sum in float64, out = -(s[target] - L), each step rounded to x's dtype.
   */
  crossEntropyRows?(x: Storage, target: Storage, out: Storage, rows: number, cols: number): void;
  /**
   * Optional, with crossEntropyRows: its gradient, out[i, j] = (softmax(x)[i, j] - (j == target[i]
   * ? 1 : 0)) * g[i], softmax as e / S from the same s, e = exp(s) and S, each step rounded.
   */
  crossEntropyRowsGrad?(x: Storage, target: Storage, g: Storage, out: Storage, rows: number, cols: number): void;
  /**
   * Optional, CPU backends: the sum of x[i] * x[i] over a float storage, each square rounded to
   * x's dtype and the squares added in float64 (in an order of the backend's choosing, the same
   * on every call), returned as a number: the gradient norm the trainer checks every step.
   */
  sumSquares?(x: Storage): number;
  /**
   * Optional (backends that queue work, webgpu): submit the queued kernels now without waiting
   * for them, so the device runs them while the host waits for an earlier asynchronous read.
   */
  flush?(): void;
  /**
   * Optional: one SGD step out of place, the same values as the ops SGD.update composes (each
   * operation rounded to the dtype, no fused multiply-add), in one pass: with g = grad (negated
   * when maximize), g += weightDecay * p when weightDecay != 0; with momentum, bufOut = g on the
   * first step, else momentum * bufIn + (1 - dampening) * g, and g = nesterov ? g + momentum *
   * bufOut : bufOut; then pOut = p - lr * g. bufIn and bufOut are null without momentum. Outputs
   * are fresh storages (a checkpoint may hold the old ones as views).
   */
  sgdStep?(p: Storage, grad: Storage, bufIn: Storage | null, pOut: Storage, bufOut: Storage | null, h: SgdStepHyper): void;
  /** out[o, j, i] = x[o, idx[j], i]; idx has m entries. */
  indexSelect(x: Storage, idx: Storage, out: Storage, layout: AxisLayout): void;
  /** out[o, idx[j], i] += src[o, j, i] (out must be initialised). */
  indexAdd(src: Storage, idx: Storage, out: Storage, layout: AxisLayout): void;

  // Optional kernels: a backend may provide a faster version; when it does not, the op calls the
  // plain-TypeScript reference in backend/js/conv.ts, which works on any backend's storage views.

  /**
   * col2im, the adjoint of im2col: out (NCHW, layout; every element written) is zero plus, for
   * each entry of cols [c, kh, kw, n, outH, outW] in order, that entry added at the pixel
   * [n, c, oh*strideH + i*dilationH, ow*strideW + j*dilationW] it stands for.
   */
  col2im?(cols: Storage, out: Storage, layout: WindowLayout): void;
  /**
   * For each window of x (NCHW, layout), the flat index h*w_in + w within its [h, w] plane of the
   * largest element (the first on ties; a NaN wins, the last NaN of the window, as PyTorch's CPU
   * max pooling); out is int32 [n, c, outH*outW].
   */
  windowArgmax?(x: Storage, out: Storage, layout: WindowLayout): void;
}
