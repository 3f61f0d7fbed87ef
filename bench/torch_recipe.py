"""
PyTorch on the full Fashion-MNIST MLP recipe of issue 15, for comparison with
  descent train --data DIR --model mlp:512,256 --batch-size 128 --epochs 5 --optimizer sgd --lr 0.05 --momentum 0.9 --json
The same IDX files, shuffled batches of 128, SGD with momentum 0.9, a cosine schedule stepped per
update (the CLI's default for MLPs); only the training loop is timed. Run with Debian's Python:
  OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=1 /usr/bin/python3 bench/torch_recipe.py 1 [DIR [EPOCHS]]
(the first argument is torch.set_num_threads; DIR defaults to Debian's dataset-fashion-mnist, EPOCHS to 5).
"""
import gzip, time, sys
import numpy as np, torch, torch.nn as nn
d = (sys.argv[2].rstrip('/') + '/') if len(sys.argv) > 2 else '/usr/share/datasets/fashion-mnist/'
def idx(name, off):
    return np.frombuffer(gzip.open(d + name).read(), dtype=np.uint8, offset=off)
x = torch.from_numpy(idx('train-images-idx3-ubyte.gz', 16).reshape(-1, 784).astype(np.float32) / 255)
y = torch.from_numpy(idx('train-labels-idx1-ubyte.gz', 8).astype(np.int64))
xt = torch.from_numpy(idx('t10k-images-idx3-ubyte.gz', 16).reshape(-1, 784).astype(np.float32) / 255)
yt = torch.from_numpy(idx('t10k-labels-idx1-ubyte.gz', 8).astype(np.int64))
threads = int(sys.argv[1]); torch.set_num_threads(threads); torch.manual_seed(0)
model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
epochs, B = (int(sys.argv[3]) if len(sys.argv) > 3 else 5), 128
steps = epochs * ((len(x) + B - 1) // B)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
lossf = nn.CrossEntropyLoss(); seconds = 0.0
for e in range(epochs):
    perm = torch.randperm(len(x)); t0 = time.perf_counter()
    for i in range(0, len(x), B):
        idx_ = perm[i:i + B]; xb, yb = x.index_select(0, idx_), y.index_select(0, idx_)
        opt.zero_grad(set_to_none=True); loss = lossf(model(xb), yb); loss.backward(); opt.step(); sched.step(); loss.item()
    seconds += time.perf_counter() - t0
with torch.no_grad(): acc = (model(xt).argmax(1) == yt).float().mean().item()
print(f'threads={threads} OPENBLAS={__import__("os").environ.get("OPENBLAS_NUM_THREADS")} examples/s={epochs*len(x)/seconds:.0f} test_accuracy={acc:.4f}')
