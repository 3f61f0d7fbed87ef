/**
 * The backend contract (test/backend/contract-cases.ts) on the webgpu backend, against the
 * reference, by the guarantees it declares; each check of a GPU storage is read back
 * asynchronously and compared when the case has run (Contract.settle).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WebgpuBackend } from '../../src/backend/webgpu/index.js';
import { CONTRACT } from '../backend/contract-cases.js';
import { Contract, provides } from '../backend/contract.js';
import type { KernelName } from '../backend/contract.js';
import { webgpu } from './setup.js';

const KERNELS = Object.keys(CONTRACT) as KernelName[];
let b: WebgpuBackend | string = 'not made yet';

describe('backend contract: webgpu', () => {
  before(async () => {
    b = await webgpu();
  });
  after(() => {
    if (typeof b !== 'string') b.destroy();
  });

  for (const k of KERNELS) {
    it(k, async (t) => {
      if (typeof b === 'string') return t.skip(b);
      if (!provides(b, k)) return t.skip(`webgpu has no ${k}: the ops use the reference loop`);
      const c = new Contract(b, 1 + KERNELS.indexOf(k));
      try {
        CONTRACT[k](c);
        await c.settle();
      } finally {
        c.done();
      }
    });
  }

  it('has a contract case for every kernel it provides (memory, sync, flush and destroy are not kernels)', (t) => {
    if (typeof b === 'string') return t.skip(b);
    const gpu = b as unknown as Record<string, unknown>;
    const methods = Object.keys(gpu).filter((k) => typeof gpu[k] === 'function' && !['memory', 'sync', 'flush', 'destroy'].includes(k));
    for (const m of methods) assert.ok(m in CONTRACT, `webgpu.${m} has no contract case`);
    assert.ok(methods.includes('matmul') && methods.includes('col2im'));
  });

  it('declares what SwiftShader gives: finite values only, subnormals flushed', (t) => {
    if (typeof b === 'string') return t.skip(b);
    assert.deepEqual([b.guarantees.specials, b.guarantees.subnormals], ['finite-only', 'flushed']);
  });
});
