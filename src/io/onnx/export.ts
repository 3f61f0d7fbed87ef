/**
 * exportOnnx: a Descent model as the bytes of an .onnx file (opset 17, the highest Debian's
 * PyTorch 1.13 reads and writes), runnable by ONNX Runtime (onnxruntime-node, onnxruntime-web)
 * and anything else that reads ONNX. Browser-safe: bytes out, no file system.
 *
 * The model is walked layer by layer (export-rules.ts: PyTorch's ONNX form of each layer; a layer
 * without one, such as a user's own Module, is traced on the tape op by op with export-ops.ts) in
 * eval mode on the example input, which fixes every shape but the batch axis: the graph's input
 * and output have a symbolic first axis 'batch', and reshapes keep it by copying (ONNX's 0 in a
 * Reshape shape). Parameters and buffers
 * become initializers named by their state-dict keys. The model's train/eval flags are restored
 * afterwards and its values are not changed.
 */
import { noGrad } from '../../core/grad-mode.js';
import { topoSort } from '../../autograd/tape.js';
import type { OpName } from '../../ops/index.js';
import { recordEveryOp } from '../../ops/run.js';
import { shapesEqual } from '../../core/shape.js';
import type { Storage } from '../../core/storage.js';
import { scope, type Tensor } from '../../core/tensor.js';
import type { Module } from '../../nn/module.js';
import { exportRuleFor, type ExportContext, type Traced } from './export-rules.js';
import { ONNX_OP_RULES, type OnnxOpRule } from './export-ops.js';
import { OnnxGraphBuilder } from './graph-builder.js';
import { encodeOnnxModel, ONNX_DOUBLE, ONNX_FLOAT, ONNX_INT32, type OnnxModel } from './model-proto.js';

/** The ONNX opset exportOnnx writes. */
export const ONNX_OPSET = 17;
/** The ONNX IR version of the files exportOnnx writes (the one that goes with opset 17). */
export const ONNX_IR_VERSION = 8;

export interface ExportOnnxOptions {
  /** The graph input's name (default 'input'). */
  inputName?: string;
  /** The graph output's name (default 'output'). */
  outputName?: string;
  /** Make the first axis of the input and output symbolic ('batch'), so any batch size runs (default true). */
  dynamicBatch?: boolean;
}

const ELEM_TYPE = { float32: ONNX_FLOAT, float64: ONNX_DOUBLE, int32: ONNX_INT32 } as const;

function exportChild(b: OnnxGraphBuilder, m: Module, path: string, x: Traced): Traced {
  const emit = exportRuleFor(m);
  if (!emit) return traceOnTape(b, m, path, x);
  const cx: ExportContext = { b, path, child: (c, name, cxIn) => exportChild(b, c, path === '' ? name : `${path}.${name}`, cxIn) };
  return emit(m, x, cx);
}

/**
 * A layer with no rule of its own (a user's Module): run its forward with every op recording its
 * node (recordEveryOp), and write each op the tape recorded with its ONNX_OP_RULES entry.
 * Parameters and buffers become initializers under their state-dict keys; other leaves (numbers
 * an op was given, tensors made inside forward) become constants.
 */
function traceOnTape(b: OnnxGraphBuilder, m: Module, path: string, x: Traced): Traced {
  const where = path === '' ? 'the model' : `layer '${path}'`;
  const y = recordEveryOp(() => m.forward(x.value));
  const names = new Map<Tensor, string>([[x.value, x.name]]);
  const prefix = `/${path}`;
  const { order, aliasOf } = tapeOrder(y, x.value, (t) => b.isParam(t));
  for (const t of order) {
    if (names.has(t)) continue;
    const node = t.node;
    if (!node) {
      const same = aliasOf.get(t);
      names.set(t, same ? names.get(same)! : b.isParam(t) ? b.param(t) : b.tensorConstant(`${prefix}/Constant`, t));
      continue;
    }
    const rule = ONNX_OP_RULES[node.op as OpName] as OnnxOpRule<unknown> | null | undefined;
    if (!rule)
      throw new TypeError(
        `exportOnnx: ${where} (${m.constructor.name}) has no export rule of its own, and its forward uses the op '${node.op}', which has no ONNX form${/im2col|windowArgmax/.test(node.op) ? ' (a convolution or pooling: hold Conv2d and pooling layers in a Sequential or Residual, which export them as Conv, MaxPool and AveragePool)' : ''}`,
      );
    const inputs = node.inputs.map((i) => names.get(i)!);
    names.set(t, rule({ b, path: prefix, inputs, attrs: node.attrs, tensors: node.inputs, out: t }));
  }
  return { name: names.get(y)!, value: noGrad(() => m.forward(x.value)) };
}

