/**
 * Convolutional models for the CLI: the `cnn` preset and a compact spec of layers (see
 * MODEL_SPEC_HELP). Inputs arrive flat, [N, inputSize]; the model unflattens them to NCHW
 * [N, ...imageShape] itself, so datasets and loaders stay unchanged.
 */
import { Sequential } from '../nn/container.js';
import { ACTIVATIONS, ACTIVATION_CHOICES, type ActivationName } from '../nn/registry.js';
import { Conv2d } from '../nn/conv.js';
import { Dropout, Dropout2d, Flatten, Linear, Unflatten } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { BatchNorm1d, BatchNorm2d } from '../nn/norm.js';
import { AvgPool2d, GlobalAvgPool2d, MaxPool2d } from '../nn/pooling.js';
import { Residual } from '../nn/residual.js';
import { UsageError } from './errors.js';

/** The benchmark network of `--model cnn` (input 1x28x28: 28 -> 26 -> 13 -> 11 -> 5, so 64*5*5 = 1600 features). */
export const CNN_PRESET = 'conv:32x3,pool:2,conv:64x3,pool:2,flatten,dense:128';

export const MODEL_SPEC_HELP = `Convolutional models (NCHW; flat inputs are reshaped to the dataset's image shape, e.g. 1x28x28):
  cnn                    ${CNN_PRESET}
                         (conv3x3 1->32, act, maxpool 2, conv3x3 32->64, act, maxpool 2, dense 1600->128, act, dense 128->classes)
  LAYER,LAYER,...        layers in order; a final dense layer to the number of classes is always added
    conv:CxK             Conv2d, C output channels, KxK kernel, stride 1, no padding; then --activation
    conv:CxKsS / pP / same   with stride S, padding P, or 'same' padding (e.g. conv:64x3s2p1, conv:32x3same)
    pool:K               max pooling KxK with stride K (maxpool:K is the same)
    avgpool:K            average pooling KxK with stride K
    gap                  global average pooling: [N, C, H, W] -> [N, C]
    bn                   batch normalisation (2d after conv/res, 1d after dense), before that layer's activation
    res:C                residual block: conv3x3-bn-act-conv3x3-bn (C channels, 'same' padding) plus the input
                         (through a 1x1 conv when the channel count changes), then --activation
    drop:P               dropout with probability P (whole channels on feature maps, Dropout2d)
    flatten              [N, C, H, W] -> [N, C*H*W] (added before the first dense layer if missing)
    dense:H              Linear with H outputs; then --activation and, if --dropout > 0, Dropout
  example: --model conv:32x3same,bn,pool:2,res:32,conv:64x3,pool:2,gap,dense:64`;

export interface ModelSpecInfo {
  inputSize: number;
  numClasses: number;
  imageShape?: number[];
  activation: string;
  dropout: number;
}

const LAYER_TOKEN = /^(conv|pool|maxpool|avgpool|gap|bn|res|drop|flatten|dense)(:|$)/;

type Shape = { kind: 'image'; c: number; h: number; w: number } | { kind: 'vector'; f: number };

/** The input image [C, H, W]: the dataset's, else a square single-channel image when inputSize is a square. */
function inputImage(spec: string, info: ModelSpecInfo): [number, number, number] {
  const s = info.imageShape;
  if (s && s.length === 3) return [s[0]!, s[1]!, s[2]!];
  if (s && s.length === 2) return [1, s[0]!, s[1]!];
  const side = Math.round(Math.sqrt(info.inputSize));
  if (side * side === info.inputSize) return [1, side, side];
  throw new UsageError(`--model ${spec}: convolutional layers need image inputs, but the data has ${info.inputSize} features and no image shape`);
}

/**
 * One layer of a planned model: its sizes, known before anything is allocated, and how to make it.
 * Sizes count numbers (float32 each): `params` trainable ones; per example, `saved` the values
 * the layer keeps for the backward pass (its output and inner values) and `scratch` a temporary
 * work area while it runs (a convolution's unfolded input).
 */
export interface LayerPlan {
  params: number;
  saved: number;
  scratch: number;
  make: () => Module;
}

