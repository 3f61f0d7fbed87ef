#!/usr/bin/python3
"""
What PyTorch 1.13 (Debian's python3-torch) gives for Descent's ops at the points where a rule has
to choose: ties, kinks, signed zeros, infinities and NaN. Forward values and gradients, in float64
(and float32 for the elementwise ops, whose float32 kernels are separate code in both libraries).

The output is the fixture test/ops/semantics.test.ts reads; CI has no torch, so the fixture is
committed. Regenerate it with

    apt-get install python3-torch      # 1.13.1 on Debian 12
    /usr/bin/python3 scripts/torch-semantics.py > test/ops/fixtures/torch-semantics.json

Numbers are written as JSON numbers except NaN, +-Infinity and -0, which are the strings "nan",
"inf", "-inf" and "-0". Each case's gradients are those of sum(y * gradOut) (gradOut: ones unless
the case gives one). PyTorch runs an elementwise op through a vector loop and a scalar tail, which
do not always agree; each such op is also run on its inputs tiled 9 times, and where the results
differ the fixture says so: "signedZero": false (the sign of a zero output is not fixed),
"yVaries" / "gradVaries": {index: [every value PyTorch gave]} (any of them is PyTorch's answer).
"""
import json
import math
import sys

import torch
import torch.nn.functional as F

nan, inf = float('nan'), float('inf')
DTYPES = {'float64': torch.float64, 'float32': torch.float32}

# every special value, the kinks of relu/abs (0), the bounds of clamp(-1, 1) exactly, a float64
# subnormal and values on both sides of them
SPECIAL = [nan, -inf, -2.0, -1.0, -0.5, -0.0, 0.0, 5e-324, 0.5, 1.0, 2.0, 30.0, inf]
SPECIAL32 = [v for v in SPECIAL if v != 5e-324] + [1e-45]  # 1e-45: float32's smallest subnormal


def enc(v):
    if math.isnan(v):
        return 'nan'
    if math.isinf(v):
        return 'inf' if v > 0 else '-inf'
    if v == 0 and math.copysign(1, v) < 0:
        return '-0'
    return v


def encl(t):
    return [enc(v) for v in t.detach().reshape(-1).tolist()]


def same_bits(a, b):
    """Equal, NaN equal to NaN, and zeros of the same sign."""
    for x, y in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist()):
        if math.isnan(x) and math.isnan(y):
            continue
        if x != y or math.copysign(1, x) != math.copysign(1, y):
            return False
    return True


def run(fn, inputs, dtype, grad_out=None):
    xs = [torch.tensor(v, dtype=DTYPES[dtype], requires_grad=True) for v in inputs]
    y = fn(*xs)
    go = torch.ones_like(y) if grad_out is None else torch.tensor(grad_out, dtype=y.dtype).reshape(y.shape)
    y.backward(go)
    return y, [x.grad if x.grad is not None else torch.zeros_like(x) for x in xs]


def key(v):
    return nan if math.isnan(v) else v  # one NaN object: a set then holds at most one NaN


def variations(fn, inputs, dtype, grad_out):
    """
    For an elementwise op: whether the signs of zero agree, and {i: values of y}, {i: values of the
    first gradient} where they do not, over the inputs as given, tiled 9 times, and one at a time.
    """
    if any(torch.tensor(v).dim() != 1 for v in inputs) or any(len(v) != len(inputs[0]) for v in inputs):
        return True, {}, {}
    n = len(inputs[0])
    y1, g1 = run(fn, inputs, dtype, grad_out)
    if y1.shape != (n,):
        return True, {}, {}
    y9, g9 = run(fn, [v * 9 for v in inputs], dtype, None if grad_out is None else grad_out * 9)
    ones = [run(fn, [[v[i]] for v in inputs], dtype, None if grad_out is None else [grad_out[i]]) for i in range(n)]
    y1s = torch.cat([y.detach() for y, _ in ones])
    g1s = torch.cat([g[0] for _, g in ones])
    ys = [y1, y1s] + list(y9.detach().reshape(9, n))
    gs = [g1[0], g1s] + list(g9[0].reshape(9, n))
    signs = all(same_bits(y, y1) for y in ys)
    vary = lambda ts: {i: sorted({key(t[i].item()) for t in ts}, key=repr) for i in range(n) if len({key(t[i].item()) for t in ts}) > 1}
    return signs, vary(ys), vary(gs)


cases = []


