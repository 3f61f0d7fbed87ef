/**
 * importOnnx: an .onnx file as a Descent Module whose parameters train. The graph's float
 * initializers become parameters (BatchNormalization's running mean and variance become buffers),
 * registered under their ONNX names split at the dots, so a file from torch.onnx.export gives
 * PyTorch's state-dict keys ('0.weight', 'fc1.bias', 'bn.running_mean'); PyTorch's generated names
 * ('onnx::Conv_44', for a convolution with BatchNorm folded into it) are kept as they are. Integer
 * initializers and Constant nodes are constants. The whole graph is checked when the file is read
 * (every operator known, every input defined before use, one graph input and output), so an
 * unsupported file fails at import with the node and operator named, not at the first forward.
 */
import { shapeStr } from '../../core/shape.js';
import type { Tensor } from '../../core/tensor.js';
import { keep } from '../../core/tensor.js';
import { Module } from '../../nn/module.js';
import { tensor } from '../../ops/index.js';
import { fromOnnxTensor, IMPORT_OPS, isInts, OnnxImportError, type OpCall, type Value } from './import-ops.js';
import type { OnnxGraphBuilder } from './graph-builder.js';
import type { OnnxGraph, OnnxModel, OnnxNode } from './model-proto.js';
import { decodeOnnxModel, ONNX_DOUBLE, ONNX_FLOAT } from './model-proto.js';
import { ProtoError } from './wire.js';

export { OnnxImportError } from './import-ops.js';

/** A module holding some of an imported model's parameters under a dotted prefix ('fc1' of 'fc1.weight'). */
class OnnxParameters extends Module {
  forward(_x: Tensor): Tensor {
    throw new Error('OnnxParameters: holds parameters of an imported ONNX model; call the model, not this part');
  }
  /** Register `t` under `name` (a parameter, or a buffer when `buffer`). */
  hold(name: string, t: Tensor, buffer: boolean): Tensor {
    return buffer ? this.registerBuffer(name, t) : this.registerParameter(name, t);
  }
  child(name: string): OnnxParameters {
    const found = this.namedChildren().find(([n]) => n === name)?.[1];
    if (found instanceof OnnxParameters) return found;
    return this.registerModule(name, new OnnxParameters());
  }
}

function nodeWhere(n: OnnxNode, i: number): string {
  return `node ${i} (${n.opType}${n.name ? ` '${n.name}'` : ''})`;
}

/** Check every operator is known and every input is defined before it is used. */
function checkGraph(g: OnnxGraph, defined: Set<string>): void {
  g.nodes.forEach((n, i) => {
    const where = nodeWhere(n, i);
    if (n.domain !== '' && n.domain !== 'ai.onnx')
      throw new OnnxImportError(`importOnnx: ${where}: operator domain '${n.domain}' is not supported (expected the default ONNX domain)`);
    if (!Object.hasOwn(IMPORT_OPS, n.opType))
      throw new OnnxImportError(`importOnnx: ${where}: operator ${n.opType} is not supported; Descent imports ${Object.keys(IMPORT_OPS).join(', ')}`);
    for (const inp of n.inputs)
      if (inp !== '' && !defined.has(inp))
        throw new OnnxImportError(`importOnnx: ${where}: input '${inp}' is not defined by an earlier node, an initializer or the graph input`);
    for (const o of n.outputs) if (o !== '') defined.add(o);
  });
  for (const o of g.outputs) if (!defined.has(o.name)) throw new OnnxImportError(`importOnnx: graph output '${o.name}' is not computed by any node`);
}

/**
 * An imported ONNX graph. `forward(x)` runs the nodes in order on the one graph input; the
 * parameters and buffers are its initializers (see the file comment). Like the graph, it
 * computes the inference form of each operator (BatchNormalization with running statistics,
 * Dropout as the identity) in training mode too, so fine-tuning trains the weights and keeps the
 * statistics.
 */
export class ImportedOnnxModel extends OnnxParameters {
  /** The graph input's name and its dims as the file gives them ('batch' for a symbolic axis). */
  readonly inputName: string;
  readonly inputDims: readonly (number | string)[];
  readonly outputName: string;
  readonly opsetVersion: number;
  readonly producer: string;
  private readonly nodes: readonly OnnxNode[];
  private readonly initial = new Map<string, Value>();
  private readonly floatType: 'float32' | 'float64';

