/** Whole computations on the wasm backend against the reference backend: a small MLP's loss and gradients. */
import '../helpers.js';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import { assertClose } from '../helpers.js';

/** Loss and gradients of a 33-257-7 ReLU MLP with cross-entropy, on backend `name`, from the same seed. */
function run(name: string): d.NestedArray[] {
  const prev = d.getBackend().name;
  d.setBackend(name);
  try {
    const g = new d.Generator(3);
    const w1 = d.randn([257, 33], { generator: g }),
      b1 = d.randn([257], { generator: g });
    const w2 = d.randn([7, 257], { generator: g }),
      b2 = d.randn([7], { generator: g });
    const x = d.randn([65, 33], { generator: g }),
      y = d.randint(0, 7, [65], { generator: g });
    const { value, grads } = d.valueAndGrad(() => {
      const logits = d.linear(d.relu(d.linear(x, w1, b1)), w2, b2);
      return d.neg(d.mean(d.gather(d.logSoftmax(logits, -1), 1, d.reshape(y, [-1, 1]))));
    }, [w1, b1, w2, b2]);
    return [value.toArray(), ...[w1, b1, w2, b2].map((w) => grads.get(w).toArray())];
  } finally {
    d.setBackend(prev);
  }
}

describe('wasm backend vs reference on a whole training step', () => {
  it('an MLP gives the same loss and gradients (float32 GEMM accumulation aside)', () => {
    const ref = run('js'),
      fast = run('wasm');
    // sums of 257 float32 products accumulate in float32 on wasm: relative error ~ 257 * 2^-24
    ref.forEach((r, i) => assertClose(fast[i]!, r, { rtol: 1e-4, atol: 1e-4 }, `output ${i}`));
  });
});