/**
 * The recorded graph behind `y`, inputs before the ops that use them. A leaf that shares its
 * storage and shape with a recorded tensor (or a parameter) is that tensor cut off from the tape
 * (detach, as clamp uses for its bounds): it is written as the tensor itself, so it gets an edge
 * to it here, and its values are not frozen into a constant.
 */
function tapeOrder(y: Tensor, input: Tensor, isParam: (t: Tensor) => boolean): { order: Tensor[]; aliasOf: Map<Tensor, Tensor> } {
  const reached = topoSort([y]);
  const recorded = new Map<Storage, Tensor[]>();
  for (const t of [input, ...reached]) {
    if (t !== input && !t.node && !isParam(t)) continue;
    const list = recorded.get(t.storage);
    if (list) list.push(t);
    else recorded.set(t.storage, [t]);
  }
  const aliasOf = new Map<Tensor, Tensor>();
  for (const t of reached) {
    if (t.node || t === input || isParam(t)) continue;
    const same = recorded.get(t.storage)?.find((r) => r !== t && shapesEqual(r.shape, t.shape));
    if (same) aliasOf.set(t, same);
  }
  if (aliasOf.size === 0) return { order: reached, aliasOf };
  // depth-first post-order again, with the alias edges (iterative, as autograd's topoSort)
  const edges = (t: Tensor): readonly Tensor[] => t.node?.inputs ?? (aliasOf.has(t) ? [aliasOf.get(t)!] : []);
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([y]);
  const stack: { t: Tensor; i: number }[] = [{ t: y, i: 0 }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const next = edges(top.t)[top.i++];
    if (next === undefined) {
      stack.pop();
      order.push(top.t);
    } else if (!seen.has(next)) {
      seen.add(next);
      stack.push({ t: next, i: 0 });
    }
  }
  return { order, aliasOf };
}

/** The ONNX model (as an object) of `model` run on `exampleInput`; see exportOnnx. */
export function traceOnnx(model: Module, exampleInput: Tensor, options: ExportOnnxOptions = {}): OnnxModel {
  const inputName = options.inputName ?? 'input',
    outputName = options.outputName ?? 'output';
  if (inputName === outputName) throw new RangeError(`exportOnnx: inputName and outputName must differ, both are '${inputName}'`);
  const dynamic = options.dynamicBatch ?? true;
  if (exampleInput.rank < 1) throw new RangeError('exportOnnx: the example input must have a batch axis (rank >= 1), got a scalar');
  const stateNames = new Map<Tensor, string>();
  for (const [key, t] of Object.entries(model.stateDict())) if (!stateNames.has(t)) stateNames.set(t, key);
  const floatParam = model.parameters().find((p) => p.dtype === 'float64');
  const b = new OnnxGraphBuilder(stateNames, floatParam || exampleInput.dtype === 'float64' ? ONNX_DOUBLE : ONNX_FLOAT);
  b.reserve(inputName);
  const modes = model.namedModules().map(([, m]) => [m, m.training] as const);
  model.eval();
  let outShape: number[];
  try {
    const y = scope(() => noGrad(() => exportChild(b, model, '', { name: inputName, value: exampleInput })));
    outShape = [...y.value.shape];
    if (y.value.dtype === 'int32') throw new TypeError('exportOnnx: the model gives an int32 output; expected float outputs');
    if (y.name === inputName) b.nodes.push({ opType: 'Identity', name: '/Identity', domain: '', inputs: [inputName], outputs: [outputName], attributes: [] });
    else b.rename(y.name, outputName);
  } finally {
    for (const [m, mode] of modes) m.training = mode;
  }
  const batch = (shape: readonly number[]) => shape.map((d, i) => (i === 0 && dynamic && d === exampleInput.shape[0] ? 'batch' : d));
  return {
    irVersion: ONNX_IR_VERSION,
    opsetVersion: ONNX_OPSET,
    producerName: 'descent',
    producerVersion: '0.1.0',
    graph: {
      name: model.constructor.name,
      nodes: b.nodes,
      initializers: b.initializers,
      inputs: [{ name: inputName, elemType: ELEM_TYPE[exampleInput.dtype], dims: batch(exampleInput.shape) }],
      outputs: [{ name: outputName, elemType: b.floatType, dims: batch(outShape) }],
    },
  };
}

/**
 * The bytes of an .onnx file (opset 17) computing `model` in eval mode, for inputs shaped like
 * `exampleInput` (any batch size unless `dynamicBatch: false`). A layer with no ONNX form is an
 * error naming it and its path in the model.
 */
export function exportOnnx(model: Module, exampleInput: Tensor, options: ExportOnnxOptions = {}): Uint8Array {
  return encodeOnnxModel(traceOnnx(model, exampleInput, options));
}
