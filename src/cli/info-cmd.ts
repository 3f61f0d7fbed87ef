/** `descent info`: where Descent computes here, one fact a line (or --json). */
import type { Backend } from '../backend/index.js';
import { getBackend, listBackends, wasmFeatures } from '../backend/index.js';
import { nativeStatus } from '../backend/native/addon.js';
import { nativeGemmActive } from '../backend/wasm/native-gemm.js';
import type { Command } from 'commander';
import { defineCommand, type ExitCode } from './command.js';
import { BACKEND_OPTION, useBackendAsync } from './options.js';
import { stdout } from './io.js';
import { mpiStatus } from '../distributed/mpi.js';

/** What `descent info` reports. Later backends (native kernels, WebGPU, MPI) add their facts here. */
export interface RuntimeInfo {
  backend: string;
  backends: string[];
  threads: number;
  wasm: { simd: boolean; relaxedSimd: boolean; threads: boolean };
  /** The native kernels (issue 15): which ISA path runs the wasm backend's products (and the other kernels listed), or why none does. */
  native: { available: boolean; reason?: string; isa?: string; kernels?: string[] };
  /** WebGPU (--backend webgpu): the adapter it would train on, or why it cannot start here. */
  webgpu: { available: true; adapter: string; fallback: boolean } | { available: false; reason: string };
  /** The MPI addon (data-parallel training under mpirun): built and loadable, or why not. */
  mpi: { available: boolean; reason?: string };
  node: string;
}

export async function runtimeInfo(backendName?: string): Promise<RuntimeInfo> {
  const { backend, threads } = await useBackendAsync(backendName);
  const { isCpuAdapter, probeWebgpu } = await import('../backend/webgpu/device.js');
  const adapter = (getBackend() as Backend & { adapter?: string }).adapter ?? 'unknown';
  const webgpu: RuntimeInfo['webgpu'] = backend === 'webgpu' ? { available: true, adapter, fallback: isCpuAdapter(adapter, false) } : await probeWebgpu();
  return {
    backend,
    backends: listBackends(),
    threads,
    wasm: { ...wasmFeatures() },
    native: nativeInfo(backend),
    webgpu,
    mpi: mpiStatus(),
    node: process.version,
  };
}

/** What the addon runs under the wasm backend (float32; everything else stays in wasm). */
const NATIVE_KERNELS = ['gemm', 'sgd', 'sum of squares', 'col2im', 'strided copy'] as const;

function nativeInfo(backend: string): RuntimeInfo['native'] {
  const s = nativeStatus();
  if (!s.loaded) return { available: false, reason: s.reason ?? 'unknown' };
  if (!nativeGemmActive()) return { available: false, reason: 'built, but turned off in this process', isa: s.isa };
  if (backend !== 'wasm')
    return { available: true, isa: s.isa, kernels: [], reason: `used under the wasm backend; the ${backend} backend runs its own kernels` };
  return { available: true, isa: s.isa, kernels: [...NATIVE_KERNELS] };
}

function lines(i: RuntimeInfo): string[] {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  return [
    `backend: ${i.backend}`,
    `backends available: ${i.backends.join(', ')}`,
    `threads: ${i.threads}`,
    `wasm simd: ${yes(i.wasm.simd)}`,
    `wasm relaxed simd: ${yes(i.wasm.relaxedSimd)}`,
    `wasm threads: ${yes(i.wasm.threads)}`,
    i.native.available
      ? `native kernels: ${i.native.isa} (${i.native.kernels?.length ? i.native.kernels.join(', ') : i.native.reason})`
      : `native kernels: absent (${i.native.reason})`,
    i.webgpu.available
      ? `webgpu: ${i.webgpu.adapter}${i.webgpu.fallback ? ' (a CPU adapter: slower than the wasm backend; --backend webgpu only on request)' : ' (--backend webgpu)'}`
      : `webgpu: absent (${i.webgpu.reason})`,
    i.mpi.available ? 'mpi: addon built (mpirun -np N descent train ... trains data-parallel)' : `mpi: absent (${i.mpi.reason})`,
    `node: ${i.node}`,
  ];
}

export function registerInfo(program: Command, exit?: ExitCode): void {
  defineCommand(
    program,
    {
      name: 'info',
      description: 'print where Descent computes here: the backend, threads and WebAssembly features',
      options: {
        backend: BACKEND_OPTION,
        json: { flags: '--json', help: 'print the facts as one JSON object' },
      },
      help: '\nExamples:\n  $ descent info\n  $ descent info --backend js --json\n  $ DESCENT_BACKEND=js descent info',
      run: async (_args, opts) => {
        const info = await runtimeInfo(BACKEND_OPTION.parse('--backend', opts.backend));
        stdout(opts.json ? JSON.stringify(info) + '\n' : lines(info).join('\n') + '\n');
        return 0;
      },
    },
    exit,
  );
}
