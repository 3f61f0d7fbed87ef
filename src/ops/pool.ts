/**
 * Pooling over the last two axes of NCHW tensors, composed from primitives:
 * - maxPool2d: windowArgmax finds each window's maximum, gather reads it. Its gradient (gather's:
 *   a scatter-add) goes to the maximal element alone, the first one on ties (the last NaN, if any:
 *   PyTorch's rule).
 * - avgPool2d: the mean of each window's column from im2col; the gradient spreads 1/(kh kw) to
 *   every tap, and col2im adds the shares of overlapping windows.
 * - adaptiveAvgPool2d: PyTorch's bins written as two averaging matrices, out = P_h x P_w^T.
 */
import type { DType } from '../core/dtype.js';
import { isFloat } from '../core/dtype.js';
import { noGrad } from '../core/grad-mode.js';
import { shapeStr } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { ones, tensor } from './creation.js';
import type { Pair } from './conv.js';
import { convOps, im2col, padSpatial, toPair } from './conv.js';
import { div } from './elementwise.js';
import { matmul } from './matmul.js';
import { gather, noteIndexBound, permute, reshape } from './movement.js';
import { mean, sum } from './reduce.js';
import { apply } from './run.js';
import type { WindowAttrs } from './types.js';

export interface PoolOptions {
  /** Step between windows (default: the kernel size, so windows do not overlap). */
  stride?: Pair;
  /** Implicit padding on each side (at most half the kernel size, as PyTorch). */
  padding?: Pair;
  /** Spacing between taps (default 1). */
  dilation?: Pair;
}

function poolAttrs(op: string, x: Tensor, kernelSize: Pair, o: PoolOptions): { a: WindowAttrs; pad: [number, number] } {
  if (x.rank !== 4) throw new RangeError(`${op}: expects an NCHW tensor of rank 4, got shape ${shapeStr(x.shape)}`);
  const kernel = toPair(op, 'kernel size', kernelSize, 1);
  const a: WindowAttrs = { kernel, stride: toPair(op, 'stride', o.stride ?? kernel, 1), dilation: toPair(op, 'dilation', o.dilation ?? 1, 1) };
  const pad = toPair(op, 'padding', o.padding ?? 0, 0);
  if (pad[0] > kernel[0] / 2 || pad[1] > kernel[1] / 2)
    throw new RangeError(`${op}: padding [${pad.join(', ')}] must be at most half the kernel size [${kernel.join(', ')}]`);
  return { a, pad };
}

/**
 * Max over each window of x [N, C, H, W] (padding counts as -Infinity, so it is never chosen over
 * a real element). Output [N, C, OH, OW] with OH = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1.
 */
export function maxPool2d(x: Tensor, kernelSize: Pair, options: PoolOptions = {}): Tensor {
  const { a, pad } = poolAttrs('maxPool2d', x, kernelSize, options);
  const xp = padSpatial(x, [pad[0], pad[0], pad[1], pad[1]], -Infinity);
  const idx = apply('windowArgmax', convOps.windowArgmax, [xp], a); // [N, C, OH OW], int32
  // flat in-plane indices < H W by the kernel's construction, in a tensor no caller can reach and
  // change: gather and its backward's scatterAdd need not scan them
  noteIndexBound(idx.storage, xp.shape[2]! * xp.shape[3]!);
  const [n, c, hp, wp] = xp.shape as [number, number, number, number];
  const out = gather(reshape(xp, [n, c, hp * wp]), 2, idx);
  const oh = Math.floor((hp - a.dilation[0] * (a.kernel[0] - 1) - 1) / a.stride[0]) + 1;
  return reshape(out, [n, c, oh, idx.shape[2]! / oh]);
}

export interface AvgPoolOptions extends PoolOptions {
  /** Divide by the whole window, padding included (default true, as PyTorch); false: by the real pixels only. */
  countIncludePad?: boolean;
}

/** Mean over each window of x [N, C, H, W]; padding contributes zeros. */
export function avgPool2d(x: Tensor, kernelSize: Pair, options: AvgPoolOptions = {}): Tensor {
  const { a, pad } = poolAttrs('avgPool2d', x, kernelSize, options);
  if (!isFloat(x.dtype)) throw new TypeError(`avgPool2d: expects a float32 or float64 tensor, got ${x.dtype}`);
  const wopts = { stride: a.stride, dilation: a.dilation, padding: pad };
  const cols = im2col(x, a.kernel, wopts); // [C, kh, kw, N, OH, OW]
  const sums = sum(cols, [1, 2]); // [C, N, OH, OW]
  let avg: Tensor;
  if ((options.countIncludePad ?? true) || (pad[0] === 0 && pad[1] === 0)) {
    avg = div(sums, a.kernel[0] * a.kernel[1]);
  } else {
    // the number of real (unpadded) pixels in each window: window sums of an image of ones
    const counts = noGrad(() => sum(im2col(ones([1, 1, x.shape[2]!, x.shape[3]!], { dtype: x.dtype }), a.kernel, wopts), [0, 1, 2, 3]));
    avg = div(sums, counts);
  }
  return permute(avg, [1, 0, 2, 3]);
}

/**
 * PyTorch's adaptive bins: output cell i along an axis of size L (out cells m) averages the
 * inputs floor(i L / m) <= l < ceil((i + 1) L / m). As a matrix P [m, L] with P[i, l] = 1 / bin size.
 */
function binMatrix(len: number, m: number, dtype: DType): Tensor {
  const p = new Float64Array(m * len);
  for (let i = 0; i < m; i++) {
    const start = Math.floor((i * len) / m),
      end = Math.ceil(((i + 1) * len) / m);
    for (let l = start; l < end; l++) p[i * len + l] = 1 / (end - start);
  }
  return tensor(dtype === 'float64' ? p : Float32Array.from(p), { shape: [m, len] });
}

/**
 * Average pooling to a fixed output size [oh, ow] over the last two axes (any leading axes):
 * out = P_h x P_w^T with the bin matrices above, so every output is the mean of its bin.
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  if (x.rank < 2) throw new RangeError(`adaptiveAvgPool2d: expects at least 2 dimensions, got shape ${shapeStr(x.shape)}`);
  if (!isFloat(x.dtype)) throw new TypeError(`adaptiveAvgPool2d: expects a float32 or float64 tensor, got ${x.dtype}`);
  const [oh, ow] = toPair('adaptiveAvgPool2d', 'output size', outputSize, 1);
  const h = x.shape[x.rank - 2]!,
    w = x.shape[x.rank - 1]!;
  if (h === oh && w === ow) return x;
  const ph = binMatrix(h, oh, x.dtype),
    pw = binMatrix(w, ow, x.dtype);
  return matmul(matmul(ph, x), pw, { transB: true });
}

/** Mean over each channel's whole plane: x [N, C, H, W] to [N, C] (adaptiveAvgPool2d(x, 1) keeps [N, C, 1, 1]). */
export function globalAvgPool2d(x: Tensor): Tensor {
  if (x.rank !== 4) throw new RangeError(`globalAvgPool2d: expects an NCHW tensor of rank 4, got shape ${shapeStr(x.shape)}`);
  return mean(x, [2, 3]);
}
