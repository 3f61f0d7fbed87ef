/**
 * A small WebAssembly assembler: enough of the binary format to write the kernels of the wasm
 * backend in TypeScript and turn them into a module at load time, with no toolchain. A module has
 * one imported memory (env.mem, optionally shared), functions with typed params and locals, and
 * exports. Instructions are appended by chained methods named after the Wasm text format
 * (`f.get(x).get(y).f32x4_add()`); structured control flow takes callbacks for its body.
 */

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';
const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** Unsigned LEB128. */
export function uleb(v: number, out: number[] = []): number[] {
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (for i32.const and i64.const immediates within the safe-integer range). */
export function sleb(v: number, out: number[] = []): number[] {
  for (;;) {
    const byte = v & 0x7f;
    v = Math.floor(v / 128);
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function str(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** A local (or parameter) index together with its type, as instructions take it. */
export interface Local {
  readonly index: number;
  readonly type: ValType;
}

/** The body of one function: a byte buffer with an emitter per instruction we use. */
export class Func {
  readonly code: number[] = [];
  readonly params: Local[];
  private readonly extra: ValType[] = [];

  constructor(readonly name: string, paramTypes: readonly ValType[], readonly results: readonly ValType[], readonly exported: boolean) {
    this.params = paramTypes.map((type, index) => ({ index, type }));
  }

  get paramTypes(): ValType[] {
    return this.params.map((p) => p.type);
  }

  /** A fresh local of the given type. */
  local(type: ValType): Local {
    const l = { index: this.params.length + this.extra.length, type };
    this.extra.push(type);
    return l;
  }

  private op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
  private simd(sub: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(sub), ...imm);
  }
  private mem(opcode: number, align: number, offset: number): this {
    return this.op(opcode, ...uleb(align), ...uleb(offset));
  }
  private simdMem(sub: number, align: number, offset: number): this {
    return this.simd(sub, ...uleb(align), ...uleb(offset));
  }

  // ---- control
  block(body: () => void): this { this.op(0x02, 0x40); body(); return this.op(0x0b); }
  loop(body: () => void): this { this.op(0x03, 0x40); body(); return this.op(0x0b); }
  if_(then: () => void, otherwise?: () => void): this {
    this.op(0x04, 0x40);
    then();
    if (otherwise) { this.op(0x05); otherwise(); }
    return this.op(0x0b);
  }
  br(depth: number): this { return this.op(0x0c, ...uleb(depth)); }
  br_if(depth: number): this { return this.op(0x0d, ...uleb(depth)); }
  return_(): this { return this.op(0x0f); }
  call(index: number): this { return this.op(0x10, ...uleb(index)); }
  drop(): this { return this.op(0x1a); }
  select(): this { return this.op(0x1b); }

  /** for (i = from; i < to; i += step) body — `to` is re-evaluated each iteration; inside body, br(1) breaks and br(0) re-enters without the step. */
  for_(i: Local, from: () => void, to: () => void, step: number | Local, body: () => void): this {
    from();
    this.set(i);
    return this.block(() => this.loop(() => {
      this.get(i); to(); this.i32_ge_s().br_if(1);
      body();
      this.get(i);
      if (typeof step === 'number') this.i32(step); else this.get(step);
      this.i32_add().set(i).br(0);
    }));
  }
  /** Push min(a, b) of two i32 locals. */
  min_s(a: Local, b: Local): this { return this.get(a).get(b).get(a).get(b).i32_lt_s().select(); }

  // ---- locals and constants
  get(l: Local): this { return this.op(0x20, ...uleb(l.index)); }
  set(l: Local): this { return this.op(0x21, ...uleb(l.index)); }
  tee(l: Local): this { return this.op(0x22, ...uleb(l.index)); }
  i32(v: number): this { return this.op(0x41, ...sleb(v | 0)); }
  f32(v: number): this { return this.op(0x43, ...new Uint8Array(new Float32Array([v]).buffer)); }
  f64(v: number): this { return this.op(0x44, ...new Uint8Array(new Float64Array([v]).buffer)); }

  // ---- memory (offset in bytes; alignment hint as log2)
  i32_load(off = 0): this { return this.mem(0x28, 2, off); }
  i64_load(off = 0): this { return this.mem(0x29, 3, off); }
  f32_load(off = 0): this { return this.mem(0x2a, 2, off); }
  f64_load(off = 0): this { return this.mem(0x2b, 3, off); }
  i32_store(off = 0): this { return this.mem(0x36, 2, off); }
  i64_store(off = 0): this { return this.mem(0x37, 3, off); }
  f32_store(off = 0): this { return this.mem(0x38, 2, off); }
  f64_store(off = 0): this { return this.mem(0x39, 3, off); }
  memory_copy(): this { return this.op(0xfc, 0x0a, 0x00, 0x00); }
  memory_fill(): this { return this.op(0xfc, 0x0b, 0x00); }

  // ---- i32
  i32_eqz(): this { return this.op(0x45); }
  i32_eq(): this { return this.op(0x46); }
  i32_ne(): this { return this.op(0x47); }
  i32_lt_s(): this { return this.op(0x48); }
  i32_lt_u(): this { return this.op(0x49); }
  i32_gt_s(): this { return this.op(0x4a); }
  i32_le_s(): this { return this.op(0x4c); }
  i32_ge_s(): this { return this.op(0x4e); }
  i32_add(): this { return this.op(0x6a); }
  i32_sub(): this { return this.op(0x6b); }
  i32_mul(): this { return this.op(0x6c); }
  i32_div_u(): this { return this.op(0x6e); }
  i32_and(): this { return this.op(0x71); }
  i32_or(): this { return this.op(0x72); }
  i32_shl(): this { return this.op(0x74); }
  i32_shr_s(): this { return this.op(0x75); }

  // ---- f32 / f64 scalars
  f32_eq(): this { return this.op(0x5b); }
  f32_ne(): this { return this.op(0x5c); }
  f32_lt(): this { return this.op(0x5d); }
  f32_gt(): this { return this.op(0x5e); }
  f32_le(): this { return this.op(0x5f); }
  f32_ge(): this { return this.op(0x60); }
  f32_abs(): this { return this.op(0x8b); }
  f32_neg(): this { return this.op(0x8c); }
  f32_sqrt(): this { return this.op(0x91); }
  f32_add(): this { return this.op(0x92); }
  f32_sub(): this { return this.op(0x93); }
  f32_mul(): this { return this.op(0x94); }
  f32_div(): this { return this.op(0x95); }
  f64_add(): this { return this.op(0xa0); }
  f64_lt(): this { return this.op(0x63); }
  f64_abs(): this { return this.op(0x99); }
  f64_convert_i32_s(): this { return this.op(0xb7); }
  f64_mul(): this { return this.op(0xa2); }
  f32_demote_f64(): this { return this.op(0xb6); }
  f64_promote_f32(): this { return this.op(0xbb); }

  // ---- v128 (SIMD): memory, constants, lanes
  v128_load(off = 0): this { return this.simdMem(0x00, 4, off); }
  v128_load32_splat(off = 0): this { return this.simdMem(0x09, 2, off); }
  v128_store(off = 0): this { return this.simdMem(0x0b, 4, off); }
  v128_const_f32(v: number): this { return this.simd(0x0c, ...new Uint8Array(new Float32Array([v, v, v, v]).buffer)); }
  /** A v128 constant from four int32 lanes. */
  v128_const_i32(lanes: readonly [number, number, number, number]): this { return this.simd(0x0c, ...new Uint8Array(new Int32Array(lanes).buffer)); }
  i32x4_splat(): this { return this.simd(0x11); }
  i32x4_add(): this { return this.simd(0xae); }
  i32x4_mul(): this { return this.simd(0xb5); }
  v128_const_f64(v: number): this { return this.simd(0x0c, ...new Uint8Array(new Float64Array([v, v]).buffer)); }
  i8x16_shuffle(lanes: readonly number[]): this { return this.simd(0x0d, ...lanes); }
  f32x4_splat(): this { return this.simd(0x13); }
  f64x2_splat(): this { return this.simd(0x14); }
  f32x4_extract_lane(i: number): this { return this.simd(0x1f, i); }
  f64x2_extract_lane(i: number): this { return this.simd(0x21, i); }
  // comparisons give all-ones / all-zeros lane masks
  f32x4_eq(): this { return this.simd(0x41); }
  f32x4_ne(): this { return this.simd(0x42); }
  f32x4_lt(): this { return this.simd(0x43); }
  f32x4_gt(): this { return this.simd(0x44); }
  f32x4_le(): this { return this.simd(0x45); }
  f32x4_ge(): this { return this.simd(0x46); }
  v128_not(): this { return this.simd(0x4d); }
  v128_and(): this { return this.simd(0x4e); }
  /** andnot(a, b) = a & ~b. */
  v128_andnot(): this { return this.simd(0x4f); }
  v128_or(): this { return this.simd(0x50); }
  /** bitselect(a, b, mask): bits of a where mask is 1, of b elsewhere. */
  v128_bitselect(): this { return this.simd(0x52); }
  f32x4_demote_f64x2_zero(): this { return this.simd(0x5e); }
  f64x2_promote_low_f32x4(): this { return this.simd(0x5f); }
  i32x4_eq(): this { return this.simd(0x37); }
  f32x4_abs(): this { return this.simd(0xe0); }
  f32x4_neg(): this { return this.simd(0xe1); }
  f32x4_sqrt(): this { return this.simd(0xe3); }
  f32x4_add(): this { return this.simd(0xe4); }
  f32x4_sub(): this { return this.simd(0xe5); }
  f32x4_mul(): this { return this.simd(0xe6); }
  f32x4_div(): this { return this.simd(0xe7); }
  f32x4_min(): this { return this.simd(0xe8); }
  f32x4_max(): this { return this.simd(0xe9); }
  f64x2_lt(): this { return this.simd(0x49); }
  f64x2_ge(): this { return this.simd(0x4c); }
  f64x2_nearest(): this { return this.simd(0x94); }
  i64x2_shl(): this { return this.simd(0xcb); }
  i64x2_add(): this { return this.simd(0xce); }
  i64x2_sub(): this { return this.simd(0xd1); }
  f64x2_abs(): this { return this.simd(0xec); }
  f64x2_neg(): this { return this.simd(0xed); }
  f64x2_add(): this { return this.simd(0xf0); }
  f64x2_sub(): this { return this.simd(0xf1); }
  f64x2_mul(): this { return this.simd(0xf2); }
  f64x2_div(): this { return this.simd(0xf3); }
  f64x2_min(): this { return this.simd(0xf4); }
  f64x2_max(): this { return this.simd(0xf5); }
  /** Relaxed SIMD fused (or not) multiply-add: a*b + c. */
  f32x4_relaxed_madd(): this { return this.simd(0x105); }

  /** The function body as the code section stores it: locals grouped by type, then the bytes. */
  encode(): number[] {
    const groups: [number, ValType][] = [];
    for (const t of this.extra) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body = [...uleb(groups.length)];
    for (const [n, t] of groups) body.push(...uleb(n), VALTYPE[t]);
    body.push(...this.code, 0x0b);
    return [...uleb(body.length), ...body];
  }
}

export interface MemoryImport {
  initial: number;
  maximum: number;
  shared: boolean;
}

/** A module under construction: functions are added, then `bytes()` gives the binary. */
export class ModuleBuilder {
  private readonly funcs: Func[] = [];

  constructor(private readonly memory: MemoryImport) {}

  /** Declare a function; `body` may call any function declared earlier via `call`. */
  func(name: string, params: readonly ValType[], results: readonly ValType[], body: (f: Func, ...p: Local[]) => void, exported = true): Func {
    const f = new Func(name, params, results, exported);
    this.funcs.push(f);
    body(f, ...f.params);
    return f;
  }

  /** The index `call` takes for a declared function (no imported functions, so its position). */
  indexOf(f: Func): number {
    const i = this.funcs.indexOf(f);
    if (i < 0) throw new Error(`asm: function ${f.name} is not part of this module`);
    return i;
  }

  bytes(): Uint8Array<ArrayBuffer> {
    const types: string[] = [];
    const typeOf = (f: Func): number => {
      const key = JSON.stringify([f.paramTypes, f.results]);
      let i = types.indexOf(key);
      if (i < 0) i = types.push(key) - 1;
      return i;
    };
    const funcTypes = this.funcs.map(typeOf);
    const typeSec: number[] = [...uleb(types.length)];
    for (const key of types) {
      const [ps, rs] = JSON.parse(key) as [ValType[], ValType[]];
      typeSec.push(0x60, ...uleb(ps.length), ...ps.map((t) => VALTYPE[t]), ...uleb(rs.length), ...rs.map((t) => VALTYPE[t]));
    }
    const { initial, maximum, shared } = this.memory;
    const importSec = [...uleb(1), ...str('env'), ...str('mem'), 0x02, shared ? 0x03 : 0x01, ...uleb(initial), ...uleb(maximum)];
    const funcSec = [...uleb(funcTypes.length), ...funcTypes.flatMap((t) => uleb(t))];
    const exported = this.funcs.map((f, i) => [f, i] as const).filter(([f]) => f.exported);
    const exportSec = [...uleb(exported.length), ...exported.flatMap(([f, i]) => [...str(f.name), 0x00, ...uleb(i)])];
    const codeSec = [...uleb(this.funcs.length), ...this.funcs.flatMap((f) => f.encode())];
    return new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      ...section(1, typeSec), ...section(2, importSec), ...section(3, funcSec), ...section(7, exportSec), ...section(10, codeSec),
    ]);
  }
}
