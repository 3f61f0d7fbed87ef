/**
 * Datasets read lazily from disk. Only the records a batch asks for are read, with positional
 * reads (fs.readSync at an offset), so a file larger than memory can be trained on: memory holds
 * one batch, not the file. A batch's indices are sorted and consecutive records are read with one
 * call. File descriptors open on the first read and stay open until close().
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { DType } from '../core/dtype.js';
import type { Tensor } from '../core/tensor.js';
import { scope } from '../core/tensor.js';
import { reshape, zeros } from '../ops/index.js';
import type { Dataset } from './dataset.js';
import { checkIndex } from './dataset.js';
import { isGzip } from './readers/files.js';
import type { IdxType } from './readers/idx.js';
import { decodeBigEndian, IDX_BYTES, parseIdxHeader } from './readers/idx.js';
import type { NpyHeader } from './readers/npy.js';
import { decodeNpy, parseNpyHeader } from './readers/npy.js';

/** Largest single read when gathering a run of consecutive records. */
const MAX_READ_BYTES = 1 << 22;

/** Fixed-size records after a header, read on demand. */
class RecordFile {
  private fd: number | null = null;
  private scratch: Buffer = Buffer.alloc(0);

  constructor(
    readonly who: string,
    readonly path: string,
    readonly dataOffset: number,
    readonly recordBytes: number,
    readonly count: number,
  ) {}

