/** Convolution and pooling ops (NCHW): hand-worked values, a direct-loop reference, errors, backends. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../api/internal.js';
import type { Tensor } from '../../src/index.js';
import { assertClose, flat } from '../helpers.js';

const img = (rows: number[][], dtype: 'float32' | 'float64' = 'float64') => d.tensor([[rows]], { dtype });
/** x = [[1,2,3],[4,5,6],[7,8,9]] as [1, 1, 3, 3] */
const X3 = () =>
  img([
    [1, 2, 3],
    [4, 5, 6],
    [7, 8, 9],
  ]);

/** The definition, as loops: out[n,o,y,x] = b[o] + sum_{c,i,j} w[o,c,i,j] xpad[n, g*Cg + c, y*sh + i*dh, x*sw + j*dw]. */
function conv2dLoops(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  o: { stride: [number, number]; padding: [number, number]; dilation: [number, number]; groups: number },
): number[] {
  const [N, C, H, W] = x.shape as number[] as [number, number, number, number];
  const [O, Cg, KH, KW] = w.shape as number[] as [number, number, number, number];
  const [sh, sw] = o.stride,
    [ph, pw] = o.padding,
    [dh, dw] = o.dilation;
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1,
    OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  const xd = flat(x),
    wd = flat(w),
    bd = b ? flat(b) : null;
  const out: number[] = [];
  const og = O / o.groups;
  for (let n = 0; n < N; n++)
    for (let oc = 0; oc < O; oc++)
      for (let y = 0; y < OH; y++)
        for (let xx = 0; xx < OW; xx++) {
          let s = bd ? bd[oc]! : 0;
          const g = Math.floor(oc / og);
          for (let c = 0; c < Cg; c++)
            for (let i = 0; i < KH; i++)
              for (let j = 0; j < KW; j++) {
                const r = y * sh + i * dh - ph,
                  q = xx * sw + j * dw - pw;
                if (r < 0 || r >= H || q < 0 || q >= W) continue;
                s += wd[((oc * Cg + c) * KH + i) * KW + j]! * xd[((n * C + g * Cg + c) * H + r) * W + q]!;
              }
          out.push(s);
        }
  return out;
}

