/**
 * How each layer is written in ONNX (opset 17), declared once per layer class. A rule applies to
 * a module of its class whose `forward` is the class's own: a subclass that overrides `forward`
 * computes something else, so it gets no rule (and an error naming it) rather than a silently
 * wrong graph. Each rule also runs the layer on the traced example value, so every node's shapes
 * are known and checked by the layer itself.
 *
 * A layer with no rule (a user's Module) is traced on the tape instead (export.ts, export-ops.ts).
 *
 * Layers follow PyTorch's export: Linear is Gemm (transB = 1, weight [out, in]); Conv2d is Conv
 * with pads [top, left, bottom, right]; BatchNorm is BatchNormalization with the running
 * statistics (the eval-mode layer; ONNX's momentum is 1 - PyTorch's); GELU is composed from Erf
 * (or Tanh), as opset 17 has no Gelu; Dropout layers are the identity, as in eval mode.
 */
import { shapeStr } from '../../core/shape.js';
import type { Tensor } from '../../core/tensor.js';
import { ELU, GELU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh } from '../../nn/activations.js';
import { Sequential } from '../../nn/container.js';
import { Conv2d } from '../../nn/conv.js';
import { Embedding } from '../../nn/embedding.js';
import { AlphaDropout, Dropout, Dropout2d, Flatten, Linear, Unflatten } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import { BatchNorm1d, BatchNorm2d, BatchNormBase, LayerNorm } from '../../nn/norm.js';
import { SyncBatchNorm } from '../../nn/sync-norm.js';
import { AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d } from '../../nn/pooling.js';
import { Residual } from '../../nn/residual.js';
import { convPadding, toPair } from '../../ops/index.js';
import type { OnnxGraphBuilder } from './graph-builder.js';
import { ImportedOnnxModel } from './import.js';
import { floatAttr, intAttr, intsAttr } from './graph-builder.js';

/** A value of the graph being built: its name in the graph and the example's value there. */
export interface Traced {
  name: string;
  value: Tensor;
}

export interface ExportContext {
  readonly b: OnnxGraphBuilder;
  /** The module's path in the model ('' for the root, '0', 'body.1', ...). */
  readonly path: string;
  /** Export a child module (by its rule, or traced on the tape). */
  child(m: Module, name: string, x: Traced): Traced;
}

export type ExportRule<M extends Module> = (m: M, x: Traced, cx: ExportContext) => Traced;

interface RuleEntry {
  type: abstract new (...args: never[]) => Module;
  emit: ExportRule<Module>;
}

function rule<M extends Module>(type: abstract new (...args: never[]) => M, emit: ExportRule<M>): RuleEntry {
  return { type, emit: emit as ExportRule<Module> };
}

/** One node computing the layer's output from `inputs`; the value is the layer's own forward on the example. */
function leaf(m: Module, x: Traced, cx: ExportContext, opType: string, inputs: readonly string[], attrs: Parameters<OnnxGraphBuilder['node']>[3] = []): Traced {
  return { name: cx.b.node(`/${cx.path}`, opType, inputs, attrs), value: m.forward(x.value) };
}

const passThrough: ExportRule<Module> = (_m, x) => x;

function unary(opType: string): ExportRule<Module> {
  return (m, x, cx) => leaf(m, x, cx, opType, [x.name]);
}

/** Reshape keeping the leading `keep` axes as they come (0 in ONNX's shape: copy that axis, so the batch stays dynamic). */
function reshapeTo(m: Module, x: Traced, cx: ExportContext, y: Tensor, keep: number): Traced {
  const target = y.shape.map((d, i) => (i < keep ? 0 : d));
  if (keep === 0) target[0] = -1; // the batch axis was merged: let Reshape infer it
  const shape = cx.b.int64s(`/${cx.path}/Constant_shape`, target);
  return { name: cx.b.node(`/${cx.path}`, 'Reshape', [x.name, shape]), value: y };
}

