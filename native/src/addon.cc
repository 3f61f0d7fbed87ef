// Node-API bindings (plain C Node-API, no node-addon-api): float32 GEMM on the tensors of the
// wasm backend, read and written in place in its WebAssembly.Memory.
//
//   setMemory(u8: Uint8Array): void       the view every byte offset refers to (again after grow)
//   sgemm(m, n, k, a, rsA, csA, b, rsB, csB, c, ldc, accumulate, threads): void
//   sgdStep(p, g, bIn, pOut, bOut, n, lr, momentum, keep, weightDecay, flags, threads): void
//   sumSquaresRows(x, out, rows, cols, threads): void   float64 sums of squares by rows (sgd.h)
//   copyNd(src, dst, layout: Int32Array [sizes, src strides, dst strides], threads): void  (layout.h)
//   col2im(cols, out, n, c, h, w, kh, kw, sh, sw, dh, dw, outH, outW, threads): void  (layout.h)
//   park(): idle pool threads sleep at once (another pool is about to run)
//   setNumThreads(n), getNumThreads(), isa(), setIsa(name), features()
//
// Every offset and extent is checked against the view's current length before any memory is
// touched; a bad one throws a RangeError that names the argument.
#include <node_api.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "gemm.h"
#include "layout.h"
#include "pool.h"
#include "sgd.h"

namespace descent {
namespace {

// Per-environment (main thread or worker) state, so one thread's setIsa or setNumThreads does not
// change another's. `memory` is a strong reference to the view, so the buffer stays alive; its
// pointer and length are read again on every call (a non-shared buffer may have been detached by
// memory.grow, which leaves the view empty).
struct EnvState {
  napi_ref memory = nullptr;
  Isa isa = Isa::generic;
  int threads = 1;
};

EnvState* env_state(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<EnvState*>(data);
}

constexpr int64_t kMaxDim = int64_t{1} << 31;     // m, n, k, |strides|, ldc below 2^31
constexpr int64_t kMaxOffset = int64_t{1} << 53;  // byte offsets: any safe integer

#define CHECK_NAPI(call)                                               \
  do {                                                                 \
    if ((call) != napi_ok) {                                           \
      napi_throw_error(env, nullptr, "descent_native: " #call " failed"); \
      return nullptr;                                                  \
    }                                                                  \
  } while (0)

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// Reads exactly `count` arguments into args; else throws a TypeError with `usage`.
bool get_args(napi_env env, napi_callback_info info, size_t count, napi_value* args, const char* usage) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, args, nullptr, nullptr) != napi_ok) {
    napi_throw_error(env, nullptr, "descent_native: napi_get_cb_info failed");
    return false;
  }
  if (argc != count) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", usage);
    return false;
  }
  return true;
}

