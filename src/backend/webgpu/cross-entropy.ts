/// <reference types="@webgpu/types" />
/**
 * Softmax cross-entropy of each row (Backend.crossEntropyRows) and its gradient, one invocation
 * per row, in the reference's steps (backend/js/loss.ts): shift by the row's maximum where finite,
 * s = x - shift, S = sum exp(s) (in float32 here, float64 there), L = log S, loss = -(s[t] - L),
 * gradient (exp(s) / S - [j == t]) * g. Targets are checked by the ops before they get here.
 */
import { groupsFor } from './layout.js';
import type { GpuRuntime } from './runtime.js';
import type { GpuStorage } from './storage.js';
import { HEADER, loop } from './wgsl.js';

const ROW = `
    let cols = P[1];
    let at = i * cols;
    var mx = -infF();
    for (var j = 0u; j < cols; j++) { let v = X[at + j]; if (isNan(v)) { mx = v; break; } mx = max(mx, v); }
    let shift = select(0.0, mx, (bitcast<u32>(mx) & 0x7f800000u) != 0x7f800000u);
    var S = 0.0;
    for (var j = 0u; j < cols; j++) { S = S + exp(X[at + j] - shift); }
    let t = min(u32(max(T[i], 0)), cols - 1u);`;

function rowsWgsl(): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> T: array<i32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
${loop(`${ROW}
    let L = log(S);
    O[i] = -((X[at + t] - shift) - L);`)}`;
}

function gradWgsl(): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> T: array<i32>;
@group(0) @binding(3) var<storage, read> G: array<f32>;
@group(0) @binding(4) var<storage, read_write> O: array<f32>;
${loop(`${ROW}
    let g = G[i];
    for (var j = 0u; j < cols; j++) {
      let p = exp(X[at + j] - shift) / S;
      O[at + j] = (p - select(0.0, 1.0, j == t)) * g;
    }`)}`;
}

export function crossEntropyKernels(rt: GpuRuntime) {
  return {
    rows(x: GpuStorage, target: GpuStorage, out: GpuStorage, rows: number, cols: number): void {
      if (rows === 0) return;
      rt.dispatch('ce:rows', rowsWgsl, [rows, cols], [x.input(), target.input(), out.output()], groupsFor(rows));
    },
    grad(x: GpuStorage, target: GpuStorage, g: GpuStorage, out: GpuStorage, rows: number, cols: number): void {
      if (rows === 0) return;
      rt.dispatch('ce:grad', gradWgsl, [rows, cols], [x.input(), target.input(), g.input(), out.output()], groupsFor(rows));
    },
  };
}
