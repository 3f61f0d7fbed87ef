/**
 * ONNX models as plain objects, and their protobuf encoding: the part of onnx.proto (ModelProto,
 * GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto) that
 * feed-forward networks use, with the field numbers of the official schema
 * (github.com/onnx/onnx, onnx/onnx.proto). Fields a reader does not know are skipped, as protobuf
 * asks; sparse tensors, sub-graphs and external data are refused with an error naming them.
 */
import { byField, ProtoError, ProtoWriter, readFields, repeatedFloats, repeatedInts, toBytes, toInt, toStr, type ProtoField } from './wire.js';

/** TensorProto.DataType values Descent reads and writes. */
export const ONNX_FLOAT = 1,
  ONNX_INT32 = 6,
  ONNX_INT64 = 7,
  ONNX_BOOL = 9,
  ONNX_DOUBLE = 11;

const DATA_TYPE_NAMES: Record<number, string> = {
  1: 'FLOAT',
  2: 'UINT8',
  3: 'INT8',
  4: 'UINT16',
  5: 'INT16',
  6: 'INT32',
  7: 'INT64',
  8: 'STRING',
  9: 'BOOL',
  10: 'FLOAT16',
  11: 'DOUBLE',
  12: 'UINT32',
  13: 'UINT64',
  16: 'BFLOAT16',
};

export function dataTypeName(t: number): string {
  return DATA_TYPE_NAMES[t] ?? `data type ${t}`;
}

export interface OnnxTensor {
  name: string;
  /** TensorProto.DataType (ONNX_FLOAT, ONNX_INT64, ...). */
  dataType: number;
  dims: number[];
  /** FLOAT and DOUBLE: the values; integer and bool types: the values as numbers. */
  data: Float32Array | Float64Array | number[];
}

export interface OnnxAttribute {
  name: string;
  f?: number;
  i?: number;
  s?: string;
  t?: OnnxTensor;
  floats?: number[];
  ints?: number[];
}

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  domain: string;
  attributes: OnnxAttribute[];
}

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  /** Each dimension: a size, or a symbolic name (a dynamic axis such as 'batch'). */
  dims: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  /** The opset of the default domain (ai.onnx). */
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  graph: OnnxGraph;
}

// ---------------------------------------------------------------------------------- writing --

function tensorProto(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter().packedInts(1, t.dims).int(2, t.dataType).string(8, t.name);
  if (t.dataType === ONNX_FLOAT || t.dataType === ONNX_DOUBLE) {
    const arr =
      t.data instanceof Float32Array || t.data instanceof Float64Array
        ? t.data
        : t.dataType === ONNX_FLOAT
          ? Float32Array.from(t.data)
          : Float64Array.from(t.data);
    // raw_data: little-endian values, C order (this module refuses big-endian hosts)
    w.bytes(9, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
  } else if (t.dataType === ONNX_INT64) {
    w.packedInts(7, Array.from(t.data));
  } else if (t.dataType === ONNX_INT32 || t.dataType === ONNX_BOOL) {
    w.packedInts(5, Array.from(t.data));
  } else {
    throw new RangeError(`ONNX: cannot write tensor '${t.name}' of type ${dataTypeName(t.dataType)}`);
  }
  return w;
}

function attributeProto(a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name);
  // type (field 20): FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7
  if (a.f !== undefined) w.float(2, a.f).int(20, 1);
  else if (a.i !== undefined) w.int(3, a.i).int(20, 2);
  else if (a.s !== undefined) w.string(4, a.s).int(20, 3);
  else if (a.t !== undefined) w.message(5, tensorProto(a.t)).int(20, 4);
  else if (a.floats !== undefined) w.packedFloats(7, a.floats).int(20, 6);
  else if (a.ints !== undefined) w.packedInts(8, a.ints).int(20, 7);
  else throw new RangeError(`ONNX: attribute '${a.name}' has no value`);
  return w;
}

