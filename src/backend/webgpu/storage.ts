/// <reference types="@webgpu/types" />
/**
 * A storage of the webgpu backend. Where its elements are authoritative:
 * - 'fresh': nowhere yet; they read as zeros.
 * - 'host': a host typed array (made by tensor(), randn(), a host fallback...); uploaded the first
 *   time a kernel reads it.
 * - 'synced': the host array and the GPU buffer agree (after an upload or an awaited read).
 * - 'device': only the GPU buffer (a kernel's output). Reading it synchronously throws an error
 *   naming the asynchronous call to use; `await read()` copies it back.
 * float64 storages always stay on the host (WGSL has no float64): the backend runs the reference
 * kernels on them (see index.ts).
 */
import type { DType, TypedArray } from '../../core/dtype.js';
import { bytesPerElement, newTypedArray } from '../../core/dtype.js';
import type { Storage } from '../../core/storage.js';
import { noteAlloc, noteFree } from '../../core/storage.js';
import type { Binding, GpuRuntime } from './runtime.js';

type Where = 'fresh' | 'host' | 'synced' | 'device';

export class GpuStorage implements Storage {
  readonly backend = 'webgpu';
  refs = 0;
  private buffer: GPUBuffer | null = null;
  private host: TypedArray | null = null;
  private where: Where = 'fresh';
  /** Bumped by every kernel write, so that a read finishing late does not install stale values. */
  private version = 0;

  constructor(
    private readonly rt: GpuRuntime,
    readonly dtype: DType,
    readonly size: number,
    /** Writes zeros into a buffer (the backend's fill kernel), for a fresh storage read by a kernel. */
    private readonly zero: (s: GpuStorage) => void,
  ) {
    noteAlloc(dtype, size);
  }

  get bytes(): number {
    return this.size * bytesPerElement(this.dtype);
  }

  /** True where a kernel can read the elements on the host without a GPU round trip. */
  get onHost(): boolean {
    return this.dtype === 'float64' || this.where !== 'device';
  }

  get data(): TypedArray {
    if (this.where === 'device') {
      throw new Error(
        `webgpu: this ${this.dtype} storage of ${this.size} elements lives in GPU memory and cannot be read synchronously; read it with \`await t.dataAsync()\` (or \`await t.itemAsync()\`, \`await t.toArrayAsync()\`)`,
      );
    }
    this.host ??= newTypedArray(this.dtype, this.size);
    // the caller may write into the array: the host copy becomes the authoritative one
    this.where = 'host';
    return this.host;
  }

  async read(): Promise<TypedArray> {
    if (this.where !== 'device') return (this.host ?? newTypedArray(this.dtype, this.size)).slice();
    const v = this.version;
    const raw = await this.rt.readBuffer(this.buffer!, this.bytes);
    const out = this.dtype === 'int32' ? new Int32Array(raw) : new Float32Array(raw);
    if (this.version === v && this.where === 'device') {
      this.host = out.slice();
      this.where = 'synced';
    }
    return out;
  }

  /** The buffer to bind for a kernel that reads the elements (uploading host values first). */
  input(): Binding {
    if (this.where === 'host') {
      if (this.buffer) this.rt.releaseBuffer(this.buffer);
      this.buffer = this.rt.upload(this.host!, this.bytes);
      this.where = 'synced';
    } else if (this.where === 'fresh') {
      this.zero(this);
    }
    return { buffer: this.buffer!, size: this.bytes };
  }

  /** The buffer to bind for a kernel that writes every element. */
  output(): Binding {
    this.buffer ??= this.rt.acquire(this.bytes);
    this.where = 'device';
    this.host = null;
    this.version++;
    return { buffer: this.buffer, size: this.bytes };
  }

  /** The buffer to bind for a kernel that reads and writes (scatter-adds, strided copies). */
  inout(): Binding {
    this.input();
    return this.output();
  }

  release(): void {
    if (this.buffer) this.rt.releaseBuffer(this.buffer);
    this.buffer = null;
    this.host = null;
    noteFree(this.dtype, this.size);
  }
}