function linearRule(m: Linear, x: Traced, cx: ExportContext): Traced {
  const w = cx.b.param(m.weight);
  const inputs = m.bias ? [x.name, w, cx.b.param(m.bias)] : [x.name, w];
  if (x.value.rank === 2) return leaf(m, x, cx, 'Gemm', inputs, [floatAttr('alpha', 1), floatAttr('beta', 1), intAttr('transB', 1)]);
  // other ranks: x W^T (+ b), the weight kept in PyTorch's [out, in] layout
  const wt = cx.b.node(`/${cx.path}`, 'Transpose', [w], [intsAttr('perm', [1, 0])]);
  const xw = cx.b.node(`/${cx.path}`, 'MatMul', [x.name, wt]);
  return { name: m.bias ? cx.b.node(`/${cx.path}`, 'Add', [xw, inputs[2]!]) : xw, value: m.forward(x.value) };
}

function conv2dRule(m: Conv2d, x: Traced, cx: ExportContext): Traced {
  const o = m.options;
  const stride = toPair('Conv2d', 'stride', o.stride ?? 1, 1),
    dilation = toPair('Conv2d', 'dilation', o.dilation ?? 1, 1);
  const [top, bottom, left, right] = convPadding('Conv2d', o.padding ?? 0, { kernel: m.kernelSize, stride, dilation });
  const inputs = [x.name, cx.b.param(m.weight), ...(m.bias ? [cx.b.param(m.bias)] : [])];
  return leaf(m, x, cx, 'Conv', inputs, [
    intsAttr('dilations', dilation),
    intAttr('group', o.groups ?? 1),
    intsAttr('kernel_shape', m.kernelSize),
    intsAttr('pads', [top, left, bottom, right]),
    intsAttr('strides', stride),
  ]);
}

function batchNormRule(m: BatchNormBase, x: Traced, cx: ExportContext): Traced {
  if (m.runningMean === null || m.runningVar === null)
    throw new RangeError(
      `exportOnnx: layer '${cx.path}' (${m.constructor.name}) has trackRunningStats = false, so it normalises with each batch's own statistics, which ONNX's BatchNormalization cannot express`,
    );
  const c = m.numFeatures;
  const scale = m.weight ? cx.b.param(m.weight) : cx.b.floats(`/${cx.path}/ones`, new Array<number>(c).fill(1));
  const shift = m.bias ? cx.b.param(m.bias) : cx.b.floats(`/${cx.path}/zeros`, new Array<number>(c).fill(0));
  return leaf(
    m,
    x,
    cx,
    'BatchNormalization',
    [x.name, scale, shift, cx.b.param(m.runningMean), cx.b.param(m.runningVar)],
    [floatAttr('epsilon', m.eps), floatAttr('momentum', 1 - (m.momentum ?? 0.1))],
  );
}

function layerNormRule(m: LayerNorm, x: Traced, cx: ExportContext): Traced {
  const k = m.normalizedShape.length;
  const n = m.normalizedShape.reduce((a, b) => a * b, 1);
  const scale = m.weight ? cx.b.param(m.weight) : cx.b.floats(`/${cx.path}/ones`, new Array<number>(n).fill(1), m.normalizedShape);
  const inputs = m.bias ? [x.name, scale, cx.b.param(m.bias)] : [x.name, scale];
  return leaf(m, x, cx, 'LayerNormalization', inputs, [intAttr('axis', -k), floatAttr('epsilon', m.eps)]);
}

