/**
 * Building an ONNX graph: nodes with unique names, parameters as initializers under their
 * state-dict keys (so `0.weight` in Descent is `0.weight` in the .onnx file, as torch.onnx.export
 * names them), and small constants.
 */
import type { Tensor } from '../../core/tensor.js';
import type { OnnxAttribute, OnnxNode, OnnxTensor } from './model-proto.js';
import { ONNX_DOUBLE, ONNX_FLOAT, ONNX_INT32, ONNX_INT64 } from './model-proto.js';

export const intAttr = (name: string, i: number): OnnxAttribute => ({ name, i });
export const floatAttr = (name: string, f: number): OnnxAttribute => ({ name, f });
export const intsAttr = (name: string, ints: readonly number[]): OnnxAttribute => ({ name, ints: [...ints] });

export class OnnxGraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly used = new Set<string>();
  private readonly added = new Map<Tensor, string>();

  /**
   * @param stateNames each parameter and buffer of the model with its state-dict key
   * @param floatType ONNX_FLOAT or ONNX_DOUBLE: the type of the model's values
   */
  constructor(
    private readonly stateNames: ReadonlyMap<Tensor, string>,
    readonly floatType: number,
  ) {}

  /** `base`, or base_1, base_2, ... if taken. */
  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Reserve a name given from outside (the graph's input). */
  reserve(name: string): void {
    this.used.add(name);
  }

  /** Whether `t` is one of the model's parameters or buffers. */
  isParam(t: Tensor): boolean {
    return this.stateNames.has(t);
  }

  /** The initializer holding a parameter or buffer, named by its state-dict key (added on first use). */
  param(t: Tensor): string {
    const known = this.added.get(t);
    if (known) return known;
    const name = this.unique(this.stateNames.get(t) ?? 'constant');
    const v = t.dataSync();
    if (t.dtype === 'int32') throw new TypeError(`exportOnnx: the tensor '${name}' is int32; only float parameters are exported`);
    this.initializers.push({
      name,
      dataType: t.dtype === 'float64' ? ONNX_DOUBLE : ONNX_FLOAT,
      dims: [...t.shape],
      data: t.dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v),
    });
    this.added.set(t, name);
    return name;
  }

  /** A Constant node of the model's float type (dims [] for a scalar); returns its output. */
  floats(base: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const data = this.floatType === ONNX_DOUBLE ? Float64Array.from(values) : Float32Array.from(values);
    return this.constant(base, { name: '', dataType: this.floatType, dims: [...dims], data });
  }

  /** A Constant node holding INT64 values (a shape for Reshape: a vector); returns its output. */
  int64s(base: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant(base, { name: '', dataType: ONNX_INT64, dims: [...dims], data: [...values] });
  }

  /** A Constant node holding the values of `t` (float32, float64 or int32); returns its output. */
  tensorConstant(base: string, t: Tensor): string {
    const v = t.dataSync();
    const dataType = t.dtype === 'float64' ? ONNX_DOUBLE : t.dtype === 'int32' ? ONNX_INT32 : ONNX_FLOAT;
    const data = t.dtype === 'float64' ? Float64Array.from(v) : t.dtype === 'int32' ? Array.from(v) : Float32Array.from(v);
    return this.constant(base, { name: '', dataType, dims: [...t.shape], data });
  }

  /**
   * Constants are Constant nodes, as torch.onnx.export writes them, not initializers: an importer
   * (Descent's included) takes initializers for weights, and these are not to be trained.
   */
  private constant(base: string, t: OnnxTensor): string {
    const name = this.unique(base);
    const output = this.unique(`${name}_output_0`);
    this.nodes.push({ opType: 'Constant', name, domain: '', inputs: [], outputs: [output], attributes: [{ name: 'value', t }] });
    return output;
  }

  /** Add a node named `<path>/<opType>` with one output; returns the output's name. */
  node(path: string, opType: string, inputs: readonly string[], attributes: readonly OnnxAttribute[] = []): string {
    const name = this.unique(`${path}/${opType}`);
    const output = this.unique(`${name}_output_0`);
    this.nodes.push({ opType, name, domain: '', inputs: [...inputs], outputs: [output], attributes: [...attributes] });
    return output;
  }

  /** Add a node as it is (its names already unique in this graph). */
  push(node: OnnxNode): void {
    for (const o of node.outputs) this.used.add(o);
    this.used.add(node.name);
    this.nodes.push(node);
  }

  /** Give the value `from` the name `to` (the graph's output), in every node that makes or uses it. */
  rename(from: string, to: string): void {
    for (const n of this.nodes) {
      n.outputs = n.outputs.map((o) => (o === from ? to : o));
      n.inputs = n.inputs.map((i) => (i === from ? to : i));
    }
  }
}
