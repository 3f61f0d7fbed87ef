# The optional MPI addon (data-parallel training), built at install by scripts/build-mpi.mjs only
# when mpicc (Open MPI, MPICH) is found; the script passes mpicc's include and link flags in the
# environment, so nothing here names an MPI installation.
{
  "targets": [
    {
      "target_name": "descent_mpi",
      "sources": ["mpi.cc"],
      "cflags": ["-O2", "<!@(node -p \"process.env.DESCENT_MPI_CFLAGS || ''\")"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions"],
      "libraries": ["<!@(node -p \"process.env.DESCENT_MPI_LIBS || '-lmpi'\")", "-ldl"],
      "defines": ["NAPI_VERSION=8", "OMPI_SKIP_MPICXX=1", "MPICH_SKIP_MPICXX=1"]
    }
  ]
}
