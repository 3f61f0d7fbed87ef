/** The --model cnn preset and the layer spec grammar. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import { buildModelFromSpec, MODEL_SPEC_HELP } from '../../src/cli/model-spec.js';
import '../helpers.js';

const info = { inputSize: 784, numClasses: 10, imageShape: [1, 28, 28], activation: 'relu', dropout: 0 };

describe('buildModelFromSpec', () => {
  it('cnn is the benchmark network: 28 -> 26 -> 13 -> 11 -> 5, 1600 features, 225,034 parameters', () => {
    const net = buildModelFromSpec('cnn', info)!;
    // conv1 32*1*9 + 32 = 320; conv2 64*32*9 + 64 = 18,496; dense 1600*128 + 128 = 204,928; out 128*10 + 10 = 1,290
    assert.equal(net.numParameters(), 320 + 18496 + 204928 + 1290);
    assert.deepEqual(
      net.namedParameters().map(([n, t]) => `${n}:${t.shape.join('x')}`),
      ['1.weight:32x1x3x3', '1.bias:32', '4.weight:64x32x3x3', '4.bias:64', '8.weight:128x1600', '8.bias:128', '10.weight:10x128', '10.bias:10'],
    );
    assert.deepEqual(net.forward(d.zeros([3, 784])).shape, [3, 10]);
  });

  it('builds specs with bn, res, gap, drop, avgpool and strided / same-padded convs', () => {
    const net = buildModelFromSpec('conv:8x3same,bn,pool:2,res:8,res:12,drop:0.1,conv:16x3s2p1,avgpool:2,gap,dense:20,bn', { ...info, dropout: 0.2 })!;
    // 28 same -> 28, pool -> 14, res blocks keep 14, stride 2 pad 1 -> 7, avgpool 2 -> 3, gap -> 16 features
    assert.deepEqual(net.forward(d.randn([2, 784])).shape, [2, 10]);
    const names = (net as d.Sequential).namedChildren().map(([, m]) => m.constructor.name);
    assert.deepEqual(names, [
      'Unflatten',
      'Conv2d',
      'BatchNorm2d',
      'ReLU',
      'MaxPool2d',
      'Residual',
      'ReLU',
      'Residual',
      'ReLU',
      'Dropout2d',
      'Conv2d',
      'ReLU',
      'AvgPool2d',
      'GlobalAvgPool2d',
      'Linear',
      'BatchNorm1d',
      'ReLU',
      'Dropout',
      'Linear',
    ]);
    // the second residual block changes 8 -> 12 channels, so its skip path is a 1x1 projection
    assert.ok(net.namedParameters().some(([n]) => n === '7.shortcut.0.weight'));
  });

  it('leaves linear and mlp specs to the caller and names the token in its errors', () => {
    assert.equal(buildModelFromSpec('linear', info), null);
    assert.equal(buildModelFromSpec('mlp:64', info), null);
    assert.throws(() => buildModelFromSpec('conv:32', info), /--model conv:32: layer 'conv:32': expected conv:CxK/);
    assert.throws(() => buildModelFromSpec('conv:8x3,pool:2,wat', info), /layer 'wat': unknown layer/);
    assert.throws(() => buildModelFromSpec('dense:10,conv:8x3', info), /layer 'conv:8x3': needs feature maps/);
    assert.throws(
      () => buildModelFromSpec('conv:8x3', { ...info, inputSize: 10, imageShape: undefined }),
      /convolutional layers need image inputs, but the data has 10 features/,
    );
    assert.throws(() => buildModelFromSpec('conv:8x30', info), /a 30x30 kernel does not fit in 28x28/);
    assert.match(MODEL_SPEC_HELP, /conv:CxK/);
  });
});