// Reads an integer argument in [lo, hi]; on failure throws (TypeError or RangeError naming it).
bool get_int(napi_env env, napi_value v, const char* fn, const char* name, int64_t lo, int64_t hi, int64_t* out) {
  char msg[256];
  napi_valuetype type = napi_undefined;
  napi_typeof(env, v, &type);
  double d = 0;
  if (type != napi_number || napi_get_value_double(env, v, &d) != napi_ok) {
    std::snprintf(msg, sizeof msg, "%s: %s must be a number", fn, name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  if (!(std::isfinite(d) && std::trunc(d) == d && d >= static_cast<double>(lo) && d <= static_cast<double>(hi))) {
    std::snprintf(msg, sizeof msg, "%s: %s must be an integer in [%lld, %lld], got %.17g", fn, name, static_cast<long long>(lo),
                  static_cast<long long>(hi), d);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

// The bytes [lo, hi) that the 32-bit elements base + sum_i k_i * s[i] (0 <= k_i < e[i]) span, when
// base is 4-byte aligned and they lie inside [0, length); else throws a RangeError naming `name`.
// Extents and |strides| are below 2^31, so each dimension's span is below 2^62; the sums stop as
// soon as they pass the memory's length, so they stay under 2^63.
bool span_nd(napi_env env, const char* fn, const char* name, int64_t base, const int64_t* e, const int64_t* s, int dims, size_t length, int64_t* lo,
             int64_t* hi) {
  char msg[320];
  if (base % 4 != 0) {
    std::snprintf(msg, sizeof msg, "%s: %s = %lld is not a multiple of 4 (a 32-bit element's byte offset)", fn, name, static_cast<long long>(base));
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  const int64_t len = static_cast<int64_t>(length), cap = len / 4 + 1;
  int64_t below = 0, above = 0;  // elements before and after base
  for (int i = 0; i < dims && below <= cap && above <= cap; ++i) {
    const int64_t span = (e[i] - 1) * s[i];
    if (span < 0) below += -span;
    else above += span;
  }
  if (below > cap || above > cap || below > base / 4 || base > len || above + 1 > (len - base) / 4) {
    std::snprintf(msg, sizeof msg, "%s: %s spans bytes [%.17g, %.17g), outside the memory of %zu bytes", fn, name,
                  static_cast<double>(base) - 4.0 * static_cast<double>(below), static_cast<double>(base) + 4.0 * (static_cast<double>(above) + 1.0), length);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  *lo = base - 4 * below;
  *hi = base + 4 * (above + 1);
  return true;
}

// Checks that the float32 elements base + i * s1 + j * s2 (0 <= i < e1, 0 <= j < e2) lie inside
// [0, length) bytes and that base is 4-byte aligned; else throws a RangeError naming `name`.
bool check_extent(napi_env env, const char* fn, const char* name, int64_t base, int64_t e1, int64_t s1, int64_t e2, int64_t s2, size_t length) {
  const int64_t e[2] = {e1, e2}, s[2] = {s1, s2};
  int64_t lo = 0, hi = 0;
  return span_nd(env, fn, name, base, e, s, 2, length, &lo, &hi);
}

napi_value SetMemory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr));
  bool is_typed = false;
  if (argc >= 1) napi_is_typedarray(env, arg, &is_typed);
  napi_typedarray_type type = napi_int8_array;
  if (is_typed) CHECK_NAPI(napi_get_typedarray_info(env, arg, &type, nullptr, nullptr, nullptr, nullptr));
  if (!is_typed || type != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "setMemory: expected a Uint8Array over the WebAssembly.Memory's buffer");
    return nullptr;
  }
  EnvState* state = env_state(env);
  if (state->memory != nullptr) napi_delete_reference(env, state->memory);
  state->memory = nullptr;
  CHECK_NAPI(napi_create_reference(env, arg, 1, &state->memory));
  return undefined(env);
}

// The current data pointer and byte length of the view given to setMemory.
bool memory_view(napi_env env, uint8_t** data, size_t* length, const char* fn) {
  EnvState* state = env_state(env);
  napi_value view;
  char msg[160];
  if (state->memory == nullptr || napi_get_reference_value(env, state->memory, &view) != napi_ok || view == nullptr) {
    std::snprintf(msg, sizeof msg, "%s: no memory; call setMemory(new Uint8Array(memory.buffer)) first", fn);
    napi_throw_error(env, "ERR_INVALID_STATE", msg);
    return false;
  }
  void* p = nullptr;
  if (napi_get_typedarray_info(env, view, nullptr, length, &p, nullptr, nullptr) != napi_ok) {
    std::snprintf(msg, sizeof msg, "%s: cannot read the memory view", fn);
    napi_throw_error(env, nullptr, msg);
    return false;
  }
  *data = static_cast<uint8_t*>(p);
  if (*data == nullptr) *length = 0;
  return true;
}

napi_value Sgemm(napi_env env, napi_callback_info info) {
  napi_value args[13];
  if (!get_args(env, info, 13, args, "sgemm: expected 13 arguments (m, n, k, a, rsA, csA, b, rsB, csB, c, ldc, accumulate, threads)")) return nullptr;
  static const char* const names[13] = {"m", "n", "k", "a", "rsA", "csA", "b", "rsB", "csB", "c", "ldc", "accumulate", "threads"};
  static const int64_t lo[13] = {0, 0, 0, 0, -kMaxDim + 1, -kMaxDim + 1, 0, -kMaxDim + 1, -kMaxDim + 1, 0, 0, 0, 0};
  static const int64_t hi[13] = {kMaxDim - 1, kMaxDim - 1, kMaxDim - 1, kMaxOffset, kMaxDim - 1, kMaxDim - 1, kMaxOffset, kMaxDim - 1,
                                 kMaxDim - 1, kMaxOffset, kMaxDim - 1, 1, Pool::kMaxThreads};
  int64_t v[13];
  for (int i = 0; i < 13; ++i)
    if (!get_int(env, args[i], "sgemm", names[i], lo[i], hi[i], &v[i])) return nullptr;
  const int64_t m = v[0], n = v[1], k = v[2];
  if (m == 0 || n == 0) return undefined(env);
  if (m > 1 && v[10] < n) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "sgemm: ldc = %lld is less than n = %lld, so rows of C would overlap", static_cast<long long>(v[10]),
                  static_cast<long long>(n));
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return nullptr;
  }
  uint8_t* base = nullptr;
  size_t length = 0;
  if (!memory_view(env, &base, &length, "sgemm")) return nullptr;
  if (k > 0 && !check_extent(env, "sgemm", "a", v[3], m, v[4], k, v[5], length)) return nullptr;
  if (k > 0 && !check_extent(env, "sgemm", "b", v[6], k, v[7], n, v[8], length)) return nullptr;
  if (!check_extent(env, "sgemm", "c", v[9], m, v[10], n, 1, length)) return nullptr;
  Gemm g{m, n, k, reinterpret_cast<const float*>(base + v[3]), v[4], v[5], reinterpret_cast<const float*>(base + v[6]), v[7], v[8],
         reinterpret_cast<float*>(base + v[9]), v[10], v[11] != 0};
  const EnvState* state = env_state(env);
  const int threads = v[12] > 0 ? static_cast<int>(v[12]) : state->threads;
  if (!sgemm(kernels_for(state->isa), g, threads)) {
    napi_throw_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "sgemm: out of memory for the packing buffers");
    return nullptr;
  }
  return undefined(env);
}