describe('conv2d: hand-worked values', () => {
  it('a 2x2 filter [[1,0],[0,-1]] takes x[i,j] - x[i+1,j+1] = -4 everywhere; the bias adds', () => {
    const w = img([
      [1, 0],
      [0, -1],
    ]);
    assert.deepEqual(d.conv2d(X3(), w).toArray(), [
      [
        [
          [-4, -4],
          [-4, -4],
        ],
      ],
    ]);
    assert.deepEqual(d.conv2d(X3(), w, d.tensor([0.5], { dtype: 'float64' })).toArray(), [
      [
        [
          [-3.5, -3.5],
          [-3.5, -3.5],
        ],
      ],
    ]);
  });

  it('stride 2 with padding 1: a 2x2 sum filter over the zero-bordered 5x5 image', () => {
    // windows start at padded rows/cols 0 and 2: (0,0) sees only x[0,0] = 1; (0,2) sees x[0,1] + x[0,2] = 5;
    // (2,0) sees x[1,0] + x[2,0] = 11; (2,2) sees 5 + 6 + 8 + 9 = 28
    const w = img([
      [1, 1],
      [1, 1],
    ]);
    assert.deepEqual(d.conv2d(X3(), w, null, { stride: 2, padding: 1 }).toArray(), [
      [
        [
          [1, 5],
          [11, 28],
        ],
      ],
    ]);
  });

  it("dilation 2 spreads the taps: one output x[0,0] + x[0,2] + x[2,0] + x[2,2] = 20; 'same' pads bottom/right", () => {
    const w = img([
      [1, 1],
      [1, 1],
    ]);
    assert.deepEqual(d.conv2d(X3(), w, null, { dilation: 2 }).toArray(), [[[[20]]]]);
    // 'same' with k = 2: total padding 1, all of it after (PyTorch); out[i,j] = sum of x[i..i+1, j..j+1] inside
    assert.deepEqual(d.conv2d(X3(), w, null, { padding: 'same' }).toArray(), [
      [
        [
          [12, 16, 9],
          [24, 28, 15],
          [15, 17, 9],
        ],
      ],
    ]);
  });

  it('groups: each output channel sees only its own group of input channels', () => {
    // x has channels [2, 3] (1x1 pixels); groups = 2, w = [10, 100]: outputs 2*10 = 20 and 3*100 = 300
    const x = d.tensor([[[[2]], [[3]]]], { dtype: 'float64' });
    const w = d.tensor([[[[10]]], [[[100]]]], { dtype: 'float64' });
    assert.deepEqual(d.conv2d(x, w, null, { groups: 2 }).toArray(), [[[[20]], [[300]]]]);
  });

  it('gradients of sum(conv2d(x, w)) by hand', () => {
    const x = X3(),
      w = img([
        [1, 0],
        [0, -1],
      ]);
    const g = d.grad(() => d.sum(d.conv2d(x, w)), [x, w]);
    // dL/dw[i,j] = sum over the 4 windows of x[y+i, x+j] = the 2x2 block of x at (i, j)
    assert.deepEqual(g.get(w).toArray(), [
      [
        [
          [12, 16],
          [24, 28],
        ],
      ],
    ]);
    // dL/dx[h,v] = sum of the taps w[i,j] whose window covers (h,v): corners get one tap, the centre all four (1+0+0-1)
    assert.deepEqual(g.get(x).toArray(), [
      [
        [
          [1, 1, 0],
          [1, 0, -1],
          [0, -1, -1],
        ],
      ],
    ]);
  });

  it('matches the direct loops on random inputs with stride, padding, dilation and groups', () => {
    const gen = new d.Generator(5);
    const cases = [
      { x: [2, 3, 7, 6], w: [4, 3, 3, 3], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 },
      { x: [1, 4, 9, 8], w: [6, 2, 3, 2], stride: [2, 3], padding: [2, 1], dilation: [1, 2], groups: 2 },
      { x: [3, 3, 5, 5], w: [3, 1, 2, 2], stride: [1, 2], padding: [1, 1], dilation: [2, 1], groups: 3 },
    ] as const;
    for (const c of cases) {
      const x = d.randn([...c.x], { dtype: 'float64', generator: gen }),
        w = d.randn([...c.w], { dtype: 'float64', generator: gen }),
        b = d.randn([c.w[0]], { dtype: 'float64', generator: gen });
      const o = {
        stride: [...c.stride] as [number, number],
        padding: [...c.padding] as [number, number],
        dilation: [...c.dilation] as [number, number],
        groups: c.groups,
      };
      assertClose(flat(d.conv2d(x, w, b, o)), conv2dLoops(x, w, b, o), { atol: 1e-12 }, JSON.stringify(c));
    }
  });

  it('names the op and the shapes in its errors', () => {
    assert.throws(() => d.conv2d(d.zeros([1, 3, 5, 5]), d.zeros([2, 2, 3, 3])), /conv2d: input \[1, 3, 5, 5\] and weight \[2, 2, 3, 3\] do not fit groups=1/);
    assert.throws(() => d.conv2d(d.zeros([1, 1, 2, 2]), d.zeros([1, 1, 3, 3])), /im2col: a 3x3 window .* does not fit in the \(padded\) input \[1, 1, 2, 2\]/);
    assert.throws(() => d.conv2d(d.zeros([1, 1, 5, 5]), d.zeros([1, 1, 3, 3]), null, { padding: 'same', stride: 2 }), /conv2d: padding 'same' needs stride 1/);
    assert.throws(() => d.conv2d(d.zeros([1, 5, 5]), d.zeros([1, 1, 3, 3])), /conv2d: expects input \[N, C, H, W\]/);
    assert.throws(() => d.conv2d(d.zeros([1, 1, 5, 5]), d.zeros([2, 1, 3, 3]), d.zeros([3])), /conv2d: bias must have shape \[2\], got \[3\]/);
  });
});

describe('unfold / fold (PyTorch layout [N, C kh kw, L])', () => {
  it('unfold lists each tap across the windows; fold of ones counts how many windows cover each pixel', () => {
    // windows l = 0..3 at (0,0), (0,1), (1,0), (1,1); row (i,j) holds x[y+i, x+j]
    assert.deepEqual(d.unfold(X3(), 2).toArray(), [
      [
        [1, 2, 4, 5],
        [2, 3, 5, 6],
        [4, 5, 7, 8],
        [5, 6, 8, 9],
      ],
    ]);
    // a corner pixel lies in 1 window, an edge pixel in 2, the centre in 4
    assert.deepEqual(d.fold(d.ones([1, 4, 4], { dtype: 'float64' }), 3, 2).toArray(), [
      [
        [
          [1, 2, 1],
          [2, 4, 2],
          [1, 2, 1],
        ],
      ],
    ]);
  });
});

