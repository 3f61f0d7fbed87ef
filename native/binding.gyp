# The optional native kernels, built at install by scripts/build-native.mjs (node-gyp with this
# machine's Node headers). Per-ISA code is selected per function with target attributes and
# dispatched at run time, so no -march or -m<isa> flag appears here: a binary built on a CPU with
# AVX-512 runs on one without it.
{
  "targets": [
    {
      "target_name": "descent_native",
      "sources": [
        "src/addon.cc",
        "src/gemm.cc",
        "src/pool.cc",
        "src/kernel_avx2.cc",
        "src/kernel_avx512.cc",
        "src/sgd.cc",
        "src/layout.cc"
      ],
      "cflags": ["-O3", "-ffp-contract=off"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-exceptions"],
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      },
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
