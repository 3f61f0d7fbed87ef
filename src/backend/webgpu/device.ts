/// <reference types="@webgpu/types" />
/**
 * Finding a WebGPU device: `navigator.gpu` in browsers; in Node, the `webgpu` npm package (Dawn's
 * binding, an optional peer dependency), loaded only here and only by a dynamic import, so that the
 * package root stays free of Node-only imports.
 */

/** Debian's chromium package installs SwiftShader's Vulkan driver here (a CPU WebGPU adapter). */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

interface NodeProcessLike {
  versions?: { node?: string };
  env: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
}

function nodeProcess(): NodeProcessLike | undefined {
  const p = (globalThis as { process?: NodeProcessLike }).process;
  return p?.versions?.node ? p : undefined;
}

/**
 * In Node without a Vulkan driver chosen: point Vulkan at SwiftShader when it is installed (Mesa's
 * lavapipe, the other driver Debian has, is refused by Dawn). Must run before the GPU is created.
 */
function defaultVulkanDriver(proc: NodeProcessLike): void {
  if (proc.env.VK_ICD_FILENAMES || proc.env.VK_DRIVER_FILES) return;
  // process.getBuiltinModule, not an import: a bundle of the root must not name node:* at all
  const fs = proc.getBuiltinModule?.('node:fs') as { existsSync(p: string): boolean } | undefined;
  if (fs?.existsSync(SWIFTSHADER_ICD)) proc.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  proc.env.NODEVICE_SELECT ??= '1'; // silences Mesa's device-select layer (XDG_RUNTIME_DIR warnings)
}

let nodeGpu: GPU | null = null;

/** The GPU object: navigator.gpu, else (Node) the `webgpu` package's create(). */
export async function findGpu(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const proc = nodeProcess();
  if (!proc) throw new Error('webgpu backend: this runtime has no navigator.gpu (WebGPU is not available here)');
  if (nodeGpu) return nodeGpu;
  defaultVulkanDriver(proc);
  const pkg = 'webgpu';
  let mod: { create(options: string[]): GPU; globals: Record<string, unknown> };
  try {
    mod = (await import(/* @vite-ignore */ pkg)) as typeof mod;
  } catch (e) {
    throw new Error(`webgpu backend: Node has no WebGPU of its own; install Dawn's binding with \`npm install webgpu\` (${(e as Error).message})`);
  }
  // GPUBufferUsage, GPUMapMode, ... are globals in browsers; the package provides them for Node
  for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  nodeGpu = mod.create([]);
  return nodeGpu;
}

/** Whether an adapter computes on the CPU (SwiftShader, llvmpipe/lavapipe, or a fallback adapter), from its name or architecture. */
export function isCpuAdapter(name: string, isFallback: boolean): boolean {
  return isFallback || /swiftshader|llvmpipe|lavapipe/i.test(name);
}

/**
 * Whether WebGPU can start here, without keeping anything: the adapter's name, or why not (for
 * `descent info`). The device found is destroyed at once.
 */
export async function probeWebgpu(): Promise<{ available: true; adapter: string; fallback: boolean } | { available: false; reason: string }> {
  try {
    const d = await requestDevice();
    d.device.destroy();
    return { available: true, adapter: d.adapterName, fallback: isCpuAdapter(d.adapterName, d.isFallback) };
  } catch (e) {
    return { available: false, reason: (e as Error).message.split('\n')[0]!.replace(/^webgpu backend: /, '') };
  }
}

export interface GpuDeviceInfo {
  device: GPUDevice;
  /** The adapter's vendor and architecture, e.g. 'google swiftshader'. */
  adapterName: string;
  architecture: string;
  isFallback: boolean;
}

export async function requestDevice(): Promise<GpuDeviceInfo> {
  const gpu = await findGpu();
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    const hint = nodeProcess()
      ? ` (in Node on Linux, set VK_ICD_FILENAMES to a Vulkan driver Dawn accepts, e.g. ${SWIFTSHADER_ICD} from Debian's chromium package, and install libvulkan1)`
      : '';
    throw new Error(`webgpu backend: no WebGPU adapter${hint}`);
  }
  const lim = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      maxBufferSize: lim.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(lim.maxStorageBuffersPerShaderStage, 10),
    },
  });
  const info = (adapter as unknown as { info?: { vendor: string; architecture: string; description: string } }).info ?? {
    vendor: '',
    architecture: '',
    description: '',
  };
  return {
    device,
    adapterName: `${info.vendor} ${info.architecture} ${info.description}`.trim(),
    architecture: info.architecture,
    isFallback: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
  };
}