describe('pooling', () => {
  const X4 = () => d.reshape(d.arange(0, 16, 1, { dtype: 'float64' }), [1, 1, 4, 4]);

  it('maxPool2d 2x2 picks each block maximum; the gradient goes to it (to the first one on ties)', () => {
    const x = X4();
    assert.deepEqual(d.maxPool2d(x, 2).toArray(), [
      [
        [
          [5, 7],
          [13, 15],
        ],
      ],
    ]);
    const g = d.grad(() => d.sum(d.maxPool2d(x, 2)), [x]).get(x);
    assert.deepEqual(flat(g), [0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1]);
    const ties = d.ones([1, 1, 2, 4], { dtype: 'float64' });
    assert.deepEqual(flat(d.grad(() => d.sum(d.maxPool2d(ties, 2)), [ties]).get(ties)), [1, 0, 1, 0, 0, 0, 0, 0]);
  });

  it('maxPool2d with padding never picks the padding; NaN propagates; odd sizes drop the last row', () => {
    // 3x3 windows, stride 2, padding 1 on -x: window (0,0) covers -1, -2, -4, -5 (and padding) -> -1
    const neg = d.neg(X3());
    assert.deepEqual(d.maxPool2d(neg, 3, { stride: 2, padding: 1 }).toArray(), [
      [
        [
          [-1, -2],
          [-4, -5],
        ],
      ],
    ]);
    const withNaN = img([
      [1, NaN],
      [3, 4],
    ]);
    assert.ok(Number.isNaN(d.maxPool2d(withNaN, 2).item()));
    assert.deepEqual(d.maxPool2d(X3(), 2).toArray(), [[[[5]]]]);
    assert.throws(() => d.maxPool2d(X3(), 2, { padding: 2 }), /maxPool2d: padding \[2, 2\] must be at most half the kernel size/);
  });

  it('avgPool2d averages each window; countIncludePad decides the divisor at the border', () => {
    // (0+1+4+5)/4 = 2.5, (2+3+6+7)/4 = 4.5, (8+9+12+13)/4 = 10.5, (10+11+14+15)/4 = 12.5
    assert.deepEqual(d.avgPool2d(X4(), 2).toArray(), [
      [
        [
          [2.5, 4.5],
          [10.5, 12.5],
        ],
      ],
    ]);
    // [[1,2],[3,4]] padded by 1, 2x2 windows with stride 2: each window holds one real pixel and 3 zeros
    const x = img([
      [1, 2],
      [3, 4],
    ]);
    assert.deepEqual(d.avgPool2d(x, 2, { padding: 1 }).toArray(), [
      [
        [
          [0.25, 0.5],
          [0.75, 1],
        ],
      ],
    ]);
    assert.deepEqual(d.avgPool2d(x, 2, { padding: 1, countIncludePad: false }).toArray(), [
      [
        [
          [1, 2],
          [3, 4],
        ],
      ],
    ]);
    // d/dx of the sum of 2x2 means: every pixel is in exactly one window, weight 1/4
    const y = X4();
    assert.deepEqual(flat(d.grad(() => d.sum(d.avgPool2d(y, 2)), [y]).get(y)), new Array(16).fill(0.25));
  });

  it("adaptiveAvgPool2d uses PyTorch's bins floor(i L/m) .. ceil((i+1) L/m); globalAvgPool2d is the plane mean", () => {
    // L = 5, m = 3: bins [0,2) [1,4) [3,5): means 1.5, 3, 4.5 of 1..5
    const x = d.tensor([[[[1, 2, 3, 4, 5]]]], { dtype: 'float64' });
    assertClose(d.adaptiveAvgPool2d(x, [1, 3]), [[[[1.5, 3, 4.5]]]], { atol: 1e-12 });
    assert.deepEqual(d.adaptiveAvgPool2d(X4(), 2).toArray(), d.avgPool2d(X4(), 2).toArray());
    assert.deepEqual(d.globalAvgPool2d(X4()).toArray(), [[7.5]]);
  });
});

