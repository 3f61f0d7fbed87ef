/**
 * The wasm backend's heap: one WebAssembly.Memory (shared when threads are available) carved into
 * 16-byte-aligned blocks. Block sizes are rounded up to size classes, four per power of two above
 * 256 bytes (so at most 25% is wasted), and freed blocks go on the free list of their class to be
 * reused by the next request of that class. New blocks come from a bump pointer; when it reaches
 * the end, the memory grows (by at least half its size, so growth is rare).
 *
 * Growing replaces memory.buffer (a plain buffer is detached, a shared one is superseded), so a
 * storage's `data` view is re-created whenever the buffer it was made on is no longer current.
 */
import type { DType, TypedArray } from '../../core/dtype.js';
import { bytesPerElement } from '../../core/dtype.js';
import type { Storage } from '../../core/storage.js';
import { noteAlloc, noteFree } from '../../core/storage.js';

const PAGE = 65536;
/** Bytes below this address are never handed out (address 0 stays invalid). */
const HEAP_BASE = 1024;

/** The size class a request of `bytes` is served from. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return Math.max(16, (bytes + 15) & ~15);
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 2);
  return Math.ceil(bytes / step) * step;
}

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  /** memory.buffer as of the last growth; views made on another buffer are stale. */
  buffer: ArrayBuffer | SharedArrayBuffer;
  private top = HEAP_BASE;
  private readonly free = new Map<number, number[]>();
  /** Bytes in blocks handed out and not returned (for tests). */
  liveBytes = 0;
  /** Clears `bytes` bytes at `ptr`; the runtime installs its Wasm memory.fill kernel here. */
  zero: (ptr: number, bytes: number) => void = (ptr, bytes) => new Uint8Array(this.buffer, ptr, bytes).fill(0);

  constructor(readonly initialPages: number, readonly maximumPages: number, readonly shared: boolean) {
    this.memory = new WebAssembly.Memory({ initial: initialPages, maximum: maximumPages, shared });
    this.buffer = this.memory.buffer;
  }

  /** Whether the block the last malloc returned is new memory (still all zeros). */
  lastWasFresh = false;

  /** A 16-byte-aligned block of at least `bytes` bytes (contents unspecified). */
  malloc(bytes: number): number {
    const cls = sizeClass(bytes);
    this.liveBytes += cls;
    const list = this.free.get(cls);
    this.lastWasFresh = false;
    if (list !== undefined && list.length > 0) return list.pop()!;
    this.lastWasFresh = true;
    const ptr = this.top;
    const end = ptr + cls;
    if (end > this.buffer.byteLength) this.grow(end);
    this.top = end;
    return ptr;
  }

  freeBlock(ptr: number, bytes: number): void {
    const cls = sizeClass(bytes);
    this.liveBytes -= cls;
    let list = this.free.get(cls);
    if (list === undefined) this.free.set(cls, (list = []));
    list.push(ptr);
  }

  private grow(end: number): void {
    const have = this.buffer.byteLength / PAGE;
    const need = Math.ceil(end / PAGE);
    const want = Math.min(this.maximumPages, Math.max(need, Math.ceil(have * 1.5)));
    if (need > this.maximumPages) {
      throw new RangeError(`wasm backend: out of memory: a block ending at ${end} bytes exceeds the ${this.maximumPages * PAGE}-byte maximum of the WebAssembly memory`);
    }
    this.memory.grow(want - have);
    this.buffer = this.memory.buffer;
  }
}

function viewOf(dtype: DType, buffer: ArrayBuffer | SharedArrayBuffer, ptr: number, size: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, ptr, size);
    case 'float64': return new Float64Array(buffer, ptr, size);
    case 'int32': return new Int32Array(buffer, ptr, size);
  }
}

/**
 * A block of the heap holding `size` elements of `dtype`, starting at byte address `ptr`.
 *
 * A storage reads as zeros until written, as the reference backend's do, but a reused block is
 * cleared lazily: most storages are outputs that a kernel overwrites entirely before anyone reads
 * them, and clearing those would cost a pass over memory each (4% of an MLP training step).
 * Kernels take `readPtr()` for what they read or partly write (clearing first if still pending)
 * and `writePtr()` for outputs they fill completely; `data` clears first as well.
 */
export class WasmStorage implements Storage {
  readonly backend = 'wasm';
  refs = 0;
  readonly ptr: number;
  private pendingZero: boolean;
  private view: TypedArray | null = null;
  private viewBuffer: ArrayBuffer | SharedArrayBuffer | null = null;

  constructor(private readonly heap: WasmHeap, readonly dtype: DType, readonly size: number) {
    this.ptr = heap.malloc(size * bytesPerElement(dtype));
    this.pendingZero = !heap.lastWasFresh;
    noteAlloc(dtype, size);
  }

  private settle(): void {
    if (this.pendingZero) {
      this.heap.zero(this.ptr, this.size * bytesPerElement(this.dtype));
      this.pendingZero = false;
    }
  }

  /** The address, for a kernel that reads the elements (or writes only some of them). */
  readPtr(): number {
    this.settle();
    return this.ptr;
  }

  /** The address, for a kernel that writes every element before anything reads them. */
  writePtr(): number {
    this.pendingZero = false;
    return this.ptr;
  }

  get data(): TypedArray {
    this.settle();
    const buf = this.heap.buffer;
    if (this.viewBuffer !== buf || this.view === null) {
      this.view = viewOf(this.dtype, buf, this.ptr, this.size);
      this.viewBuffer = buf;
    }
    return this.view;
  }

  release(): void {
    this.pendingZero = false; // the block is no longer ours to clear
    this.heap.freeBlock(this.ptr, this.size * bytesPerElement(this.dtype));
    this.view = null;
    this.viewBuffer = null;
    noteFree(this.dtype, this.size);
  }
}
