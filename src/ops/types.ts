import type { DType } from '../core/dtype.js';

/**
 * Every primitive op and the attributes it takes. Adding a name here without its definition in
 * ops/table.ts (shape rule, forward, backward) is a compile error.
 */
export interface OpAttrs {
  // elementwise, one input
  neg: {}; exp: {}; log: {}; log1p: {}; sqrt: {}; abs: {}; sign: {}; relu: {}; sigmoid: {}; tanh: {}; erf: {}; sin: {}; cos: {};
  // elementwise, two inputs (broadcast)
  add: {}; sub: {}; mul: {}; div: {}; pow: {}; maximum: {}; minimum: {}; reluBackward: {};
  eq: {}; ne: {}; lt: {}; le: {}; gt: {}; ge: {};
  where: {};
  cast: { dtype: DType };
  // reductions
  sum: ReduceAttrs; max: ExtremeAttrs; min: ExtremeAttrs;
  argmax: ArgAttrs; argmin: ArgAttrs;
  // linear algebra
  matmul: { transA: boolean; transB: boolean };
  // movement
  reshape: { shape: number[] };
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