// Reads a number argument (any value, NaN and infinities included) as float32, rounded once.
bool get_float(napi_env env, napi_value v, const char* fn, const char* name, float* out) {
  napi_valuetype type = napi_undefined;
  napi_typeof(env, v, &type);
  double d = 0;
  if (type != napi_number || napi_get_value_double(env, v, &d) != napi_ok) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "%s: %s must be a number", fn, name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  *out = static_cast<float>(d);
  return true;
}

napi_value SgdStep(napi_env env, napi_callback_info info) {
  napi_value args[12];
  if (!get_args(env, info, 12, args, "sgdStep: expected 12 arguments (p, g, bIn, pOut, bOut, n, lr, momentum, keep, weightDecay, flags, threads)")) return nullptr;
  static const char* const names[6] = {"p", "g", "bIn", "pOut", "bOut", "n"};
  int64_t v[6];
  for (int i = 0; i < 6; ++i)
    if (!get_int(env, args[i], "sgdStep", names[i], 0, i == 5 ? kMaxOffset / 4 : kMaxOffset, &v[i])) return nullptr;
  float h[4];
  static const char* const hnames[4] = {"lr", "momentum", "keep", "weightDecay"};
  for (int i = 0; i < 4; ++i)
    if (!get_float(env, args[6 + i], "sgdStep", hnames[i], &h[i])) return nullptr;
  int64_t flags = 0, threads = 0;
  if (!get_int(env, args[10], "sgdStep", "flags", 0, 31, &flags)) return nullptr;
  if (!get_int(env, args[11], "sgdStep", "threads", 0, Pool::kMaxThreads, &threads)) return nullptr;
  const int64_t n = v[5];
  if (n == 0) return undefined(env);
  uint8_t* base = nullptr;
  size_t length = 0;
  if (!memory_view(env, &base, &length, "sgdStep")) return nullptr;
  const bool momentum = (flags & kSgdMomentum) != 0, reads_buffer = momentum && (flags & kSgdFirst) == 0;
  for (int i = 0; i < 5; ++i) {
    if ((i == 2 && !reads_buffer) || (i == 4 && !momentum)) continue;
    if (!check_extent(env, "sgdStep", names[i], v[i], n, 1, 1, 0, length)) return nullptr;
  }
  auto f = [&](int i) { return reinterpret_cast<float*>(base + v[i]); };
  const Sgd s{f(0), f(1), reads_buffer ? f(2) : nullptr, f(3), momentum ? f(4) : nullptr, n, h[0], h[1], h[2], h[3], static_cast<int>(flags)};
  const EnvState* state = env_state(env);
  sgd_step(state->isa, s, threads > 0 ? static_cast<int>(threads) : state->threads);
  return undefined(env);
}

