/**
 * The webgpu backend for the tests in this folder, made once per file, or the reason it cannot be
 * (no `webgpu` package, no adapter): the tests then skip with that reason. On Linux the backend
 * points Vulkan at SwiftShader (Debian's chromium package) when VK_ICD_FILENAMES is unset.
 */
import type { TestContext } from 'node:test';
import { after, before } from 'node:test';
import { getBackend, registerBackend, setBackend } from '../../src/backend/index.js';
import { createWebgpuBackend } from '../../src/backend/webgpu/index.js';
import type { WebgpuBackend } from '../../src/backend/webgpu/index.js';

let made: Promise<WebgpuBackend | string> | null = null;

export function webgpu(): Promise<WebgpuBackend | string> {
  made ??= createWebgpuBackend().catch((e: Error) => `webgpu unavailable here: ${e.message}`);
  return made;
}

/**
 * The webgpu backend registered for one describe block (call it in the block: made before its
 * tests, destroyed after). The returned function gives the backend to a test, or skips the test
 * with the reason it cannot be made and gives undefined.
 */
export function webgpuSuite(): (t: TestContext) => WebgpuBackend | undefined {
  let b: WebgpuBackend | string = 'not made yet';
  before(async () => {
    b = await webgpu();
    if (typeof b !== 'string') registerBackend(b);
  });
  after(() => {
    if (typeof b !== 'string') b.destroy();
  });
  return (t) => {
    if (typeof b !== 'string') return b;
    t.skip(b);
    return undefined;
  };
}

/** fn's result with `name` as the current backend; the previous backend is restored after. */
export async function onBackend<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const prev = getBackend().name;
  setBackend(name);
  try {
    return await fn();
  } finally {
    setBackend(prev);
  }
}