  constructor(model: OnnxModel) {
    super();
    const g = model.graph;
    this.opsetVersion = model.opsetVersion;
    this.producer = `${model.producerName} ${model.producerVersion}`.trim();
    if (model.opsetVersion > 17 || model.opsetVersion < 13)
      throw new OnnxImportError(
        `importOnnx: opset ${model.opsetVersion} is not supported (expected 13 to 17; torch.onnx.export(..., opset_version=17) writes 17)`,
      );
    const initNames = new Set(g.initializers.map((t) => t.name));
    const inputs = g.inputs.filter((v) => !initNames.has(v.name));
    if (inputs.length !== 1)
      throw new OnnxImportError(`importOnnx: the graph has ${inputs.length} inputs (${inputs.map((v) => `'${v.name}'`).join(', ')}); expected exactly one`);
    if (g.outputs.length !== 1) throw new OnnxImportError(`importOnnx: the graph has ${g.outputs.length} outputs; expected exactly one`);
    this.inputName = inputs[0]!.name;
    this.inputDims = inputs[0]!.dims;
    this.outputName = g.outputs[0]!.name;
    this.nodes = g.nodes;
    checkGraph(g, new Set([this.inputName, ...initNames]));
    this.floatType = g.initializers.some((t) => t.dataType === ONNX_DOUBLE) && !g.initializers.some((t) => t.dataType === ONNX_FLOAT) ? 'float64' : 'float32';
    this.registerInitializers(g);
  }

  private registerInitializers(g: OnnxGraph): void {
    // BatchNormalization's inputs 3 and 4 (running mean and variance) are statistics, not trained
    const stats = new Set(g.nodes.filter((n) => n.opType === 'BatchNormalization').flatMap((n) => n.inputs.slice(3, 5)));
    for (const init of g.initializers) {
      const v = fromOnnxTensor(init, `initializer '${init.name}'`);
      if (isInts(v)) {
        this.initial.set(init.name, v);
        continue;
      }
      const parts = init.name.split('.');
      const path = parts.some((p) => p === '') ? [init.name.replaceAll('.', '_')] : parts;
      let owner: OnnxParameters = this;
      for (const p of path.slice(0, -1)) owner = owner.child(p);
      this.initial.set(init.name, owner.hold(path[path.length - 1]!, keep(v), stats.has(init.name)));
    }
  }

  override forward(x: Tensor): Tensor {
    const dims = this.inputDims;
    if (dims.length > 0 && (x.rank !== dims.length || dims.some((v, i) => typeof v === 'number' && v !== x.shape[i])))
      throw new RangeError(`ImportedOnnxModel: the input '${this.inputName}' is [${dims.join(', ')}] in the ONNX file, got shape ${shapeStr(x.shape)}`);
    const env = new Map<string, Value>(this.initial);
    env.set(this.inputName, x);
    this.nodes.forEach((node, i) => {
      const where = nodeWhere(node, i);
      const call: OpCall = { node, inputs: node.inputs.map((n) => (n === '' ? undefined : env.get(n))), where, floatType: this.floatType };
      let out: Value;
      try {
        out = IMPORT_OPS[node.opType]!(call);
      } catch (e) {
        if (e instanceof OnnxImportError || !(e instanceof Error)) throw e;
        // an op's own error (shapes that do not fit, ...), with the node it came from
        const Kind = e instanceof RangeError ? RangeError : e instanceof TypeError ? TypeError : OnnxImportError;
        throw new Kind(`ImportedOnnxModel: ${where}: ${e.message}`, { cause: e });
      }
      env.set(node.outputs[0]!, out);
    });
    const y = env.get(this.outputName)!;
    return isInts(y) ? tensor(y.ints, { shape: y.dims, dtype: 'int32' }) : y;
  }

  /**
   * Write this graph into one being exported (exportOnnx of an imported model, after fine-tuning
   * for instance): its nodes as they are, under names made unique there, with the current values
   * of the parameters and buffers; returns the name of its output there.
   */
  emitInto(b: OnnxGraphBuilder, path: string, input: string): string {
    const prefix = path === '' ? '' : `/${path}`;
    const names = new Map<string, string>([[this.inputName, input]]);
    for (const [name, v] of this.initial) names.set(name, isInts(v) ? b.int64s(`${prefix}/${name}`, v.ints, v.dims) : b.param(v));
    for (const n of this.nodes) {
      const outputs = n.outputs.map((o) => {
        if (o === '') return o;
        const renamed = b.unique(`${prefix}${o}`);
        names.set(o, renamed);
        return renamed;
      });
      b.push({ ...n, name: b.unique(`${prefix}${n.name || `/${n.opType}`}`), inputs: n.inputs.map((i) => (i === '' ? i : names.get(i)!)), outputs });
    }
    return names.get(this.outputName)!;
  }

  protected override extraRepr(): string {
    return `${this.nodes.length} nodes, opset ${this.opsetVersion}${this.producer ? `, from ${this.producer}` : ''}`;
  }
}

/**
 * A Module computing the ONNX model in `bytes` (opset 13-17; the operators of IMPORT_OPS), with
 * its float initializers as trainable parameters. Errors name the part of the file or the node
 * and operator that Descent cannot read.
 */
export function importOnnx(bytes: Uint8Array | ArrayBuffer): ImportedOnnxModel {
  let model: OnnxModel;
  try {
    model = decodeOnnxModel(bytes);
  } catch (e) {
    if (e instanceof ProtoError) throw new OnnxImportError(`importOnnx: not a valid ONNX file: ${e.message}`);
    throw e;
  }
  return new ImportedOnnxModel(model);
}