napi_value SumSquaresRows(napi_env env, napi_callback_info info) {
  napi_value args[5];
  if (!get_args(env, info, 5, args, "sumSquaresRows: expected 5 arguments (x, out, rows, cols, threads)")) return nullptr;
  static const char* const names[4] = {"x", "out", "rows", "cols"};
  int64_t v[4];
  for (int i = 0; i < 4; ++i)
    if (!get_int(env, args[i], "sumSquaresRows", names[i], 0, i < 2 ? kMaxOffset : kMaxDim - 1, &v[i])) return nullptr;
  int64_t threads = 0;
  if (!get_int(env, args[4], "sumSquaresRows", "threads", 0, Pool::kMaxThreads, &threads)) return nullptr;
  const int64_t rows = v[2], cols = v[3];
  if (rows == 0) return undefined(env);
  uint8_t* base = nullptr;
  size_t length = 0;
  if (!memory_view(env, &base, &length, "sumSquaresRows")) return nullptr;
  if (v[1] % 8 != 0) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "sumSquaresRows: out = %lld is not a multiple of 8 (a float64 byte offset)", static_cast<long long>(v[1]));
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return nullptr;
  }
  // x: rows * cols float32 (as rows x cols, so no product can overflow); out: rows float64
  if (cols > 0 && !check_extent(env, "sumSquaresRows", "x", v[0], rows, cols, cols, 1, length)) return nullptr;
  if (!check_extent(env, "sumSquaresRows", "out", v[1], rows, 2, 2, 1, length)) return nullptr;
  const SumSq s{reinterpret_cast<const float*>(base + v[0]), reinterpret_cast<double*>(base + v[1]), rows, cols};
  const EnvState* state = env_state(env);
  sumsq_rows(state->isa, s, threads > 0 ? static_cast<int>(threads) : state->threads);
  return undefined(env);
}

// Reads `count` integer arguments args[from..] into out, each in [lo, hi].
bool get_ints(napi_env env, const napi_value* args, int from, int count, const char* fn, const char* const* names, int64_t lo, int64_t hi,
              int64_t* out) {
  for (int i = 0; i < count; ++i)
    if (!get_int(env, args[from + i], fn, names[i], lo, hi, &out[i])) return false;
  return true;
}

// a * b for non-negative a, b, or -1 past 2^53 (a count no memory can hold).
int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r) || r > kMaxOffset) return -1;
  return r;
}

// Whether the elements sum_i k_i d[i] (0 <= k_i < n[i]) are all different: a sufficient test
// (each dimension's |stride| passes the span of all the dimensions with smaller strides), true
// for every layout a tensor's copy writes (contiguous, permuted, sliced).
bool distinct_elements(const int64_t* n, const int64_t* d, int rank) {
  int order[kCopyMaxRank], m = 0;
  for (int i = 0; i < rank; ++i)
    if (n[i] > 1) order[m++] = i;
  for (int i = 1; i < m; ++i) {  // by |stride| (insertion sort: at most 8)
    const int key = order[i];
    int j = i - 1;
    for (; j >= 0 && std::llabs(d[order[j]]) > std::llabs(d[key]); --j) order[j + 1] = order[j];
    order[j + 1] = key;
  }
  int64_t extent = 1;  // elements spanned by the dimensions so far (each term is below 2^62)
  for (int i = 0; i < m; ++i) {
    const int64_t s = std::llabs(d[order[i]]);
    if (s < extent) return false;
    extent += (n[order[i]] - 1) * s;
    if (extent > (int64_t{1} << 62)) return i == m - 1;
  }
  return true;
}

