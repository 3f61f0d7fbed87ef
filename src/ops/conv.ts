/**
 * Convolution by im2col. Layout is NCHW everywhere: images are [batch, channels, height, width] and
 * weights [outChannels, inChannels / groups, kernelHeight, kernelWidth], as in PyTorch.
 *
 * Three primitives:
 * - im2col: the windows of a (padded) image laid side by side as columns, [C, kh, kw, N, OH, OW].
 *   Entry (c, i, j, n, oh, ow) is x[n, c, oh*sh + i*dh, ow*sw + j*dw]: ONE strided copy of x
 *   (the backend's `copy` with strides (H W, dh W, dw, C H W, sh W, sw)), no arithmetic.
 * - col2im: its adjoint. Each column entry is ADDED back to the pixel it came from; a pixel in k
 *   overlapping windows receives k contributions. It is the gradient of im2col and vice versa.
 * - windowArgmax: where each window's maximum is (max pooling's selection; not differentiable).
 *
 * conv2d then is one matrix product per group: with cols as a [C kh kw, N OH OW] matrix and the
 * weight as [O, C kh kw], y = W cols is [O, N OH OW], every output pixel the dot product of the
 * filter with its window. The product runs on the backend's GEMM, and so do both gradients
 * (dW = g cols^T, dcols = W^T g): the batch is folded into the matrix width so that each product is
 * one large GEMM rather than N small ones.
 */
import type { WindowLayout } from '../backend/backend.js';
import { col2imReference, windowArgmaxReference } from '../backend/js/conv.js';
import { isFloat } from '../core/dtype.js';
import { contiguousStrides, shapeStr, shapesEqual } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { add } from './elementwise.js';
import { matmul } from './matmul.js';
import { pad, permute, reshape, slice } from './movement.js';
import type { OpTable } from './run.js';
import { apply } from './run.js';
import type { WindowAttrs } from './types.js';

/** A size given once for both spatial axes, or as [height, width]. */
export type Pair = number | readonly [number, number];

