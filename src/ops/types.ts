import type { DType } from '../core/dtype.js';
import type { Tensor } from '../core/tensor.js';

/**
 * Every primitive op and the attributes it takes. Adding a name here without its definition in
 * ops/table.ts (shape rule, forward, backward) is a compile error.
 */
export interface OpAttrs {
  // elementwise, one input
  neg: {};
  exp: {};
  log: {};
  log1p: {};
  sqrt: {};
  abs: {};
  sign: {};
  relu: {};
  sigmoid: {};
  tanh: {};
  erf: {};
  sin: {};
  cos: {};
  // elementwise, two inputs (broadcast)
  add: {};
  sub: {};
  mul: {};
  div: {};
  pow: {};
  maximum: {};
  minimum: {};
  reluBackward: {};
  eq: {};
  ne: {};
  lt: {};
  le: {};
  gt: {};
  ge: {};
  where: {};
  cast: { dtype: DType };
  // reductions
  sum: ReduceAttrs;
  max: ExtremeAttrs;
  min: ExtremeAttrs;
  argmax: ArgAttrs;
  argmin: ArgAttrs;
  // linear algebra
  matmul: { transA: boolean; transB: boolean };
  // movement
  reshape: { shape: number[] };
  clone: {};
  permute: { perm: number[] };
  expand: { shape: number[] };
  slice: { begin: number[]; end: number[] };
  pad: { pads: [number, number][]; value: number };
  concat: { axis: number };
  gather: { axis: number };
  scatterAdd: { axis: number; shape: number[] };
  indexSelect: { axis: number };
  indexAdd: { axis: number; shape: number[] };
  // convolution and pooling (NCHW; see ops/conv.ts)
  im2col: WindowAttrs;
  col2im: WindowAttrs & { shape: number[] };
  windowArgmax: WindowAttrs;
  // softmax cross-entropy of [B, C] logits against int32 classes, one loss per row (ops/cross-entropy.ts)
  softmaxCrossEntropy: {};
  softmaxCrossEntropyGrad: {};
}

export type OpName = keyof OpAttrs;

export interface ReduceAttrs {
  /** Sorted, normalised axes. */
  axes: number[];
  keepdims: boolean;
}

export interface ExtremeAttrs extends ReduceAttrs {
  /**
   * Where the gradient goes on ties: 'index' to the one element argmax/argmin picks (the first; the
   * first NaN), as torch.max(x, dim); 'split' evenly among all the elements equal to the result
   * (among the NaNs when it is NaN), as torch.max(x) and torch.amax.
   */
  ties: 'index' | 'split';
}

export interface ArgAttrs {
  /** Normalised axis; null means over all elements of the flattened tensor. */
  axis: number | null;
  keepdims: boolean;
}

/** Sliding windows over the last two axes of an NCHW tensor: [height, width] pairs. */
export interface WindowAttrs {
  kernel: [number, number];
  stride: [number, number];
  dilation: [number, number];
}

/**
 * Per-example gradients (autograd/per-example.ts). One use of a parameter by an op: input `at` of
 * the op is the parameter (or a reshape of it) and another input carries the B examples. The rule
 * says where the examples lie and forms each example's gradient of input `at` from dy, the
 * gradient of sum_i l_i with respect to the op's output, whose part for example i is dl_i/dout_i
 * (no op mixes examples). Typed over the op names (ops/table.ts PER_EXAMPLE), so an op added
 * without a decision (a rule, or null for "no rule") does not compile.
 */
export interface PerExampleUse<A> {
  readonly inputs: readonly Tensor[];
  readonly out: Tensor;
  readonly attrs: A;
  /** Which input is the parameter (or its reshape). */
  readonly at: number;
  /** The number of examples. */
  readonly B: number;
}

export interface PerExampleRule<A> {
  /** null when the rule fits this use; otherwise the reason it does not (shown to users). */
  check(u: PerExampleUse<A>): string | null;
  /** Each example's gradient of input `at`: shape [B, ...inputs[at].shape]. */
  grads(u: PerExampleUse<A>, dy: Tensor): Tensor;
  /** ||grad_i||^2, shape [B], without forming the [B, ...] tensor (default: from grads). */
  normSq?(u: PerExampleUse<A>, dy: Tensor): Tensor;
  /** <grad_i, v> with v shaped like inputs[at], shape [B] (default: from grads). */
  dot?(u: PerExampleUse<A>, dy: Tensor, v: Tensor): Tensor;
  /** sum_i c_i grad_i (c: [B]), shaped like inputs[at] (default: from grads). */
  weightedSum?(u: PerExampleUse<A>, dy: Tensor, c: Tensor): Tensor;
}

/** One entry per op: its per-example rule, or null where it has none (its parameters take the fallback). */
export type PerExampleTable<K extends OpName> = { [P in K]: PerExampleRule<OpAttrs[P]> | null };
