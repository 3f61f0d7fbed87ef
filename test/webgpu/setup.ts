/**
 * The webgpu backend for the tests in this folder, made once per file, or the reason it cannot be
 * (no `webgpu` package, no adapter): the tests then skip with that reason. On Linux the backend
 * points Vulkan at SwiftShader (Debian's chromium package) when VK_ICD_FILENAMES is unset.
 */
import { createWebgpuBackend } from '../../src/backend/webgpu/index.js';
import type { WebgpuBackend } from '../../src/backend/webgpu/index.js';

let made: Promise<WebgpuBackend | string> | null = null;

export function webgpu(): Promise<WebgpuBackend | string> {
  made ??= createWebgpuBackend().catch((e: Error) => `webgpu unavailable here: ${e.message}`);
  return made;
}