def case(name, op, fn, inputs, dtype='float64', params=None, grad_out=None, signed_zero=True):
    y, grads = run(fn, inputs, dtype, grad_out)
    c = {'name': name, 'op': op, 'dtype': dtype, 'params': params or {},
         'inputs': [{'shape': list(torch.tensor(v).shape), 'values': encl(torch.tensor(v, dtype=DTYPES[dtype]))} for v in inputs],
         'y': {'shape': list(y.shape), 'values': encl(y)}, 'grads': [encl(g) for g in grads]}
    if grad_out is not None:
        c['gradOut'] = [enc(v) for v in grad_out]
    signs, y_vary, g_vary = variations(fn, inputs, dtype, grad_out)
    if not signed_zero or not signs:
        c['signedZero'] = False
    if y_vary:
        c['yVaries'] = {i: [enc(v) for v in vs] for i, vs in y_vary.items()}
    if g_vary:
        c['gradVaries'] = {i: [enc(v) for v in vs] for i, vs in g_vary.items()}
    cases.append(c)


# ------------------------------------------------------------------------------ elementwise --
UNARY = {
    'relu': (torch.relu, {}),
    'leakyRelu': (lambda x: F.leaky_relu(x, 0.1), {'negativeSlope': 0.1}),
    'elu': (F.elu, {}),
    'elu2': (lambda x: F.elu(x, 2.0), {'alpha': 2.0}),
    'clamp': (lambda x: torch.clamp(x, -1.0, 1.0), {'min': -1.0, 'max': 1.0}),
    'clampMin': (lambda x: torch.clamp(x, min=-1.0), {'min': -1.0}),
    'clampMax': (lambda x: torch.clamp(x, max=1.0), {'max': 1.0}),
    'clampMin0': (lambda x: torch.clamp(x, min=0.0), {'min': 0.0}),
    'abs': (torch.abs, {}),
    'sign': (torch.sign, {}),
    'neg': (torch.neg, {}),
    'softplus': (F.softplus, {}),
    'logSigmoid': (F.logsigmoid, {}),
    'gelu': (F.gelu, {}),
    'geluTanh': (lambda x: F.gelu(x, approximate='tanh'), {'approximate': 'tanh'}),
    'sigmoid': (torch.sigmoid, {}),
    'tanh': (torch.tanh, {}),
    'exp': (torch.exp, {}),
    'log': (torch.log, {}),
    'log1p': (torch.log1p, {}),
    'sqrt': (torch.sqrt, {}),
    'erf': (torch.erf, {}),
    'square': (torch.square, {}),
    'powScalar2': (lambda x: x.pow(2.0), {'exponent': 2.0}),
    'powScalar0': (lambda x: x.pow(0.0), {'exponent': 0.0}),
    'powScalarHalf': (lambda x: x.pow(0.5), {'exponent': 0.5}),
    'powScalarMinus1': (lambda x: x.pow(-1.0), {'exponent': -1.0}),
}
for dtype, xs in (('float64', SPECIAL), ('float32', SPECIAL32)):
    for name, (fn, params) in UNARY.items():
        op = next((o for o in ('clamp', 'elu', 'powScalar') if name.startswith(o)), name)
        case(f'{name} {dtype}', op, fn, [xs], dtype, params)

# ReLU's backward passes the gradient where x > 0 or x is NaN, and gives exactly 0 where x <= 0
# even when the incoming gradient is NaN or infinite (threshold_backward)
case('relu with NaN/Inf gradients', 'relu', torch.relu, [[-1.0, 0.0, 1.0, nan, -1.0, 1.0]], grad_out=[nan, nan, nan, 2.0, inf, inf])

# two inputs: ties (also of infinities and of signed zeros), NaN on either side
A = [1.0, 2.0, 1.0, nan, 1.0, nan, 0.0, -0.0, inf, -inf, inf, 3.0]
B = [1.0, 1.0, 2.0, 1.0, nan, nan, -0.0, 0.0, inf, -inf, 1.0, -inf]
for dtype in ('float64', 'float32'):
    # a tie of +0 and -0: PyTorch's vector loop returns b, its scalar loop a (float64 here has the
    # vector loop, float32 the scalar one), so the sign of a zero result is not PyTorch's to fix
    case(f'maximum {dtype}', 'maximum', torch.maximum, [A, B], dtype, signed_zero=False)
    case(f'minimum {dtype}', 'minimum', torch.minimum, [A, B], dtype, signed_zero=False)
    case(f'mul {dtype}', 'mul', torch.mul, [[0.0, -0.0, 0.0, inf, nan, 2.0], [inf, inf, nan, -inf, 0.0, -0.0]], dtype)
    case(f'div {dtype}', 'div', torch.div, [[0.0, 1.0, -1.0, 1.0, inf, 0.0, nan], [0.0, 0.0, 0.0, -0.0, inf, inf, 1.0]], dtype)

