#!/usr/bin/python3
"""
PyTorch's side of Descent's model interchange tests (test/io/torch-interop.test.ts and
test/io/onnx-torch.test.ts). CI has no torch, so what this writes is committed; regenerate with

    apt-get install python3-torch      # 1.13 on Debian 12
    node --import tsx scripts/descent-state-dict.ts     # Descent's files, read back here
    /usr/bin/python3 scripts/torch-state-dict.py

For each model (an MLP, a net with named submodules and BatchNorm1d, a small CNN with BatchNorm2d
and a residual block; the same architectures as in the tests; and `viewnet`, for ONNX import
only) it writes to test/io/fixtures/torch/:
  torch-<name>.safetensors   PyTorch's state_dict (num_batches_tracked as I64, as PyTorch does)
  torch-<name>-io.safetensors  an input 'x' and PyTorch's eval-mode output 'y' with those weights
  torch-<name>.onnx          torch.onnx.export of the model in eval mode, opset 17, dynamic batch axis
and, for each descent-<name>.safetensors written by Descent, loads it with
load_state_dict(strict=True) and writes PyTorch's output on the same input to
descent-<name>-torch-out.safetensors ('y'), so the test can check that PyTorch reads Descent's files
and computes what Descent computes. The `safetensors` Python package is not in Debian, so the
format (8-byte header length, JSON header, raw little-endian data) is read and written here.
"""
import json
import os
import struct
import sys

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'io', 'fixtures', 'torch')

DTYPES = {torch.float32: 'F32', torch.float64: 'F64', torch.int64: 'I64', torch.int32: 'I32'}
TORCH_DTYPES = {v: k for k, v in DTYPES.items()}


def save_safetensors(tensors, path):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def load_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    base, out = 8 + n, {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        begin, end = e['data_offsets']
        dtype = TORCH_DTYPES[e['dtype']]
        t = torch.frombuffer(bytearray(raw[base + begin:base + end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(e['shape']).clone()
    return out


class Residual(nn.Module):
    """Descent's nn.Residual: body(x) + shortcut(x), keys body.* and shortcut.*."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body
        if shortcut is not None:
            self.shortcut = shortcut

    def forward(self, x):
        return self.body(x) + (self.shortcut(x) if hasattr(self, 'shortcut') else x)


class Net(nn.Module):
    """Named submodules (fc1, bn, fc2) with BatchNorm1d between them."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.bn = nn.BatchNorm1d(8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.bn(self.fc1(x))))


def mlp():
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))


def cnn():
    body = nn.Sequential(
        nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4))
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        Residual(body, nn.Sequential(nn.Conv2d(4, 4, 1, bias=False), nn.BatchNorm2d(4))), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


class ViewNet(nn.Module):
    """For ONNX import only: x.view(x.size(0), -1) exports as a Shape -> Gather -> Unsqueeze -> Concat
    -> Reshape chain; average pooling, LeakyReLU, BatchNorm1d (kept as BatchNormalization), Tanh, LogSoftmax."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(3 * 4 * 4, 5)
        self.bn = nn.BatchNorm1d(5)
        self.out = nn.Linear(5, 3)

    def forward(self, x):
        x = self.pool(nn.functional.leaky_relu(self.conv(x), 0.1))
        x = torch.tanh(self.bn(self.fc(x.view(x.size(0), -1))))
        return torch.log_softmax(self.out(x), 1)


MODELS = {'mlp': (mlp, [4, 6]), 'net': (Net, [4, 6]), 'cnn': (cnn, [2, 1, 8, 8]), 'viewnet': (ViewNet, [2, 1, 8, 8])}


def warm_up(model, shape):
    """A few training-mode passes, so BatchNorm's running statistics are not their initial 0 and 1."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(shape) * 2 + 0.5)
    model.eval()


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, (make, shape) in MODELS.items():
        torch.manual_seed(0)
        model = make()
        warm_up(model, shape)
        x = torch.randn(shape)
        with torch.no_grad():
            y = model(x)
        save_safetensors(model.state_dict(), os.path.join(OUT, f'torch-{name}.safetensors'))
        save_safetensors({'x': x, 'y': y}, os.path.join(OUT, f'torch-{name}-io.safetensors'))
        torch.onnx.export(model, x, os.path.join(OUT, f'torch-{name}.onnx'), opset_version=17,
                          input_names=['input'], output_names=['output'],
                          dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
        theirs = os.path.join(OUT, f'descent-{name}.safetensors')
        if name == 'viewnet':
            continue  # ONNX import only: no Descent architecture to exchange state dicts with
        if not os.path.exists(theirs):
            print(f'{theirs} is missing: run scripts/descent-state-dict.ts first', file=sys.stderr)
            continue
        other = make()
        other.load_state_dict(load_safetensors(theirs), strict=True)
        other.eval()
        with torch.no_grad():
            y2 = other(x)
        save_safetensors({'y': y2}, os.path.join(OUT, f'descent-{name}-torch-out.safetensors'))
        print(f'{name}: PyTorch loaded descent-{name}.safetensors with strict=True')


if __name__ == '__main__':
    main()
