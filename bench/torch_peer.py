"""
PyTorch and OpenBLAS on the bench's own workloads, for the ratios in `npm run bench` (bench/torch.ts
runs this with Debian's /usr/bin/python3, which sees Debian's python3-torch; the python3 first on
PATH may be another install that cannot). Prints one JSON object per line.

  python3 bench/torch_peer.py --threads N --budget SECONDS [--only gemm,mlp,cnn]

Workloads (the same as bench/mlp.ts, bench/cnn.ts and the GEMM rows of bench/run.ts):
  gemm  C = A B, float32 n x n (n = 128, 256, 512, 1024): torch.mm and OpenBLAS's cblas_sgemm
        (Debian's libopenblas0, through ctypes); GFLOP/s = 2 n^3 / seconds
  mlp   one training step of the 784-512-256-10 ReLU MLP on a random batch (32, 128, 512):
        batch gather from a 60,000-example set, forward, cross-entropy (mean), backward, SGD with
        momentum 0.9 (lr 0.05), the loss read back (.item()) as Descent's step does
  cnn   one training step of the benchmark CNN (conv3x3 32, maxpool, conv3x3 64, maxpool,
        dense 128, dense 10; batch 64), the same loop
Each rate is the best of about ten timing windows after a warm-up (bench/measure.ts's rule).
"""
import argparse
import ctypes
import json
import time

import numpy as np
import torch
import torch.nn as nn


def best_window(fn, budget, warmup=2):
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    best = float("inf")
    iters = 0
    while True:
        w0 = time.perf_counter()
        n = 0
        while True:
            fn()
            n += 1
            if time.perf_counter() - w0 >= budget / 10:
                break
        best = min(best, (time.perf_counter() - w0) / n)
        iters += n
        if time.perf_counter() - t0 >= budget:
            return best, iters


def gemm_rows(threads, budget):
    rows = []
    blas = None
    try:
        blas = ctypes.CDLL("libopenblas.so.0")
        blas.openblas_set_num_threads(threads)
    except OSError as e:
        rows.append({"name": "sgemm_openblas", "skipped": f"libopenblas.so.0 not loadable ({e}); apt-get install libopenblas0"})
    for n in (128, 256, 512, 1024):
        a = torch.rand(n, n)
        b = torch.rand(n, n)
        c = torch.empty(n, n)
        per, iters = best_window(lambda: torch.mm(a, b, out=c), budget)
        rows.append({"name": f"gemm_{n}", "backend": "pytorch", "threads": threads, "gflops": 2 * n**3 / per / 1e9, "iters": iters})
        if blas is not None:
            an, bn, cn = (np.ascontiguousarray(t.numpy()) for t in (a, b, c))
            pa, pb, pc = (x.ctypes.data_as(ctypes.c_void_p) for x in (an, bn, cn))
            one, zero = ctypes.c_float(1.0), ctypes.c_float(0.0)
            # cblas_sgemm(RowMajor=101, NoTrans=111, NoTrans=111, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
            call = lambda: blas.cblas_sgemm(101, 111, 111, n, n, n, one, pa, n, pb, n, zero, pc, n)
            per, iters = best_window(call, budget)
            rows.append({"name": f"gemm_{n}", "backend": "openblas", "threads": threads, "gflops": 2 * n**3 / per / 1e9, "iters": iters})
    return rows


def train_step_fn(model, batch, make_input):
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    pool = 60_000
    data = make_input(pool)
    labels = torch.randint(0, 10, (pool,))
    state = {"at": 0}

    def step():
        at = state["at"]
        if at + batch > pool:
            at = 0
        idx = torch.arange(at, at + batch)
        state["at"] = at + batch
        x, y = data.index_select(0, idx), labels.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def mlp_rows(threads, budget):
    rows = []
    for batch in (32, 128, 512):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
        step = train_step_fn(model, batch, lambda n: torch.rand(n, 784))
        per, iters = best_window(step, budget)
        rows.append({"name": f"mlp_784_512_256_10_b{batch}", "backend": "pytorch", "threads": threads, "examples_per_second": batch / per, "iters": iters})
    return rows


def cnn_rows(threads, budget):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10),
    )
    step = train_step_fn(model, 64, lambda n: torch.rand(n, 1, 28, 28))
    per, iters = best_window(step, budget)
    return [{"name": "cnn-train", "backend": "pytorch", "threads": threads, "examples_per_second": 64 / per, "iters": iters}]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--budget", type=float, default=2.0)
    p.add_argument("--only", default="gemm,mlp,cnn")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    which = set(a.only.split(","))
    rows = []
    if "gemm" in which:
        rows += gemm_rows(a.threads, a.budget)
    if "mlp" in which:
        rows += mlp_rows(a.threads, a.budget)
    if "cnn" in which:
        rows += cnn_rows(a.threads, a.budget)
    for r in rows:
        r["torch"] = torch.__version__
        r["torch_threads"] = torch.get_num_threads()
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