/** Normalise a Pair to [height, width], checking each is an integer >= min. */
export function toPair(op: string, what: string, v: Pair, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x) && x >= min))
    throw new RangeError(`${op}: ${what} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  return p;
}

/** Number of window positions along an axis: floor((size - dilation (k - 1) - 1) / stride) + 1. */
export function windowCount(size: number, k: number, stride: number, dilation: number): number {
  return Math.floor((size - dilation * (k - 1) - 1) / stride) + 1;
}

function layoutOf(op: string, xShape: readonly number[], a: WindowAttrs): WindowLayout {
  if (xShape.length !== 4) throw new RangeError(`${op}: expects an NCHW tensor of rank 4, got shape ${shapeStr(xShape)}`);
  const [n, c, h, w] = xShape as [number, number, number, number];
  const [kh, kw] = a.kernel,
    [sh, sw] = a.stride,
    [dh, dw] = a.dilation;
  const outH = windowCount(h, kh, sh, dh),
    outW = windowCount(w, kw, sw, dw);
  if (outH < 1 || outW < 1) {
    throw new RangeError(
      `${op}: a ${kh}x${kw} window with dilation [${dh}, ${dw}] does not fit in the (padded) input ${shapeStr(xShape)}: its extent is ${dh * (kh - 1) + 1}x${dw * (kw - 1) + 1}`,
    );
  }
  return { n, c, h, w, kh, kw, strideH: sh, strideW: sw, dilationH: dh, dilationW: dw, outH, outW };
}

/** The columns' shape [C, kh, kw, N, OH, OW] and, for each of its axes, the stride into the image. */
function columnsOf(l: WindowLayout): { shape: number[]; imageStrides: number[] } {
  const plane = l.h * l.w;
  return {
    shape: [l.c, l.kh, l.kw, l.n, l.outH, l.outW],
    imageStrides: [plane, l.dilationH * l.w, l.dilationW, l.c * plane, l.strideH * l.w, l.strideW],
  };
}

export const convOps: OpTable<'im2col' | 'col2im' | 'windowArgmax'> = {
  im2col: {
    infer([x], a) {
      return { shape: columnsOf(layoutOf('im2col', x!.shape, a)).shape, dtype: x!.dtype };
    },
    forward(b, [x], out, a) {
      const { shape, imageStrides } = columnsOf(layoutOf('im2col', x!.shape, a));
      b.copy(x!.storage, out, shape, 0, imageStrides, 0, contiguousStrides(shape));
    },
    // d/dx of a copy that reads pixel p k times is the sum of the k gradients: col2im.
    backward: (g, { inputs: [x], attrs }) => [col2imRaw(g, attrs, x!.shape)],
  },
  col2im: {
    infer([cols], a) {
      const { shape } = columnsOf(layoutOf('col2im', a.shape, a));
      if (!shapesEqual(cols!.shape, shape))
        throw new RangeError(`col2im: columns of shape ${shapeStr(cols!.shape)} do not match the windows of ${shapeStr(a.shape)}: expected ${shapeStr(shape)}`);
      return { shape: [...a.shape], dtype: cols!.dtype };
    },
    forward(b, [cols], out, a) {
      const l = layoutOf('col2im', a.shape, a);
      if (b.col2im) b.col2im(cols!.storage, out, l);
      else col2imReference(cols!.storage, out, l);
    },
    // col2im is linear and its adjoint is im2col: <col2im(c), g> = sum over entries c * g[pixel] = <c, im2col(g)>.
    backward: (g, { attrs }) => [im2colRaw(g, attrs)],
  },
  windowArgmax: {
    infer([x], a) {
      const l = layoutOf('windowArgmax', x!.shape, a);
      return { shape: [l.n, l.c, l.outH * l.outW], dtype: 'int32' };
    },
    forward(b, [x], out, a) {
      const l = layoutOf('windowArgmax', x!.shape, a);
      if (b.windowArgmax) b.windowArgmax(x!.storage, out, l);
      else windowArgmaxReference(x!.storage, out, l);
    },
    backward: null,
  },
};

function im2colRaw(x: Tensor, attrs: WindowAttrs): Tensor {
  return apply('im2col', convOps.im2col, [x], attrs);
}

function col2imRaw(cols: Tensor, attrs: WindowAttrs, shape: readonly number[]): Tensor {
  return apply('col2im', convOps.col2im, [cols], { ...attrs, shape: [...shape] });
}

export interface WindowOptions {
  /** Step between windows (default 1). */
  stride?: Pair;
  /** Spacing between the kernel's taps (default 1: adjacent pixels). */
  dilation?: Pair;
  /** Zeros added on each side of both spatial axes (default 0). */
  padding?: Pair;
}

function windowAttrs(op: string, kernel: Pair, o: { stride?: Pair; dilation?: Pair }, defaultStride: Pair = 1): WindowAttrs {
  return {
    kernel: toPair(op, 'kernel size', kernel, 1),
    stride: toPair(op, 'stride', o.stride ?? defaultStride, 1),
    dilation: toPair(op, 'dilation', o.dilation ?? 1, 1),
  };
}

/**
 * The windows of x [N, C, H, W] as columns [C, kh, kw, N, OH, OW] (padding applied first), the
 * layout conv2d multiplies by. See unfold for PyTorch's [N, C kh kw, L] layout.
 */
export function im2col(x: Tensor, kernelSize: Pair, options: WindowOptions = {}): Tensor {
  const [ph, pw] = toPair('im2col', 'padding', options.padding ?? 0, 0);
  return im2colRaw(padSpatial(x, [ph, ph, pw, pw], 0), windowAttrs('im2col', kernelSize, options));
}

/**
 * The adjoint of im2col (no padding): columns [C, kh, kw, N, OH, OW] summed into an image of
 * `imageShape` [N, C, H, W], each entry added to the pixel it would have been read from.
 */
export function col2im(cols: Tensor, imageShape: readonly number[], kernelSize: Pair, options: Omit<WindowOptions, 'padding'> = {}): Tensor {
  return col2imRaw(cols, windowAttrs('col2im', kernelSize, options), imageShape);
}

/**
 * Where each window's maximum is: int32 [N, C, OH OW] holding flat in-plane indices h W + w of x
 * [N, C, H, W] (no padding; first on ties; NaN wins). Not differentiable. Stride defaults to 1.
 */
export function windowArgmax(x: Tensor, kernelSize: Pair, options: Omit<WindowOptions, 'padding'> = {}): Tensor {
  return apply('windowArgmax', convOps.windowArgmax, [x], windowAttrs('windowArgmax', kernelSize, options));
}

/** Add [top, bottom, left, right] constant padding to the last two axes (no op when all are 0). */
export function padSpatial(x: Tensor, p: readonly [number, number, number, number], value: number): Tensor {
  if (p.every((v) => v === 0)) return x;
  return pad(
    x,
    [
      [p[0], p[1]],
      [p[2], p[3]],
    ],
    value,
  );
}

/**
 * PyTorch's F.unfold: x [N, C, H, W] to [N, C kh kw, L] with L = OH OW window positions; row
 * c kh kw + i kw + j of column l holds tap (i, j) of channel c in window l.
 */
export function unfold(x: Tensor, kernelSize: Pair, options: WindowOptions = {}): Tensor {
  const cols = im2col(x, kernelSize, options);
  const [c, kh, kw, n, oh, ow] = cols.shape as [number, number, number, number, number, number];
  return permute(reshape(cols, [c * kh * kw, n, oh * ow]), [1, 0, 2]);
}

/**
 * PyTorch's F.fold, the adjoint of unfold: cols [N, C kh kw, L] summed back into [N, C, H, W]
 * (outputSize = [H, W]); a pixel covered by several windows receives the sum of their entries.
 */
export function fold(cols: Tensor, outputSize: Pair, kernelSize: Pair, options: WindowOptions = {}): Tensor {
  const a = windowAttrs('fold', kernelSize, options);
  const [h, w] = toPair('fold', 'output size', outputSize, 1);
  const [ph, pw] = toPair('fold', 'padding', options.padding ?? 0, 0);
  const [kh, kw] = a.kernel;
  const hp = h + 2 * ph,
    wp = w + 2 * pw;
  const oh = windowCount(hp, kh, a.stride[0], a.dilation[0]),
    ow = windowCount(wp, kw, a.stride[1], a.dilation[1]);
  if (cols.rank !== 3 || cols.shape[1]! % (kh * kw) !== 0 || cols.shape[2] !== oh * ow) {
    throw new RangeError(`fold: expected columns [N, C*${kh * kw}, ${oh * ow}] for output ${h}x${w} with kernel ${kh}x${kw}, got ${shapeStr(cols.shape)}`);
  }
  const n = cols.shape[0]!,
    c = cols.shape[1]! / (kh * kw);
  const img = col2imRaw(reshape(permute(cols, [1, 0, 2]), [c, kh, kw, n, oh, ow]), a, [n, c, hp, wp]);
  return ph === 0 && pw === 0 ? img : slice(img, [null, null, [ph, ph + h], [pw, pw + w]]);
}

export interface Conv2dOptions {
  stride?: Pair;
  /**
   * Zeros added around the image: a number or [height, width] (both sides), 'valid' (0) or 'same'
   * (output size = input size; stride 1 only; an odd total goes on the bottom/right, as PyTorch).
   */
  padding?: Pair | 'same' | 'valid';
  dilation?: Pair;
  /** Split input and output channels into this many independent groups (default 1). */
  groups?: number;
}

/** [top, bottom, left, right] padding for conv2d's padding option. */
export function convPadding(op: string, padding: Pair | 'same' | 'valid', a: WindowAttrs): [number, number, number, number] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding === 'same') {
    if (a.stride[0] !== 1 || a.stride[1] !== 1) throw new RangeError(`${op}: padding 'same' needs stride 1, got stride [${a.stride.join(', ')}]`);
    // total d (k - 1) keeps the size; PyTorch puts floor(total / 2) first and the rest after.
    const th = a.dilation[0] * (a.kernel[0] - 1),
      tw = a.dilation[1] * (a.kernel[1] - 1);
    return [th >> 1, th - (th >> 1), tw >> 1, tw - (tw >> 1)];
  }
  const [ph, pw] = toPair(op, 'padding', padding, 0);
  return [ph, ph, pw, pw];
}

/**
 * 2-D cross-correlation (PyTorch's conv2d), NCHW: x [N, C, H, W], weight [O, C / groups, kh, kw],
 * bias [O]. out[n, o, y, x] = bias[o] + sum_{c, i, j} weight[o, c, i, j] xpad[n, g(o) C/groups + c,
 * y sh + i dh, x sw + j dw], with OH = floor((H + pads - dh (kh - 1) - 1) / sh) + 1 (same for W).
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  if (x.rank !== 4 || weight.rank !== 4)
    throw new RangeError(`conv2d: expects input [N, C, H, W] and weight [O, C/groups, kh, kw], got ${shapeStr(x.shape)} and ${shapeStr(weight.shape)}`);
  if (x.dtype !== weight.dtype || !isFloat(x.dtype))
    throw new TypeError(`conv2d: input and weight must share a float dtype, got ${x.dtype} and ${weight.dtype}`);
  const groups = options.groups ?? 1;
  const [n, c] = x.shape as [number, number];
  const [o, cg, kh, kw] = weight.shape as [number, number, number, number];
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0 || o % groups !== 0 || cg !== c / groups) {
    throw new RangeError(
      `conv2d: input ${shapeStr(x.shape)} and weight ${shapeStr(weight.shape)} do not fit groups=${groups} (need C = ${cg} * groups and O divisible by groups)`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== o)) throw new RangeError(`conv2d: bias must have shape [${o}], got ${shapeStr(bias.shape)}`);
  const a = windowAttrs('conv2d', [kh, kw], options);
  const xp = padSpatial(x, convPadding('conv2d', options.padding ?? 0, a), 0);
  const cols = im2colRaw(xp, a); // [C, kh, kw, N, OH, OW]
  const [oh, ow] = [cols.shape[4]!, cols.shape[5]!];
  const width = n * oh * ow;
  // One product per group: [O/g, C/g kh kw] @ [C/g kh kw, N OH OW]; the groups are a batch axis.
  const y =
    groups === 1
      ? matmul(reshape(weight, [o, cg * kh * kw]), reshape(cols, [cg * kh * kw, width]))
      : matmul(reshape(weight, [groups, o / groups, cg * kh * kw]), reshape(cols, [groups, cg * kh * kw, width]));
  let out = reshape(y, [o, n, oh, ow]);
  if (bias) out = add(out, reshape(bias, [o, 1, 1, 1]));
  return permute(out, [1, 0, 2, 3]);
}