  /** The first `n` bytes of a file, and its size (the file is opened and closed again). */
  static head(who: string, path: string, n: number): { bytes: Buffer; size: number } {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new Error(`${who}: cannot open ${path}: ${(e as Error).message}`);
    }
    try {
      const size = fstatSync(fd).size;
      const bytes = Buffer.alloc(Math.min(n, size));
      readFully(fd, bytes, 0, bytes.length, 0);
      return { bytes, size };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Call visit(position in `indices`, bytes, offset) for each record. Runs of consecutive record
   * indices (after sorting) are fetched with one read of at most MAX_READ_BYTES.
   */
  read(indices: Int32Array, visit: (pos: number, bytes: Buffer, offset: number, fileOffset: number) => void): void {
    if (this.fd === null) this.fd = openSync(this.path, 'r');
    const order = Array.from(indices.keys()).sort((a, b) => indices[a]! - indices[b]!);
    const perRead = Math.max(1, Math.floor(MAX_READ_BYTES / Math.max(1, this.recordBytes)));
    let i = 0;
    while (i < order.length) {
      // A run: sorted positions i..k-1 whose record indices step by 0 or 1, within one read.
      const first = indices[order[i]!]!;
      let k = i + 1;
      while (k < order.length && indices[order[k]!]! - indices[order[k - 1]!]! <= 1 && indices[order[k]!]! - first < perRead) k++;
      const last = indices[order[k - 1]!]!;
      const bytes = (last - first + 1) * this.recordBytes;
      if (this.scratch.length < bytes) this.scratch = Buffer.alloc(bytes);
      const at = this.dataOffset + first * this.recordBytes;
      readFully(this.fd, this.scratch, 0, bytes, at, this.who, this.path);
      for (let j = i; j < k; j++) {
        const rel = (indices[order[j]!]! - first) * this.recordBytes;
        visit(order[j]!, this.scratch, rel, at + rel);
      }
      i = k;
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function readFully(fd: number, buf: Buffer, off: number, len: number, pos: number, who = 'read', path = ''): void {
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, off + got, len - got, pos + got);
    if (n === 0) throw new Error(`${who}: ${path}: truncated at byte ${pos + got}: expected ${len - got} more bytes (the file shrank while open?)`);
    got += n;
  }
}

function checkSize(who: string, path: string, size: number, need: number, what: string): void {
  if (size < need) throw new Error(`${who}: ${path}: truncated at byte ${size}: expected ${need} bytes (${what})`);
  if (size > need) throw new Error(`${who}: ${path}: at byte ${need}: expected the end of the file after ${what}, found ${size - need} more bytes`);
}

function openIdx(who: string, path: string): { file: RecordFile; type: IdxType; recordShape: number[] } {
  const { bytes, size } = RecordFile.head(who, path, 4 + 4 * 255);
  if (isGzip(bytes)) throw new Error(`${who}: ${path}: is gzip-compressed; streaming reads need the raw IDX file (decompress it once with gunzip -k)`);
  const h = parseIdxHeader(who, path, bytes, size);
  const recordShape = h.shape.slice(1);
  const recordBytes = recordShape.reduce((a, b) => a * b, 1) * IDX_BYTES[h.type];
  checkSize(who, path, size, h.headerBytes + h.shape[0]! * recordBytes, `header ${h.headerBytes} + ${h.shape[0]} records of ${recordBytes} bytes, shape [${h.shape.join(', ')}] ${h.type}`);
  return { file: new RecordFile(who, path, h.headerBytes, recordBytes, h.shape[0]!), type: h.type, recordShape };
}

export interface IdxFileOptions {
  /** Multiplier applied to every image element (default 1/255 for uint8 images, else 1). */
  scale?: number;
  /** Give each image as a flat vector (default true: [784] for 28x28, like loadFashionMnist). */
  flatten?: boolean;
}

/**
 * Images and labels from two RAW (uncompressed) IDX files, read on demand. Example i is
 * [image float32 (flattened unless told), label int32 []]; image elements are multiplied by scale.
 */
export class IdxFileDataset implements Dataset<[Tensor, Tensor]> {
  readonly length: number;
  readonly imageShape: number[];
  readonly scale: number;
  private readonly images: RecordFile;
  private readonly labels: RecordFile;
  /** The image file's element type ('uint8' for Fashion-MNIST). */
  readonly imageType: IdxType;
  private readonly labelType: IdxType;
  private readonly outShape: number[];

  constructor(imagesPath: string, labelsPath: string, options: IdxFileOptions = {}) {
    const who = 'IdxFileDataset';
    const im = openIdx(who, imagesPath);
    const lb = openIdx(who, labelsPath);
    if (lb.recordShape.length !== 0) throw new Error(`${who}: ${labelsPath}: expected a 1-D label file, got records of shape [${lb.recordShape.join(', ')}]`);
    if (lb.type === 'float32' || lb.type === 'float64') throw new Error(`${who}: ${labelsPath}: expected integer labels, got ${lb.type}`);
    if (lb.file.count !== im.file.count) throw new Error(`${who}: ${imagesPath} holds ${im.file.count} images but ${labelsPath} holds ${lb.file.count} labels; expected the same count`);
    this.images = im.file;
    this.labels = lb.file;
    this.imageType = im.type;
    this.labelType = lb.type;
    this.imageShape = im.recordShape;
    this.scale = options.scale ?? (im.type === 'uint8' ? 1 / 255 : 1);
    this.outShape = options.flatten === false ? im.recordShape : [im.recordShape.reduce((a, b) => a * b, 1)];
    this.length = im.file.count;
  }

  get(index: number): [Tensor, Tensor] {
    checkIndex('IdxFileDataset.get', index, this.length);
    // A batch of one, viewed without its batch axis (the view shares the batch's storage).
    return scope(() => {
      const [x, y] = this.getBatch(Int32Array.of(index));
      return [reshape(x, this.outShape), reshape(y, [])];
    });
  }

  getBatch(indices: Int32Array): [Tensor, Tensor] {
    for (let i = 0; i < indices.length; i++) checkIndex('IdxFileDataset.getBatch', indices[i]!, this.length);
    const b = indices.length;
    const inner = this.outShape.reduce((a, c) => a * c, 1);
    const x = zeros([b, ...this.outShape]);
    const y = zeros([b], { dtype: 'int32' });
    const xd = x.data as Float32Array;
    const scale = this.scale;
    const uint8 = this.imageType === 'uint8';
    this.images.read(indices, (pos, bytes, off) => {
      const to = pos * inner;
      if (uint8) for (let j = 0; j < inner; j++) xd[to + j] = bytes[off + j]! * scale;
      else {
        const v = decodeBigEndian(this.imageType, bytes, off, inner);
        for (let j = 0; j < inner; j++) xd[to + j] = v[j]! * scale;
      }
    });
    const yd = y.data as Int32Array;
    this.labels.read(indices, (pos, bytes, off) => {
      yd[pos] = decodeBigEndian(this.labelType, bytes, off, 1)[0]!;
    });
    return [x, y];
  }

  /** Close the file descriptors (they reopen on the next read). */
  close(): void {
    this.images.close();
    this.labels.close();
  }
}

function openNpy(who: string, path: string): { file: RecordFile; header: NpyHeader } {
  const first = RecordFile.head(who, path, 12);
  const major = first.bytes[6];
  const len = first.bytes.length >= 12 ? (major === 1 ? first.bytes.readUInt16LE(8) + 10 : first.bytes.readUInt32LE(8) + 12) : 12;
  const { bytes, size } = RecordFile.head(who, path, len);
  const h = parseNpyHeader(who, path, bytes, size);
  if (h.shape.length === 0) throw new Error(`${who}: ${path}: expected an array with a first (example) dimension, got a scalar`);
  const recordBytes = h.shape.slice(1).reduce((a, b) => a * b, 1) * h.itemBytes;
  checkSize(who, path, size, h.dataOffset + h.shape[0]! * recordBytes, `header ${h.dataOffset} + ${h.shape[0]} records of ${recordBytes} bytes, shape (${h.shape.join(', ')}) ${h.descr}`);
  return { file: new RecordFile(who, path, h.dataOffset, recordBytes, h.shape[0]!), header: h };
}

/**
 * Features (and optionally labels) from .npy files, read on demand. Example i is
 * [features[i]] or [features[i], labels[i]], in the dtypes readNpy would give.
 */
export class NpyFileDataset implements Dataset<Tensor[]> {
  readonly length: number;
  private readonly parts: { file: RecordFile; header: NpyHeader; shape: number[]; dtype: DType }[];

  constructor(featuresPath: string, labelsPath?: string) {
    const who = 'NpyFileDataset';
    const paths = labelsPath === undefined ? [featuresPath] : [featuresPath, labelsPath];
    this.parts = paths.map((p) => {
      const { file, header } = openNpy(who, p);
      return { file, header, shape: header.shape.slice(1), dtype: header.dtype };
    });
    const [f, l] = this.parts;
    if (l && l.file.count !== f!.file.count) throw new Error(`${who}: ${featuresPath} holds ${f!.file.count} examples but ${labelsPath} holds ${l.file.count}; expected the same count`);
    this.length = f!.file.count;
  }

  get(index: number): Tensor[] {
    checkIndex('NpyFileDataset.get', index, this.length);
    return scope(() => this.getBatch(Int32Array.of(index)).map((t, k) => reshape(t, this.parts[k]!.shape)));
  }

  getBatch(indices: Int32Array): Tensor[] {
    for (let i = 0; i < indices.length; i++) checkIndex('NpyFileDataset.getBatch', indices[i]!, this.length);
    return this.parts.map(({ file, header, shape, dtype }) => {
      const inner = shape.reduce((a, b) => a * b, 1);
      const t = zeros([indices.length, ...shape], { dtype });
      const d = t.data;
      file.read(indices, (pos, bytes, off, fileOffset) => decodeNpy('NpyFileDataset', file.path, header, bytes, off, inner, d, pos * inner, fileOffset));
      return t;
    });
  }

  close(): void {
    for (const p of this.parts) p.file.close();
  }
}