describe('windowArgmax kernels', () => {
  it('the branch-free float32 path picks the same elements as the float64 loop, specials and ties included', () => {
    const gen = new d.Generator(21);
    // few distinct values, so ties are common; then signed zeros, infinities and NaNs of both signs
    const pool = [-2, -1, -0, 0, 0.5, 1, 3, Infinity, -Infinity];
    for (const [shape, k, opts] of [
      [[2, 3, 7, 9], 2, {}],
      [[1, 2, 8, 5], 3, { stride: 2, dilation: [1, 2] }],
      [[3, 1, 5, 33], [1, 4], { stride: [1, 3] }],
    ] as const) {
      const n = shape.reduce((a: number, b: number) => a * b, 1);
      const v64 = new Float64Array(n);
      for (let i = 0; i < n; i++) v64[i] = pool[Math.floor(gen.nextFloat64() * pool.length)]!;
      for (let i = 0; i < n; i += 37) v64[i] = NaN;
      const v32 = Float32Array.from(v64);
      const bits = new Int32Array(v32.buffer);
      for (let i = 0; i < n; i += 74) bits[i] = 0xffc00000 | 0; // a negative NaN, as x86 produces for 0/0
      const a = flat(d.windowArgmax(d.tensor(v32, { shape: [...shape] }), k, opts));
      const b = flat(d.windowArgmax(d.tensor(v64, { shape: [...shape] }), k, opts));
      assert.deepEqual(a, b, JSON.stringify(shape));
    }
  });

  it('treats -0 and +0 as equal (the first wins) and a NaN as the largest', () => {
    // plane [[-0, 0, 1, NaN]]: 1x2 windows with stride 2: [-0, 0] -> index 0; [1, NaN] -> index 3
    for (const dtype of ['float32', 'float64'] as const) {
      const x = d.tensor([[[[-0, 0, 1, NaN]]]], { dtype });
      assert.deepEqual(flat(d.windowArgmax(x, [1, 2], { stride: [1, 2] })), [0, 3], dtype);
    }
  });

  it('indices a user holds are range-checked by gather and scatterAdd even after being changed in place', () => {
    const x = d.reshape(d.arange(16), [1, 1, 4, 4]);
    const idx = d.windowArgmax(x, 2, { stride: 2 }); // [[[5, 7, 13, 15]]]
    assert.deepEqual(flat(idx), [5, 7, 13, 15]);
    idx.data[0] = 20;
    assert.throws(() => d.gather(d.reshape(x, [1, 1, 16]), 2, idx), /gather: index 20 is out of range for a dimension of size 16/);
    idx.data[0] = -5;
    assert.throws(() => d.scatterAdd(d.ones([1, 1, 4]), 2, idx, [1, 1, 16]), /scatterAdd: index -5 is out of range/);
  });
});

describe('backends agree on odd sizes (wasm fast paths vs the js reference)', () => {
  it('conv2d, maxPool2d and avgPool2d values and gradients', { skip: !d.listBackends().includes('wasm') }, () => {
    const gen = new d.Generator(11);
    const shapes = [
      { x: [3, 5, 7, 9], w: [7, 5, 3, 3], s: 1, p: 1 },
      { x: [1, 1, 33, 17], w: [5, 1, 2, 3], s: 2, p: 0 },
      { x: [2, 2, 8, 7], w: [4, 1, 3, 1], s: 1, p: 0, groups: 2 },
    ];
    const before = d.getBackend().name;
    try {
      for (const c of shapes) {
        const xv = d.randn(c.x, { generator: gen }).dataSync(),
          wv = d.randn(c.w, { generator: gen }).dataSync();
        const run = (backend: string) => {
          d.setBackend(backend);
          const x = d.tensor(xv, { shape: c.x }),
            w = d.tensor(wv, { shape: c.w });
          const f = () => d.sum(d.mul(d.maxPool2d(d.relu(d.conv2d(x, w, null, { stride: c.s, padding: c.p, groups: c.groups ?? 1 })), 2, { stride: 1 }), 1.5));
          const { value, grads } = d.valueAndGrad(f, [x, w]);
          const avg = d.avgPool2d(x, 2, { padding: 1 });
          return [value.item(), flat(grads.get(x)), flat(grads.get(w)), flat(avg)] as const;
        };
        const ref = run('js'),
          fast = run('wasm');
        assertClose(fast[0], ref[0], { rtol: 1e-4 });
        for (const i of [1, 2, 3] as const) assertClose(fast[i], ref[i], { atol: 1e-4, rtol: 1e-4 }, `${JSON.stringify(c)} output ${i}`);
      }
    } finally {
      d.setBackend(before);
    }
  });
});