napi_value CopyNdFn(napi_env env, napi_callback_info info) {
  napi_value args[4];
  if (!get_args(env, info, 4, args, "copyNd: expected 4 arguments (src, dst, layout, threads)")) return nullptr;
  static const char* const offs[2] = {"src", "dst"};
  int64_t o[2], threads = 0;
  if (!get_ints(env, args, 0, 2, "copyNd", offs, 0, kMaxOffset, o) || !get_int(env, args[3], "copyNd", "threads", 0, Pool::kMaxThreads, &threads))
    return nullptr;
  bool is_typed = false;
  napi_is_typedarray(env, args[2], &is_typed);
  napi_typedarray_type type = napi_uint8_array;
  size_t count = 0;
  void* data = nullptr;
  if (!is_typed || napi_get_typedarray_info(env, args[2], &type, &count, &data, nullptr, nullptr) != napi_ok || type != napi_int32_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "copyNd: layout must be an Int32Array (sizes, then source strides, then destination strides)");
    return nullptr;
  }
  if (count == 0 || count % 3 != 0 || count / 3 > static_cast<size_t>(kCopyMaxRank)) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "copyNd: layout must hold 3 x rank entries for a rank from 1 to %d, got %zu", kCopyMaxRank, count);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return nullptr;
  }
  const int rank = static_cast<int>(count / 3);
  const int32_t* l = static_cast<const int32_t*>(data);
  int64_t n[kCopyMaxRank], sv[kCopyMaxRank], dv[kCopyMaxRank], total = 1;
  for (int i = 0; i < rank; ++i) {
    n[i] = l[i];
    sv[i] = l[rank + i];
    dv[i] = l[2 * rank + i];
    if (n[i] < 0 || sv[i] == INT32_MIN || dv[i] == INT32_MIN) {
      char msg[160];
      std::snprintf(msg, sizeof msg, "copyNd: layout dimension %d has size %lld, strides %lld and %lld (sizes >= 0, |strides| < 2^31)", i,
                    static_cast<long long>(n[i]), static_cast<long long>(sv[i]), static_cast<long long>(dv[i]));
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
      return nullptr;
    }
    if (total >= 0) total = checked_mul(total, n[i]);
  }
  if (total == 0) return undefined(env);
  if (total < 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "copyNd: the block holds more than 2^53 elements");
    return nullptr;
  }
  uint8_t* base = nullptr;
  size_t length = 0;
  if (!memory_view(env, &base, &length, "copyNd")) return nullptr;
  int64_t src_lo, src_hi, dst_lo, dst_hi;
  if (!span_nd(env, "copyNd", "src", o[0], n, sv, rank, length, &src_lo, &src_hi) || !span_nd(env, "copyNd", "dst", o[1], n, dv, rank, length, &dst_lo, &dst_hi))
    return nullptr;
  CopyNd c{reinterpret_cast<const std::uint32_t*>(base + o[0]), reinterpret_cast<std::uint32_t*>(base + o[1]), rank, {}, {}, {}};
  for (int i = 0; i < rank; ++i) {
    c.n[i] = n[i];
    c.s[i] = sv[i];
    c.d[i] = dv[i];
  }
  // threads only where the byte ranges are disjoint and no two elements land on one destination
  // element; otherwise the copy runs row by row in order
  const bool apart = (src_hi <= dst_lo || dst_hi <= src_lo) && distinct_elements(n, dv, rank);
  copy_nd(c, apart, threads > 0 ? static_cast<int>(threads) : env_state(env)->threads);
  return undefined(env);
}

