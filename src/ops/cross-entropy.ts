/**
 * Softmax cross-entropy of [B, C] logits against int32 classes as two fused ops, one loss per row
 * (crossEntropy's common case: no class weights, no label smoothing, nothing ignored). The
 * composed form (logSoftmax then a gather) records a dozen ops and runs two dozen kernels a step,
 * which on a small classifier head costs as much as its matrix products; these run one kernel
 * each way (Backend.crossEntropyRows, crossEntropyRowsGrad, the same steps rounded the same way,
 * or the reference loops where a backend has no kernel).
 *
 *   softmaxCrossEntropy(x [B, C], y [B]) -> [B]       loss_i = -logSoftmax(x)[i, y_i]
 *   softmaxCrossEntropyGrad(x, y, g [B]) -> [B, C]    (softmax(x) - onehot(y)) * g[:, None]
 *
 * The gradient op is itself differentiable (written with ops), so Hessian-vector products
 * through the loss work as before.
 */
import { crossEntropyRowsGradReference, crossEntropyRowsReference } from '../backend/js/loss.js';
import { isFloat } from '../core/dtype.js';
import { shapeStr, shapesEqual } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { mul, sub } from './elementwise.js';
import { oneHot, reshape } from './movement.js';
import { softmax, sum } from './reduce.js';
import type { OpTable } from './run.js';
import { apply } from './run.js';

function checkInputs(op: string, x: Tensor, y: Tensor): [number, number] {
  if (x.rank !== 2 || !isFloat(x.dtype)) throw new RangeError(`${op}: logits must be float [B, C], got ${shapeStr(x.shape)} ${x.dtype}`);
  if (y.dtype !== 'int32' || !shapesEqual(y.shape, [x.shape[0]!]))
    throw new RangeError(`${op}: target must be int32 [${x.shape[0]}] (one class per row), got ${shapeStr(y.shape)} ${y.dtype}`);
  return [x.shape[0]!, x.shape[1]!];
}

export const crossEntropyOps: OpTable<'softmaxCrossEntropy' | 'softmaxCrossEntropyGrad'> = {
  softmaxCrossEntropy: {
    infer([x, y]) {
      const [B] = checkInputs('softmaxCrossEntropy', x!, y!);
      return { shape: [B], dtype: x!.dtype };
    },
    forward(b, [x, y], out) {
      const [B, C] = [x!.shape[0]!, x!.shape[1]!];
      if (b.crossEntropyRows) b.crossEntropyRows(x!.storage, y!.storage, out, B, C);
      else crossEntropyRowsReference(x!.storage, y!.storage, out, B, C);
    },
    backward: (g, { inputs: [x, y] }) => [softmaxCrossEntropyGrad(x!, y!, g), null],
  },
  softmaxCrossEntropyGrad: {
    infer([x, y, g]) {
      const [B] = checkInputs('softmaxCrossEntropyGrad', x!, y!);
      if (!shapesEqual(g!.shape, [B]) || g!.dtype !== x!.dtype)
        throw new RangeError(`softmaxCrossEntropyGrad: g must be ${x!.dtype} [${B}], got ${shapeStr(g!.shape)} ${g!.dtype}`);
      return { shape: [...x!.shape], dtype: x!.dtype };
    },
    forward(b, [x, y, g], out) {
      const [B, C] = [x!.shape[0]!, x!.shape[1]!];
      if (b.crossEntropyRowsGrad) b.crossEntropyRowsGrad(x!.storage, y!.storage, g!.storage, out, B, C);
      else crossEntropyRowsGradReference(x!.storage, y!.storage, g!.storage, out, B, C);
    },
    // out = (p - onehot) * g with p = softmax(x): d/dx of <out, u> is p * v - p * sum(p * v) with
    // v = u * g (the softmax Jacobian applied to v); d/dg is sum over the row of (p - onehot) * u.
    backward: (u, { inputs: [x, y, g], needs }) => {
      const [B, C] = [x!.shape[0]!, x!.shape[1]!];
      const p = softmax(x!, 1);
      let dx: Tensor | null = null,
        dg: Tensor | null = null;
      if (needs[0]) {
        const pv = mul(p, mul(u, reshape(g!, [B, 1])));
        dx = sub(pv, mul(p, sum(pv, 1, true)));
      }
      if (needs[2]) dg = sum(mul(sub(p, oneHot(y!, C, x!.dtype as 'float32' | 'float64')), u), 1);
      return [dx, null, dg];
    },
  },
};

/** -logSoftmax(x)[i, y_i] for each row i of x [B, C]; y int32 [B] with classes in [0, C). */
export function softmaxCrossEntropy(x: Tensor, y: Tensor): Tensor {
  return apply('softmaxCrossEntropy', crossEntropyOps.softmaxCrossEntropy, [x, y], {});
}

/** (softmax(x) - onehot(y)) * g[:, None]: the gradient of softmaxCrossEntropy for upstream g [B]. */
export function softmaxCrossEntropyGrad(x: Tensor, y: Tensor, g: Tensor): Tensor {
  return apply('softmaxCrossEntropyGrad', crossEntropyOps.softmaxCrossEntropyGrad, [x, y, g], {});
}