# a ** b with both inputs differentiable: 0^0, 0^negative, negative bases, 1^NaN, (-1)^inf, NaN^0
PA = [0.0, 0.0, 0.0, 0.0, -2.0, -2.0, 2.0, 1.0, 1.0, -1.0, nan, inf, 0.0, -0.0, 2.0, 0.5]
PB = [0.0, 2.0, 0.5, -1.0, 2.0, 0.5, nan, nan, inf, inf, 0.0, 0.0, inf, -1.0, 3.0, -inf]
case('pow', 'pow', torch.pow, [PA, PB])

# ------------------------------------------------------------------------------- reductions --
X = [[1.0, 3.0, 3.0, 2.0], [nan, 1.0, nan, 0.0], [-1.0, -1.0, -2.0, -2.0], [inf, inf, 1.0, -inf], [-inf, -inf, -inf, -inf]]
# torch.max(x, dim): the gradient goes to the returned index (the first extreme, the first NaN)
case('max over dim 1', 'maxDim', lambda x: torch.max(x, 1).values, [X], params={'axis': 1})
case('min over dim 1', 'minDim', lambda x: torch.min(x, 1).values, [X], params={'axis': 1})
case('max over dim 0', 'maxDim', lambda x: torch.max(x, 0).values, [X], params={'axis': 0})
# torch.max(x): one value; the gradient is split evenly among the elements equal to it (among
# the NaNs when it is NaN)
for name, row in (('ties', [1.0, 3.0, 3.0, 2.0, 3.0]), ('NaN', [1.0, nan, 3.0, nan]), ('infinities', [inf, 1.0, inf]), ('all -inf', [-inf, -inf])):
    case(f'full max, {name}', 'maxAll', lambda x: torch.max(x), [row])
    case(f'full min, {name}', 'minAll', lambda x: torch.min(x), [[-v for v in row]])
case('full max, 2-D ties', 'maxAll', lambda x: torch.max(x), [[[1.0, 5.0], [5.0, 5.0]]])
# amax over several dims splits evenly too (without a NaN: amax's NaN gradient is NaN everywhere)
case('amax over dims [0, 1]', 'maxAxes', lambda x: torch.amax(x, (0, 1)), [[[[1.0, 4.0], [4.0, 2.0]], [[4.0, 0.0], [1.0, 4.0]]]], params={'axes': [0, 1]})

# ---------------------------------------------------------------------------------- pooling --
def pool(kernel, stride=None, padding=0):
    return lambda x: F.max_pool2d(x, kernel, stride, padding)


P1 = [[[[1.0, 1.0, 0.0, 2.0], [1.0, 0.0, 2.0, 2.0], [nan, 5.0, 7.0, nan], [nan, 5.0, nan, 7.0]]]]
case('maxPool2d 2x2, ties and NaNs', 'maxPool2d', pool(2), [P1], 'float32', {'kernel': 2})
case('maxPool2d 2x2, ties and NaNs, float64', 'maxPool2d', pool(2), [P1], 'float64', {'kernel': 2})
# overlapping windows (stride 1): a tied maximum shared by two windows receives both shares
P2 = [[[[3.0, 3.0, 3.0], [1.0, 3.0, 1.0], [inf, -inf, inf]]]]
case('maxPool2d 2x2 stride 1, overlapping ties', 'maxPool2d', pool(2, 1), [P2], 'float32', {'kernel': 2, 'stride': 1})
# padding: the padded positions are never chosen, even when every real element is -inf
P3 = [[[[-inf, -inf, 1.0], [-inf, -inf, 1.0], [2.0, -inf, -inf]]]]
case('maxPool2d 2x2 padding 1, windows of -inf', 'maxPool2d', pool(2, 2, 1), [P3], 'float32', {'kernel': 2, 'stride': 2, 'padding': 1})

# ----------------------------------------------------------------------------------- matmul --
# 0 * Inf and 0 * NaN are NaN: a zero in A must not skip its row of B
MA = [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, -1.0]]
MB = [[inf, 1.0], [nan, 2.0], [1.0, -inf]]
for dtype in ('float64', 'float32'):
    case(f'matmul {dtype}', 'matmul', torch.matmul, [MA, MB], dtype)

json.dump({'torch': torch.__version__, 'regenerate': '/usr/bin/python3 scripts/torch-semantics.py > test/ops/fixtures/torch-semantics.json',
           'cases': cases}, sys.stdout, separators=(',', ':'))
sys.stdout.write('\n')
print(f'{len(cases)} cases from torch {torch.__version__}; regenerate: /usr/bin/python3 scripts/torch-semantics.py > test/ops/fixtures/torch-semantics.json', file=sys.stderr)