napi_value Col2imFn(napi_env env, napi_callback_info info) {
  napi_value args[15];
  if (!get_args(env, info, 15, args, "col2im: expected 15 arguments (cols, out, n, c, h, w, kh, kw, sh, sw, dh, dw, outH, outW, threads)")) return nullptr;
  static const char* const offs[2] = {"cols", "out"};
  static const char* const names[12] = {"n", "c", "h", "w", "kh", "kw", "sh", "sw", "dh", "dw", "outH", "outW"};
  int64_t o[2], v[12], threads = 0;
  if (!get_ints(env, args, 0, 2, "col2im", offs, 0, kMaxOffset, o) || !get_ints(env, args, 2, 12, "col2im", names, 0, kMaxDim - 1, v) ||
      !get_int(env, args[14], "col2im", "threads", 0, Pool::kMaxThreads, &threads))
    return nullptr;
  const int64_t n = v[0], c = v[1], h = v[2], w = v[3], kh = v[4], kw = v[5], sh = v[6], sw = v[7], dh = v[8], dw = v[9], oh = v[10], ow = v[11];
  char msg[320];
  // every window inside the image: the last window's last tap is a pixel
  // (in 128 bits: each term is below 2^62)
  const auto last = [](int64_t count, int64_t step, int64_t taps, int64_t dil) {
    return static_cast<__int128>(count - 1) * step + static_cast<__int128>(taps - 1) * dil;
  };
  const bool windows = kh == 0 || kw == 0 || oh == 0 || ow == 0 || (last(oh, sh, kh, dh) < h && last(ow, sw, kw, dw) < w);
  if (!windows) {
    std::snprintf(msg, sizeof msg, "col2im: %lld x %lld windows of %lld x %lld (stride %lld x %lld, dilation %lld x %lld) do not fit a %lld x %lld image",
                  static_cast<long long>(oh), static_cast<long long>(ow), static_cast<long long>(kh), static_cast<long long>(kw), static_cast<long long>(sh),
                  static_cast<long long>(sw), static_cast<long long>(dh), static_cast<long long>(dw), static_cast<long long>(h), static_cast<long long>(w));
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return nullptr;
  }
  const int64_t image = checked_mul(checked_mul(checked_mul(n, c), h), w);
  const int64_t cols = checked_mul(checked_mul(checked_mul(checked_mul(checked_mul(c, kh), kw), n), oh), ow);
  if (image < 0 || cols < 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "col2im: the image or its columns hold more than 2^53 elements");
    return nullptr;
  }
  if (image == 0) return undefined(env);
  uint8_t* base = nullptr;
  size_t length = 0;
  if (!memory_view(env, &base, &length, "col2im")) return nullptr;
  const int64_t one = 1;
  int64_t lo, hi;
  // no columns (a zero window or output size): the image is zeros, and cols is not read
  if ((cols > 0 && !span_nd(env, "col2im", "cols", o[0], &cols, &one, 1, length, &lo, &hi)) || !span_nd(env, "col2im", "out", o[1], &image, &one, 1, length, &lo, &hi))
    return nullptr;
  const Col2im l{reinterpret_cast<const float*>(base + o[0]), reinterpret_cast<float*>(base + o[1]), n, c, h, w, kh, kw, sh, sw, dh, dw, oh, ow};
  col2im(l, threads > 0 ? static_cast<int>(threads) : env_state(env)->threads);
  return undefined(env);
}

napi_value Park(napi_env env, napi_callback_info) {
  Pool::instance().park();
  return undefined(env);
}

napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg = nullptr;
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr));
  if (argc < 1) napi_get_undefined(env, &arg);
  int64_t n = 0;
  if (!get_int(env, arg, "setNumThreads", "n", 1, Pool::kMaxThreads, &n)) return nullptr;
  env_state(env)->threads = static_cast<int>(n);
  return undefined(env);
}

napi_value GetNumThreads(napi_env env, napi_callback_info) {
  napi_value out;
  CHECK_NAPI(napi_create_int32(env, env_state(env)->threads, &out));
  return out;
}

napi_value IsaName(napi_env env, napi_callback_info) {
  napi_value out;
  CHECK_NAPI(napi_create_string_utf8(env, isa_name(env_state(env)->isa), NAPI_AUTO_LENGTH, &out));
  return out;
}

