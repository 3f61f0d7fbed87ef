// The MPI addon: the few collectives data-parallel training needs, on typed arrays in place.
// Every call blocks the calling (JavaScript) thread until the collective completes on all ranks,
// which is what a training step wants: the update waits for the averaged gradient.
#include <dlfcn.h>
#include <mpi.h>
#include <node_api.h>

#include <cstdio>
#include <cstdlib>

namespace {

bool initialized = false;

napi_value Fail(napi_env env, const char* what, int code) {
  char msg[MPI_MAX_ERROR_STRING + 64];
  char err[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  if (code != MPI_SUCCESS) MPI_Error_string(code, err, &len);
  std::snprintf(msg, sizeof msg, "MPI: %s failed%s%s", what, len ? ": " : "", err);
  napi_throw_error(env, nullptr, msg);
  return nullptr;
}

napi_value Int(napi_env env, int v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

// init(): MPI_Init_thread once; returns [rank, size, version major, version minor].
napi_value Init(napi_env env, napi_callback_info) {
  if (!initialized) {
    // Open MPI loads its plugins with dlopen and needs libmpi's symbols global; a Node addon is
    // loaded RTLD_LOCAL, so libmpi is promoted here (as mpi4py does).
    const char* libs[] = {"libmpi.so.40", "libmpi.so.12", "libmpi.so"};
    for (const char* lib : libs)
      if (dlopen(lib, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) break;
    int provided = 0;
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return Fail(env, "MPI_Init_thread", rc);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    initialized = true;
  }
  int rank = 0, size = 1, major = 0, minor = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Get_version(&major, &minor);
  napi_value arr;
  napi_create_array_with_length(env, 4, &arr);
  int vals[4] = {rank, size, major, minor};
  for (uint32_t i = 0; i < 4; i++) napi_set_element(env, arr, i, Int(env, vals[i]));
  return arr;
}

// The typed array argument i: its data, element count and MPI type (float32, float64, uint8).
bool View(napi_env env, napi_value v, void** data, size_t* count, MPI_Datatype* type) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) return false;
  napi_typedarray_type t;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &t, count, data, &buffer, &offset) != napi_ok) return false;
  if (t == napi_float32_array) *type = MPI_FLOAT;
  else if (t == napi_float64_array) *type = MPI_DOUBLE;
  else if (t == napi_uint8_array) *type = MPI_BYTE;
  else return false;
  return *count <= 0x7fffffff;
}

// The arguments (array, integer) of allreduce and broadcast: the array's memory, element count and type, and the integer.
bool ArrayAndInt(napi_env env, napi_callback_info info, void** data, size_t* count, MPI_Datatype* type, int* value) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  return argc >= 2 && View(env, argv[0], data, count, type) && napi_get_value_int32(env, argv[1], value) == napi_ok;
}

// allreduce(array, op): in place; op 0 sum, 1 min, 2 max.
napi_value Allreduce(napi_env env, napi_callback_info info) {
  void* data;
  size_t count;
  MPI_Datatype type;
  int op = 0;
  if (!ArrayAndInt(env, info, &data, &count, &type, &op) || type == MPI_BYTE || op < 0 || op > 2) {
    napi_throw_type_error(env, nullptr, "allreduce(array, op): a Float32Array or Float64Array and op 0 (sum), 1 (min) or 2 (max)");
    return nullptr;
  }
  if (!initialized) return Fail(env, "allreduce before init()", MPI_SUCCESS);
  MPI_Op ops[3] = {MPI_SUM, MPI_MIN, MPI_MAX};
  int rc = MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), type, ops[op], MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return Fail(env, "MPI_Allreduce", rc);
  return nullptr;
}

// broadcast(array, root): in place, as bytes.
napi_value Broadcast(napi_env env, napi_callback_info info) {
  void* data;
  size_t count;
  MPI_Datatype type;
  int root = 0;
  if (!ArrayAndInt(env, info, &data, &count, &type, &root)) {
    napi_throw_type_error(env, nullptr, "broadcast(array, root): a Float32Array, Float64Array or Uint8Array and a rank");
    return nullptr;
  }
  if (!initialized) return Fail(env, "broadcast before init()", MPI_SUCCESS);
  int rc = MPI_Bcast(data, static_cast<int>(count), type, root, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return Fail(env, "MPI_Bcast", rc);
  return nullptr;
}

napi_value Barrier(napi_env env, napi_callback_info) {
  if (!initialized) return Fail(env, "barrier before init()", MPI_SUCCESS);
  int rc = MPI_Barrier(MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return Fail(env, "MPI_Barrier", rc);
  return nullptr;
}

// finalize(): the orderly end (every rank must call it); a no-op when not initialised.
napi_value Finalize(napi_env, napi_callback_info) {
  int done = 0;
  MPI_Finalized(&done);
  if (initialized && !done) MPI_Finalize();
  return nullptr;
}

// abort(code): ends every rank of the job (the launcher kills the others).
napi_value Abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int code = 1;
  if (argc > 0) napi_get_value_int32(env, argv[0], &code);
  int done = 0;
  MPI_Finalized(&done);
  if (initialized && !done) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

napi_value Wtime(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_double(env, MPI_Wtime(), &out);
  return out;
}

napi_value Module(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"init", nullptr, Init, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"allreduce", nullptr, Allreduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"broadcast", nullptr, Broadcast, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"barrier", nullptr, Barrier, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"finalize", nullptr, Finalize, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"abort", nullptr, Abort, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"wtime", nullptr, Wtime, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Module)
