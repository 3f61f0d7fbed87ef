/**
 * The safetensors format: 8 bytes little-endian header length N, N bytes of JSON
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}, then the
 * raw little-endian data. Written atomically (temp file + rename).
 */
import { readFileSync } from 'node:fs';
import type { DType } from '../core/dtype.js';
import { shapeSize } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { tensor } from '../ops/index.js';
import { writeFileAtomic } from './atomic.js';

const TO_ST: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32' };
const FROM_ST: Record<string, DType> = { F32: 'float32', F64: 'float64', I32: 'int32' };

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('safetensors: big-endian hosts are not supported');

export function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]!;
    const bytes = new Uint8Array(t.dataSync().buffer);
    header[name] = { dtype: TO_ST[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // pad so the data starts 8-byte aligned
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(Buffer.byteLength(json)), true);
  writeFileAtomic(path, [len, json, ...chunks]);
}

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

export function loadSafetensors(path: string): SafetensorsFile {
  const buf = readFileSync(path);
  const fail = (offset: number, what: string): never => {
    throw new Error(`${path}: not a valid safetensors file at byte ${offset}: ${what}`);
  };
  if (buf.byteLength < 8) fail(0, `expected an 8-byte header length, the file has ${buf.byteLength} bytes`);
  const n = Number(new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true));
  if (n > buf.byteLength - 8) fail(0, `header length ${n} exceeds the file size ${buf.byteLength}`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (e) {
    return fail(8, `expected a JSON header of ${n} bytes (${(e as Error).message})`);
  }
  const dataStart = 8 + n;
  const tensors: Record<string, Tensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const dtype = FROM_ST[e.dtype];
    if (!dtype) fail(8, `tensor '${name}' has dtype ${e.dtype}; expected one of F32, F64, I32`);
    const [b, end] = e.data_offsets;
    const bpe = dtype === 'float64' ? 8 : 4;
    if (!(end - b === shapeSize(e.shape) * bpe)) fail(8, `tensor '${name}' of shape [${e.shape}] ${e.dtype} needs ${shapeSize(e.shape) * bpe} bytes, offsets give ${end - b}`);
    if (dataStart + end > buf.byteLength) fail(dataStart + b, `tensor '${name}' ends at byte ${dataStart + end} but the file has ${buf.byteLength} (truncated?)`);
    const bytes = buf.buffer.slice(buf.byteOffset + dataStart + b, buf.byteOffset + dataStart + end);
    const arr = dtype === 'float32' ? new Float32Array(bytes) : dtype === 'float64' ? new Float64Array(bytes) : new Int32Array(bytes);
    tensors[name] = tensor(arr, { shape: e.shape });
  }
  return { tensors, metadata };
}
