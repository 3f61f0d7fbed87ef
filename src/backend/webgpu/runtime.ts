/// <reference types="@webgpu/types" />
/**
 * The WebGPU runtime under the webgpu backend: one device, a pool of storage buffers, a cache of
 * compute pipelines, and one command encoder that collects every dispatch until something must be
 * read (or a pool limit is hit), so that a training step is a few submissions, not one per op.
 *
 * Ordering: kernels are encoded in program order, so a buffer released by one op can be written by
 * the next op of the same encoder. Host uploads (queue.writeBuffer) happen before the next submit,
 * so they only ever target buffers that no unsubmitted command uses: released buffers wait in
 * `released` until the submit that last used them, and only then return to the free pool.
 */

/** Kernel parameters (sizes, strides, scalars) live in one arena, uploaded once per submission. */
const ARENA_WORDS = 1 << 16;
/** Storage-buffer binding offsets must be multiples of 256 bytes (64 words). */
const ALIGN_WORDS = 64;
/** Flush after this many dispatches or this many released bytes waiting for a submit. */
const MAX_DISPATCHES = 1024; // also what the arena holds: 2^16 words in 64-word slots
const MAX_RELEASED_BYTES = 256 << 20;

export interface GpuMemoryInfo {
  /** Bytes of buffers held by live storages. */
  bytesInUse: number;
  /** Bytes of buffers kept for reuse (free, or released and waiting for the next submit). */
  bytesPooled: number;
  /** Buffers created since the device was made (a leak shows as a count that keeps growing). */
  buffersCreated: number;
  /** Command submissions so far. */
  submits: number;
}

export interface Binding {
  buffer: GPUBuffer;
  /** Bytes to bind (a multiple of 4, at least 4). */
  size: number;
}

export class GpuRuntime {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatches = 0;
  private readonly arena = new Uint32Array(ARENA_WORDS);
  private arenaUsed = 0;
  private readonly paramsBuffer: GPUBuffer;
  private readonly free = new Map<number, GPUBuffer[]>();
  private released: GPUBuffer[] = [];
  private releasedBytes = 0;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly mem = { bytesInUse: 0, bytesPooled: 0, buffersCreated: 0, submits: 0 };

  constructor(
    readonly device: GPUDevice,
    /**
     * The adapter's architecture ('swiftshader' on the CPU fallback), on which the backend chooses
     * its GEMM (wgsl-gemm.ts gemmKernelFor): barrier-free there, tiled in workgroup memory elsewhere.
     */
    readonly architecture: string,
  ) {
    // a kernel that fails validation writes nothing: remember why, and fail the next read with it
    device.onuncapturederror = (e) => (this.error ??= new Error(`webgpu: ${e.error.message}`));
    this.paramsBuffer = device.createBuffer({ size: ARENA_WORDS * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  }

  private error: Error | null = null;
  private scratchBuffer: GPUBuffer | null = null;

  /** A small buffer to bind where a kernel has a slot it will not use on this call. */
  scratch(): Binding {
    this.scratchBuffer ??= this.device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
    return { buffer: this.scratchBuffer, size: 4 };
  }

  private scratchReadBuffer: GPUBuffer | null = null;

  /** A small read-only buffer for an unused input slot (not aliasing any real input). */
  scratchRead(): Binding {
    this.scratchReadBuffer ??= this.device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
    return { buffer: this.scratchReadBuffer, size: 4 };
  }

  memory(): GpuMemoryInfo {
    return { ...this.mem };
  }

  /** A storage buffer of at least `bytes` (sizes are powers of two from 256 bytes, pooled by size). */
  acquire(bytes: number): GPUBuffer {
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(bytes, 1))));
    const list = this.free.get(size);
    const reused = list?.pop();
    if (reused) {
      this.mem.bytesPooled -= size;
      this.mem.bytesInUse += size;
      return reused;
    }
    this.mem.buffersCreated++;
    this.mem.bytesInUse += size;
    return this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  }

  /** Give a buffer back: reusable by anything once the commands encoded so far are submitted. */
  releaseBuffer(b: GPUBuffer): void {
    this.released.push(b);
    this.releasedBytes += b.size;
    this.mem.bytesInUse -= b.size;
    this.mem.bytesPooled += b.size;
    if (this.releasedBytes > MAX_RELEASED_BYTES) this.flush();
  }

  /** Copy host values into a buffer taken from the free pool (see the ordering note at the top). */
  upload(values: ArrayBufferView, bytes: number): GPUBuffer {
    const b = this.acquire(bytes);
    if (bytes > 0) this.device.queue.writeBuffer(b, 0, values.buffer, values.byteOffset, bytes);
    return b;
  }

  private pipeline(key: string, wgsl: () => string): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: wgsl() });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /**
   * Encode one dispatch of the kernel `key` (its WGSL made by `wgsl` the first time): binding 0 is
   * `params` (read as array<u32>), bindings 1.. are `buffers` in order.
   */
  dispatch(key: string, wgsl: () => string, params: ArrayLike<number>, buffers: readonly Binding[], groups: number | [number, number]): void {
    const words = Math.max(params.length, 1);
    if (this.arenaUsed + words > ARENA_WORDS) this.flush();
    const offset = this.arenaUsed;
    this.arena.set(params, offset);
    this.arenaUsed += Math.ceil(words / ALIGN_WORDS) * ALIGN_WORDS;
    const pipe = this.pipeline(key, wgsl);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.paramsBuffer, offset: offset * 4, size: words * 4 } }];
    buffers.forEach((b, i) => entries.push({ binding: i + 1, resource: { buffer: b.buffer, offset: 0, size: Math.max(4, b.size) } }));
    const group = this.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });
    const pass = this.computePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, group);
    const [gx, gy] = typeof groups === 'number' ? [groups, 1] : groups;
    pass.dispatchWorkgroups(gx, gy);
    if (++this.dispatches >= MAX_DISPATCHES) this.flush();
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    return this.pass;
  }

  /** Submit everything encoded so far; released buffers become free for any use. */
  flush(): void {
    this.pass?.end();
    this.pass = null;
    if (this.encoder) {
      if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.paramsBuffer, 0, this.arena.buffer, 0, this.arenaUsed * 4);
      this.device.queue.submit([this.encoder.finish()]);
      this.mem.submits++;
    }
    this.encoder = null;
    this.dispatches = 0;
    this.arenaUsed = 0;
    for (const b of this.released) {
      const list = this.free.get(b.size);
      if (list) list.push(b);
      else this.free.set(b.size, [b]);
    }
    this.released = [];
    this.releasedBytes = 0;
  }

  /**
   * The first `bytes` of a buffer as they are after every command encoded so far: the copy is
   * encoded now (a snapshot in program order), submitted at once, and mapped when the GPU is done.
   */
  async readBuffer(src: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, 0, staging, 0, size);
    this.flush();
    await staging.mapAsync(GPUMapMode.READ);
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    if (this.error) throw this.error;
    return out;
  }

  /** Wait until the GPU has finished everything submitted. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  destroy(): void {
    this.flush();
    this.device.destroy();
  }
}