function geluRule(m: GELU, x: Traced, cx: ExportContext): Traced {
  const b = cx.b,
    p = `/${cx.path}`;
  let gate: string; // 1 + erf(x / sqrt 2), or 1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))
  if (m.approximate === 'tanh') {
    const x3 = b.node(p, 'Mul', [b.node(p, 'Mul', [x.name, x.name]), x.name]);
    const inner = b.node(p, 'Add', [x.name, b.node(p, 'Mul', [x3, b.floats(`${p}/c`, [0.044715], [])])]);
    gate = b.node(p, 'Tanh', [b.node(p, 'Mul', [inner, b.floats(`${p}/k`, [Math.sqrt(2 / Math.PI)], [])])]);
  } else {
    gate = b.node(p, 'Erf', [b.node(p, 'Mul', [x.name, b.floats(`${p}/rsqrt2`, [Math.SQRT1_2], [])])]);
  }
  const half = b.node(p, 'Mul', [x.name, b.floats(`${p}/half`, [0.5], [])]);
  return { name: b.node(p, 'Mul', [half, b.node(p, 'Add', [gate, b.floats(`${p}/one`, [1], [])])]), value: m.forward(x.value) };
}

function poolAttrs(op: string, kernelSize: Parameters<typeof toPair>[2], o: MaxPool2d['options']) {
  const kernel = toPair(op, 'kernel size', kernelSize, 1);
  const [ph, pw] = toPair(op, 'padding', o.padding ?? 0, 0);
  return { kernel, stride: toPair(op, 'stride', o.stride ?? kernel, 1), dilation: toPair(op, 'dilation', o.dilation ?? 1, 1), pads: [ph, pw, ph, pw] };
}

function maxPoolRule(m: MaxPool2d, x: Traced, cx: ExportContext): Traced {
  const a = poolAttrs('MaxPool2d', m.kernelSize, m.options);
  return leaf(
    m,
    x,
    cx,
    'MaxPool',
    [x.name],
    [intsAttr('dilations', a.dilation), intsAttr('kernel_shape', a.kernel), intsAttr('pads', a.pads), intsAttr('strides', a.stride)],
  );
}

function avgPoolRule(m: AvgPool2d, x: Traced, cx: ExportContext): Traced {
  const a = poolAttrs('AvgPool2d', m.kernelSize, m.options);
  if (a.dilation[0] !== 1 || a.dilation[1] !== 1)
    throw new RangeError(
      `exportOnnx: layer '${cx.path}' (AvgPool2d) has dilation [${a.dilation.join(', ')}]; ONNX's AveragePool takes dilations from opset 19 only (exporting opset 17)`,
    );
  return leaf(
    m,
    x,
    cx,
    'AveragePool',
    [x.name],
    [
      intAttr('count_include_pad', (m.options.countIncludePad ?? true) ? 1 : 0),
      intsAttr('kernel_shape', a.kernel),
      intsAttr('pads', a.pads),
      intsAttr('strides', a.stride),
    ],
  );
}

function adaptiveAvgPoolRule(m: AdaptiveAvgPool2d, x: Traced, cx: ExportContext): Traced {
  const [oh, ow] = toPair('AdaptiveAvgPool2d', 'output size', m.outputSize, 1);
  const [h, w] = x.value.shape.slice(-2) as [number, number];
  if (oh === 1 && ow === 1 && x.value.rank === 4) return leaf(m, x, cx, 'GlobalAveragePool', [x.name]);
  if (h % oh !== 0 || w % ow !== 0 || x.value.rank !== 4)
    throw new RangeError(
      `exportOnnx: layer '${cx.path}' (AdaptiveAvgPool2d to ${oh}x${ow}) on input ${shapeStr(x.value.shape)}: ONNX has it only when the input size is a multiple of the output size`,
    );
  const k = [h / oh, w / ow];
  return leaf(m, x, cx, 'AveragePool', [x.name], [intsAttr('kernel_shape', k), intsAttr('strides', k)]);
}

function flattenRule(m: Flatten, x: Traced, cx: ExportContext): Traced {
  const r = x.value.rank;
  const start = m.startAxis < 0 ? m.startAxis + r : m.startAxis,
    end = m.endAxis < 0 ? m.endAxis + r : m.endAxis;
  if (end === r - 1 && start >= 1) return leaf(m, x, cx, 'Flatten', [x.name], [intAttr('axis', start)]);
  return reshapeTo(m, x, cx, m.forward(x.value), start);
}