/** A layer spec, planned: its layers in order, each with its sizes (a shape walk: nothing is allocated). */
// lint-allow-long-function: one case per layer kind of the spec grammar, each a few lines; splitting would scatter the grammar
export function planModelFromSpec(spec: string, info: ModelSpecInfo): LayerPlan[] | null {
  const text = spec === 'cnn' ? CNN_PRESET : spec;
  const tokens = text.split(',').map((t) => t.trim());
  if (!LAYER_TOKEN.test(tokens[0]!)) return null;
  if (!Object.hasOwn(ACTIVATIONS, info.activation))
    throw new UsageError(`--activation must be one of ${ACTIVATION_CHOICES.join(', ')}, got ${JSON.stringify(info.activation)}`);
  const makeAct = ACTIVATIONS[info.activation as ActivationName];
  const net: LayerPlan[] = [];
  const size = (s: Shape) => (s.kind === 'image' ? s.c * s.h * s.w : s.f);
  let shape: Shape = { kind: 'vector', f: info.inputSize };
  const add = (make: () => Module, o: { params?: number; saved?: number; scratch?: number } = {}) => {
    net.push({ params: o.params ?? 0, saved: o.saved ?? size(shape), scratch: o.scratch ?? 0, make });
  };
  /** The activation (and dropout) owed by the last conv/dense/res, appended after an optional bn. */
  let pending: (() => Module)[] = [];
  const flush = () => {
    for (const m of pending) add(m);
    pending = [];
  };
  const bad = (tok: string, why: string): never => {
    throw new UsageError(`--model ${spec}: layer '${tok}': ${why}`);
  };
  const image = (tok: string): { c: number; h: number; w: number } => {
    if (shape.kind === 'image') return shape;
    if (net.length > 0) bad(tok, 'needs feature maps [N, C, H, W], but the previous layers give vectors');
    const [c, h, w] = inputImage(spec, info);
    if (c * h * w !== info.inputSize) bad(tok, `image shape ${c}x${h}x${w} does not match the ${info.inputSize} input features`);
    shape = { kind: 'image', c, h, w };
    add(() => new Unflatten(1, [c, h, w]), { saved: 0 }); // a view
    return shape;
  };
  const toVector = () => {
    if (shape.kind === 'image') {
      shape = { kind: 'vector', f: shape.c * shape.h * shape.w };
      add(() => new Flatten(), { saved: 0 });
    }
    return shape.f;
  };
  const num = (tok: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) bad(tok, `expected an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  const pooled = (tok: string, size: number, k: number) => {
    const out = Math.floor((size - k) / k) + 1;
    if (out < 1) bad(tok, `a ${k}x${k} window does not fit in ${size}x${size} feature maps`);
    return out;
  };

  for (const tok of tokens) {
    const [kind, arg = ''] = tok.split(/:(.*)/s) as [string, string?];
    if (kind === 'bn') {
      // weight and bias per channel or feature; it keeps its input normalised as well as its output
      if (shape.kind === 'image') {
        const c = shape.c;
        add(() => new BatchNorm2d(c), { params: 2 * c, saved: 2 * size(shape) });
      } else {
        const f = shape.f;
        add(() => new BatchNorm1d(f), { params: 2 * f, saved: 2 * f });
      }
      flush();
      continue;
    }
    flush();
    switch (kind) {
      case 'conv': {
        const m =
          /^(\d+)x(\d+)(?:s(\d+))?(?:p(\d+)|(same))?$/.exec(arg) ??
          bad(tok, 'expected conv:CxK with optional sS and pP or same, e.g. conv:32x3, conv:64x3s2p1, conv:32x3same');
        const s = image(tok);
        const out = num(tok, m[1]!, 1),
          k = num(tok, m[2]!, 1),
          stride = m[3] ? num(tok, m[3], 1) : 1;
        const padding = m[5] ? ('same' as const) : m[4] ? num(tok, m[4], 0) : 0;
        if (padding === 'same' && stride !== 1) bad(tok, "'same' padding needs stride 1");
        const p = padding === 'same' ? k - 1 : 2 * padding;
        const h = Math.floor((s.h + p - k) / stride) + 1,
          w = Math.floor((s.w + p - k) / stride) + 1;
        if (h < 1 || w < 1) bad(tok, `a ${k}x${k} kernel does not fit in ${s.h}x${s.w} feature maps`);
        const cin = s.c;
        shape = { kind: 'image', c: out, h, w };
        // weight [out, cin, k, k] and bias [out]; the unfolded input is [cin k k, h w] per example
        add(() => new Conv2d(cin, out, k, { stride, padding }), { params: out * cin * k * k + out, scratch: cin * k * k * h * w });
        pending = [makeAct];
        break;
      }
      case 'pool':
      case 'maxpool':
      case 'avgpool': {
        const s = image(tok),
          k = num(tok, arg, 1);
        shape = { kind: 'image', c: s.c, h: pooled(tok, s.h, k), w: pooled(tok, s.w, k) };
        add(() => (kind === 'avgpool' ? new AvgPool2d(k) : new MaxPool2d(k)));
        break;
      }
      case 'gap': {
        const s = image(tok);
        shape = { kind: 'vector', f: s.c };
        add(() => new GlobalAvgPool2d());
        break;
      }
      case 'res': {
        const s = image(tok),
          c = num(tok, arg, 1),
          cin = s.c;
        shape = { kind: 'image', c, h: s.h, w: s.w };
        const hw = s.h * s.w,
          project = cin !== c;
        // conv3x3 cin->c, bn, act, conv3x3 c->c, bn (bn: weight and bias), the sum; a 1x1 conv + bn on the skip path
        const params = c * cin * 9 + 2 * c + c * c * 9 + 2 * c + (project ? c * cin + 2 * c : 0);
        add(
          () => {
            const body = new Sequential(
              new Conv2d(cin, c, 3, { padding: 1, bias: false }),
              new BatchNorm2d(c),
              makeAct(),
              new Conv2d(c, c, 3, { padding: 1, bias: false }),
              new BatchNorm2d(c),
            );
            return new Residual(body, project ? { shortcut: new Sequential(new Conv2d(cin, c, 1, { bias: false }), new BatchNorm2d(c)) } : {});
          },
          { params, saved: c * hw * (project ? 11 : 8), scratch: Math.max(cin, c) * 9 * hw },
        );
        pending = [makeAct];
        break;
      }
      case 'drop': {
        const p = Number(arg);
        if (!(p >= 0 && p < 1)) bad(tok, `expected a probability in [0, 1), got ${JSON.stringify(arg)}`);
        const channels = shape.kind === 'image' && net.length > 0;
        add(() => (channels ? new Dropout2d(p) : new Dropout(p)), { saved: 2 * size(shape) }); // output and mask
        break;
      }
      case 'flatten':
        if (arg !== '') bad(tok, 'takes no argument');
        toVector();
        break;
      case 'dense': {
        const f = toVector(),
          h = num(tok, arg, 1);
        shape = { kind: 'vector', f: h };
        add(() => new Linear(f, h), { params: f * h + h });
        pending = info.dropout > 0 ? [makeAct, () => new Dropout(info.dropout)] : [makeAct];
        break;
      }
      default:
        bad(tok, 'unknown layer (expected conv, pool, maxpool, avgpool, gap, bn, res, drop, flatten or dense)');
    }
  }
  flush();
  const f = toVector(),
    k = info.numClasses;
  shape = { kind: 'vector', f: k };
  add(() => new Linear(f, k), { params: f * k + k });
  return net;
}

/**
 * A model for `cnn` or a layer spec (MODEL_SPEC_HELP), or null when the spec is neither (the
 * caller handles linear and mlp:...). Errors in a spec that is recognised are UsageErrors naming
 * the token.
 */
export function buildModelFromSpec(spec: string, info: ModelSpecInfo): Module | null {
  const plan = planModelFromSpec(spec, info);
  if (!plan) return null;
  const net = new Sequential();
  for (const layer of plan) net.append(layer.make());
  return net;
}
