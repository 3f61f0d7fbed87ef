import type { DType, TypedArray } from './dtype.js';
import { bytesPerElement } from './dtype.js';

/**
 * A block of elements owned by a backend. Tensors reference storage (a reshape shares it), and
 * the storage is released when its last tensor is freed. `data` is a typed-array view of the
 * elements; on backends whose memory can grow, take it afresh after any allocation.
 */
export interface Storage {
  readonly dtype: DType;
  readonly size: number;
  readonly backend: string;
  readonly data: TypedArray;
  /** Number of tensors referencing this storage. */
  refs: number;
  /**
   * Optional (GPU backends): a copy of the elements as they are after every kernel issued so far.
   * Where it exists, `data` may throw for elements that live only in device memory.
   */
  read?(): Promise<TypedArray>;
  /** GPU storages: whether the host holds the current elements (then `data` reads them synchronously). */
  readonly onHost?: boolean;
  /** Return the memory to the backend (called once refs reaches 0). */
  release(): void;
}

/** Live-memory accounting shared by every backend: what has been allocated and not yet released. */
const counters = { storages: 0, bytes: 0, tensors: 0, peakBytes: 0 };

export function noteAlloc(dtype: DType, size: number): void {
  counters.storages++;
  counters.bytes += size * bytesPerElement(dtype);
  if (counters.bytes > counters.peakBytes) counters.peakBytes = counters.bytes;
}

export function noteFree(dtype: DType, size: number): void {
  counters.storages--;
  counters.bytes -= size * bytesPerElement(dtype);
}

export function noteTensor(delta: 1 | -1): void {
  counters.tensors += delta;
}

export interface MemoryInfo {
  /** Tensors created and not yet freed (by a scope's end, dispose(), or garbage collection). */
  tensors: number;
  /** Storage blocks alive. */
  storages: number;
  /** Bytes held by live storage. */
  bytes: number;
  /** Highest `bytes` seen since the start (or the last resetPeak). */
  peakBytes: number;
}

export function memory(): MemoryInfo {
  return { ...counters };
}

export function resetPeakMemory(): void {
  counters.peakBytes = counters.bytes;
}

/** Whether the host can read the elements synchronously now: always on CPU backends; on a GPU backend while a host copy is current. */
export function hostReadable(s: Storage): boolean {
  return !onDevice(s) || s.onHost === true;
}

/** Whether a storage belongs to a GPU backend, where reads may have to be asynchronous (see `read`). */
export function onDevice(s: Storage): boolean {
  return s.read !== undefined;
}