function nodeProto(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const a of n.attributes) w.message(5, attributeProto(a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function valueInfoProto(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, v.elemType).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

/** The bytes of an .onnx file. */
export function encodeOnnxModel(m: OnnxModel): Uint8Array {
  const g = new ProtoWriter();
  for (const n of m.graph.nodes) g.message(1, nodeProto(n));
  g.string(2, m.graph.name);
  for (const t of m.graph.initializers) g.message(5, tensorProto(t));
  for (const v of m.graph.inputs) g.message(11, valueInfoProto(v));
  for (const v of m.graph.outputs) g.message(12, valueInfoProto(v));
  return new ProtoWriter()
    .int(1, m.irVersion)
    .string(2, m.producerName)
    .string(3, m.producerVersion)
    .message(7, g)
    .message(8, new ProtoWriter().string(1, '').int(2, m.opsetVersion))
    .finish();
}

// ---------------------------------------------------------------------------------- reading --

function fail(why: string): never {
  throw new ProtoError(why);
}

function one(m: Map<number, ProtoField[]>, field: number): ProtoField | undefined {
  const list = m.get(field);
  return list?.[list.length - 1]; // protobuf: the last value of a non-repeated field wins
}

function str(m: Map<number, ProtoField[]>, field: number, what: string): string {
  const f = one(m, field);
  return f ? toStr(f, what) : '';
}

function int(m: Map<number, ProtoField[]>, field: number, what: string): number | undefined {
  const f = one(m, field);
  if (!f) return undefined;
  if (f.wire !== 0) throw new ProtoError(`${what}: expected an integer, got wire type ${f.wire}`);
  return toInt(f.value, what);
}

function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function rawValues(raw: Uint8Array, dataType: number, n: number, what: string): Float32Array | Float64Array | number[] {
  const width = dataType === ONNX_DOUBLE || dataType === ONNX_INT64 ? 8 : dataType === ONNX_BOOL ? 1 : 4;
  if (raw.length !== n * width)
    throw new ProtoError(`${what}: raw_data has ${raw.length} bytes, expected ${n * width} for ${n} ${dataTypeName(dataType)} values`);
  const copy = new Uint8Array(raw); // a copy, aligned (a Node Buffer's slice() would not copy)
  if (dataType === ONNX_FLOAT) return new Float32Array(copy.buffer, 0, n);
  if (dataType === ONNX_DOUBLE) return new Float64Array(copy.buffer, 0, n);
  if (dataType === ONNX_INT32) return Array.from(new Int32Array(copy.buffer, 0, n));
  if (dataType === ONNX_BOOL) return Array.from(copy);
  const v = new DataView(copy.buffer);
  return Array.from({ length: n }, (_, i) => toInt(v.getBigInt64(8 * i, true), what));
}

export function decodeTensor(b: Uint8Array, where: string): OnnxTensor {
  const m = byField(readFields(b, where));
  const name = str(m, 8, `${where}: name`);
  const what = `${where} '${name}'`;
  const dims = repeatedInts(m.get(1) ?? [], `${what}: dims`);
  if (dims.some((v) => v < 0)) throw new ProtoError(`${what}: dims [${dims.join(', ')}] must not be negative`);
  const dataType = int(m, 2, `${what}: data_type`) ?? 0;
  if (one(m, 14) && int(m, 14, `${what}: data_location`) === 1)
    throw new ProtoError(`${what}: the values are in an external file, which Descent does not read`);
  if (![ONNX_FLOAT, ONNX_DOUBLE, ONNX_INT32, ONNX_INT64, ONNX_BOOL].includes(dataType))
    throw new ProtoError(`${what}: type ${dataTypeName(dataType)} is not supported (expected FLOAT, DOUBLE, INT32, INT64 or BOOL)`);
  const n = elementCount(dims);
  const raw = one(m, 9);
  let data: Float32Array | Float64Array | number[];
  if (raw) data = rawValues(toBytes(raw, what), dataType, n, what);
  else if (dataType === ONNX_FLOAT) data = Float32Array.from(repeatedFloats(m.get(4) ?? [], `${what}: float_data`, 4));
  else if (dataType === ONNX_DOUBLE) data = Float64Array.from(repeatedFloats(m.get(10) ?? [], `${what}: double_data`, 8));
  else if (dataType === ONNX_INT64) data = repeatedInts(m.get(7) ?? [], `${what}: int64_data`);
  else data = repeatedInts(m.get(5) ?? [], `${what}: int32_data`);
  if (data.length !== n) throw new ProtoError(`${what}: holds ${data.length} values but its dims [${dims.join(', ')}] need ${n}`);
  return { name, dataType, dims, data };
}

function decodeAttribute(b: Uint8Array, where: string): OnnxAttribute {
  const m = byField(readFields(b, where));
  const name = str(m, 1, `${where}: name`);
  const what = `${where}, attribute '${name}'`;
  const type = int(m, 20, `${what}: type`) ?? 0;
  const a: OnnxAttribute = { name };
  // a FLOAT, INT or TENSOR attribute without its value is an error (a STRING may be empty)
  const need = (field: number): ProtoField => one(m, field) ?? fail(`${what}: the attribute has type ${type} but no value (field ${field})`);
  if (type === 1 || (type === 0 && m.has(2))) a.f = repeatedFloats([need(2)], what, 4)[0];
  else if (type === 2 || (type === 0 && m.has(3))) a.i = repeatedInts([need(3)], what)[0];
  else if (type === 3) a.s = str(m, 4, what);
  else if (type === 4) a.t = decodeTensor(toBytes(need(5), what), `${what}: tensor`);
  else if (type === 6) a.floats = repeatedFloats(m.get(7) ?? [], what, 4);
  else if (type === 7) a.ints = repeatedInts(m.get(8) ?? [], what);
  else throw new ProtoError(`${what}: attribute type ${type} (graphs, sparse tensors, lists of strings or tensors) is not supported`);
  return a;
}

function decodeNode(b: Uint8Array, index: number): OnnxNode {
  const where = `node ${index}`;
  const m = byField(readFields(b, where));
  const opType = str(m, 4, `${where}: op_type`);
  const name = str(m, 3, `${where}: name`);
  const what = `node ${index} (${opType}${name ? ` '${name}'` : ''})`;
  return {
    opType,
    name,
    domain: str(m, 7, `${what}: domain`),
    inputs: (m.get(1) ?? []).map((f) => toStr(f, `${what}: input`)),
    outputs: (m.get(2) ?? []).map((f) => toStr(f, `${what}: output`)),
    attributes: (m.get(5) ?? []).map((f) => decodeAttribute(toBytes(f, what), what)),
  };
}

function decodeValueInfo(b: Uint8Array, where: string): OnnxValueInfo {
  const m = byField(readFields(b, where));
  const name = str(m, 1, `${where}: name`);
  const what = `${where} '${name}'`;
  const type = one(m, 2);
  if (!type) return { name, elemType: 0, dims: [] };
  const tensorType = one(byField(readFields(toBytes(type, what), `${what}: type`)), 1);
  if (!tensorType) throw new ProtoError(`${what}: only tensor values are supported (not sequences, maps or optionals)`);
  const tt = byField(readFields(toBytes(tensorType, what), `${what}: tensor type`));
  const shape = one(tt, 2);
  const dims = shape
    ? (byField(readFields(toBytes(shape, what), `${what}: shape`)).get(1) ?? []).map((d) => {
        const dm = byField(readFields(toBytes(d, what), `${what}: dim`));
        return dm.has(1) ? int(dm, 1, `${what}: dim_value`)! : str(dm, 2, `${what}: dim_param`) || '?';
      })
    : [];
  return { name, elemType: int(tt, 1, `${what}: elem_type`) ?? 0, dims };
}

function decodeGraph(b: Uint8Array): OnnxGraph {
  const m = byField(readFields(b, 'graph'));
  if (m.has(15)) throw new ProtoError('graph: sparse initializers are not supported');
  return {
    name: str(m, 2, 'graph: name'),
    nodes: (m.get(1) ?? []).map((f, i) => decodeNode(toBytes(f, `node ${i}`), i)),
    initializers: (m.get(5) ?? []).map((f, i) => decodeTensor(toBytes(f, `initializer ${i}`), `initializer ${i}`)),
    inputs: (m.get(11) ?? []).map((f, i) => decodeValueInfo(toBytes(f, `graph input ${i}`), `graph input ${i}`)),
    outputs: (m.get(12) ?? []).map((f, i) => decodeValueInfo(toBytes(f, `graph output ${i}`), `graph output ${i}`)),
  };
}

/** An .onnx file's model; errors name the part that is wrong (`model: ...`, `node 3 (Conv): ...`). */
export function decodeOnnxModel(input: Uint8Array | ArrayBuffer): OnnxModel {
  const bytes = input instanceof ArrayBuffer ? new Uint8Array(input) : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const m = byField(readFields(bytes, 'model'));
  const graph = one(m, 7);
  if (!graph) throw new ProtoError('model: no graph (field 7) in the file: not an ONNX model');
  let opsetVersion: number | undefined;
  for (const f of m.get(8) ?? []) {
    const o = byField(readFields(toBytes(f, 'model: opset_import'), 'model: opset_import'));
    const domain = str(o, 1, 'model: opset_import domain');
    if (domain === '' || domain === 'ai.onnx') opsetVersion = int(o, 2, 'model: opset_import version');
  }
  if (opsetVersion === undefined) throw new ProtoError('model: no opset for the default domain (ai.onnx) in opset_import');
  return {
    irVersion: int(m, 1, 'model: ir_version') ?? 0,
    opsetVersion,
    producerName: str(m, 2, 'model: producer_name'),
    producerVersion: str(m, 3, 'model: producer_version'),
    graph: decodeGraph(toBytes(graph, 'model: graph')),
  };
}