// Selects `name` for this environment; on failure returns a message (the CPU lacks it, or no such path).
const char* select_isa(EnvState* state, const char* name, char* msg, size_t size) {
  Isa isa;
  if (!parse_isa(name, &isa)) {
    std::snprintf(msg, size, "unknown ISA '%s' (expected generic, avx2 or avx512)", name);
    return msg;
  }
  if (!isa_available(isa)) {
    std::snprintf(msg, size, "this CPU (or this build) has no %s path: the fastest available is %s", name, isa_name(best_isa()));
    return msg;
  }
  state->isa = isa;
  return nullptr;
}

napi_value SetIsa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg = nullptr;
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr));
  char name[32] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, arg, name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "setIsa: expected 'generic', 'avx2' or 'avx512'");
    return nullptr;
  }
  char msg[200];
  if (const char* err = select_isa(env_state(env), name, msg, sizeof msg)) {
    char full[240];
    std::snprintf(full, sizeof full, "setIsa: %s", err);
    napi_throw_error(env, "ERR_INVALID_ARG_VALUE", full);
    return nullptr;
  }
  return undefined(env);
}

napi_value FeaturesObject(napi_env env, napi_callback_info) {
  const Features f = cpu_features();
  napi_value out;
  CHECK_NAPI(napi_create_object(env, &out));
  const std::pair<const char*, bool> entries[] = {{"avx2", f.avx2}, {"fma", f.fma}, {"avx512f", f.avx512f}};
  for (const auto& e : entries) {
    napi_value b;
    CHECK_NAPI(napi_get_boolean(env, e.second, &b));
    CHECK_NAPI(napi_set_named_property(env, out, e.first, b));
  }
  return out;
}

void DeleteEnvState(napi_env env, void* data, void*) {
  auto* state = static_cast<EnvState*>(data);
  if (state->memory != nullptr) napi_delete_reference(env, state->memory);
  delete state;
}

// The ISA at load: DESCENT_NATIVE_ISA if set (an unavailable one fails the load with the reason),
// else the widest the CPU has. Threads: all CPUs.
bool init_state(napi_env env, EnvState* state) {
  state->isa = best_isa();
  const unsigned hc = std::thread::hardware_concurrency();
  state->threads = hc == 0 ? 1 : static_cast<int>(hc < Pool::kMaxThreads ? hc : Pool::kMaxThreads);
  const char* forced = std::getenv("DESCENT_NATIVE_ISA");
  if (forced == nullptr || forced[0] == '\0') return true;
  char msg[200];
  if (const char* err = select_isa(state, forced, msg, sizeof msg)) {
    char full[260];
    std::snprintf(full, sizeof full, "DESCENT_NATIVE_ISA=%s: %s", forced, err);
    napi_throw_error(env, "ERR_INVALID_ARG_VALUE", full);
    return false;
  }
  return true;
}

}  // namespace
}  // namespace descent

NAPI_MODULE_INIT() {
  using namespace descent;
  auto* state = new EnvState();
  if (!init_state(env, state)) {
    delete state;
    return nullptr;
  }
  if (napi_set_instance_data(env, state, DeleteEnvState, nullptr) != napi_ok) {
    delete state;
    napi_throw_error(env, nullptr, "descent_native: napi_set_instance_data failed");
    return nullptr;
  }
  const napi_property_descriptor props[] = {
      {"setMemory", nullptr, SetMemory, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sgemm", nullptr, Sgemm, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sgdStep", nullptr, SgdStep, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sumSquaresRows", nullptr, SumSquaresRows, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"copyNd", nullptr, CopyNdFn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"col2im", nullptr, Col2imFn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"park", nullptr, Park, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setNumThreads", nullptr, SetNumThreads, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"getNumThreads", nullptr, GetNumThreads, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"isa", nullptr, IsaName, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setIsa", nullptr, SetIsa, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"features", nullptr, FeaturesObject, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) {
    napi_throw_error(env, nullptr, "descent_native: napi_define_properties failed");
    return nullptr;
  }
  return exports;
}