function unflattenRule(m: Unflatten, x: Traced, cx: ExportContext): Traced {
  const a = m.axis < 0 ? m.axis + x.value.rank : m.axis;
  return reshapeTo(m, x, cx, m.forward(x.value), a);
}

function embeddingRule(m: Embedding, x: Traced, cx: ExportContext): Traced {
  return leaf(m, x, cx, 'Gather', [cx.b.param(m.weight), x.name], [intAttr('axis', 0)]);
}

function sequentialRule(m: Sequential, x: Traced, cx: ExportContext): Traced {
  let y = x;
  let i = 0;
  for (const layer of m) y = cx.child(layer, String(i++), y);
  return y;
}

function residualRule(m: Residual, x: Traced, cx: ExportContext): Traced {
  const fx = cx.child(m.body, 'body', x);
  const skip = m.shortcut ? cx.child(m.shortcut, 'shortcut', x) : x;
  return { name: cx.b.node(`/${cx.path}`, 'Add', [fx.name, skip.name]), value: m.forward(x.value) };
}

/** Every layer with an ONNX form. */
export const EXPORT_RULES: readonly RuleEntry[] = [
  rule(Sequential, sequentialRule),
  rule(Residual, residualRule),
  rule(Linear, linearRule),
  rule(Conv2d, conv2dRule),
  rule(BatchNorm1d, batchNormRule),
  rule(BatchNorm2d, batchNormRule),
  rule(SyncBatchNorm, batchNormRule), // exported for inference: BatchNorm with its running statistics
  rule(LayerNorm, layerNormRule),
  rule(MaxPool2d, maxPoolRule),
  rule(AvgPool2d, avgPoolRule),
  rule(AdaptiveAvgPool2d, adaptiveAvgPoolRule),
  rule(GlobalAvgPool2d, (m, x, cx) => {
    const pooled = cx.b.node(`/${cx.path}`, 'GlobalAveragePool', [x.name]); // [N, C, 1, 1]
    return { name: cx.b.node(`/${cx.path}`, 'Flatten', [pooled], [intAttr('axis', 1)]), value: m.forward(x.value) };
  }),
  rule(Flatten, flattenRule),
  rule(Unflatten, unflattenRule),
  rule(Embedding, embeddingRule),
  rule(ReLU, unary('Relu')),
  rule(Sigmoid, unary('Sigmoid')),
  rule(Tanh, unary('Tanh')),
  rule(Softplus, unary('Softplus')),
  rule(LeakyReLU, (m, x, cx) => leaf(m, x, cx, 'LeakyRelu', [x.name], [floatAttr('alpha', m.negativeSlope)])),
  rule(ELU, (m, x, cx) => leaf(m, x, cx, 'Elu', [x.name], [floatAttr('alpha', m.alpha)])),
  rule(GELU, geluRule),
  rule(Softmax, (m, x, cx) => leaf(m, x, cx, 'Softmax', [x.name], [intAttr('axis', m.axis)])),
  rule(LogSoftmax, (m, x, cx) => leaf(m, x, cx, 'LogSoftmax', [x.name], [intAttr('axis', m.axis)])),
  rule(ImportedOnnxModel, (m, x, cx) => ({ name: m.emitInto(cx.b, cx.path, x.name), value: m.forward(x.value) })),
  rule(Identity, passThrough),
  rule(Dropout, passThrough),
  rule(Dropout2d, passThrough),
  rule(AlphaDropout, passThrough),
];

/** The rule for `m`: its class's, if `m` runs its class's own forward. */
export function exportRuleFor(m: Module): ExportRule<Module> | undefined {
  for (const r of EXPORT_RULES) {
    if (m instanceof r.type && m.forward === (r.type.prototype as Module).forward) return r.emit;
  }
  return undefined;
}
