/** The training memory estimate: parameter counts from the spec alone, sizes, the --max-memory syntax. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planModel } from '../../src/cli/build.js';
import { estimateTrainingMemory, formatBytes, optimizerStateCount, parseByteSize } from '../../src/cli/memory.js';
import '../helpers.js';

const image = { inputSize: 784, numClasses: 10, imageShape: [1, 28, 28], activation: 'relu', dropout: 0 };

describe('planModel', () => {
  it('counts exactly the parameters of the model it builds', () => {
    const specs: [string, typeof image][] = [
      ['linear', { ...image, inputSize: 5, numClasses: 3, imageShape: undefined as never }],
      ['mlp:16,8', { ...image, dropout: 0.2 }],
      ['cnn', image],
      ['conv:8x3same,bn,pool:2,res:8,res:12,drop:0.1,conv:16x3s2p1,avgpool:2,gap,dense:20,bn', image],
      ['conv:4x5s2p2,maxpool:2,flatten,dense:6,drop:0.5', image],
    ];
    for (const [spec, info] of specs) {
      const plan = planModel(spec, info);
      assert.equal(plan.params, plan.build().numParameters(), spec);
    }
    // cnn: 320 + 18,496 + 204,928 + 1,290 (test/cli/model-spec.test.ts derives each)
    assert.equal(planModel('cnn', image).params, 225034);
  });

  it('sizes a huge model without allocating it', () => {
    // 784*1e8 + 1e8 + 1e8*1e8 + 1e8 + 1e8*10 + 10: about 1e16 numbers, which no machine could allocate
    const plan = planModel('mlp:100000000,100000000', image);
    assert.equal(plan.params, 784e8 + 1e8 + 1e16 + 1e8 + 1e9 + 10);
    assert.equal(planModel('conv:100000x3,dense:100000', image).params, 100000 * 9 + 100000 + 100000 * 26 * 26 * 100000 + 100000 + 100000 * 10 + 10);
  });

  it('keeps the spec errors', () => {
    assert.throws(() => planModel('mlp:0', image), /--model mlp:0: hidden sizes must be positive integers/);
    assert.throws(() => planModel('mlp:' + '9'.repeat(400), image), /hidden sizes must be positive integers/);
    assert.throws(() => planModel('nope', image), /--model: unknown model "nope"/);
    assert.throws(() => planModel('conv:8x30', image), /a 30x30 kernel does not fit in 28x28/);
  });
});

describe('estimateTrainingMemory', () => {
  it('adds parameters, gradients, optimizer state, one batch and the data', () => {
    // linear 4 -> 3: 15 parameters, 3 values kept per example
    const plan = planModel('linear', { inputSize: 4, numClasses: 3, activation: 'relu', dropout: 0 });
    const e = estimateTrainingMemory({ plan, inputSize: 4, numClasses: 3, batchSize: 10, optimizerStates: 2, accumulate: 1, examples: 100 });
    assert.equal(e.parameters, 15);
    assert.equal(e.parts.weights, 15 * 2 * 4); // value + gradient
    assert.equal(e.parts.optimizer, 15 * 2 * 2 * 4); // Adam's two moments, and their checkpoint copies
    assert.equal(e.parts.activations, 10 * (2 * (4 + 3) + 3 * 3) * 4); // (input + output) and their gradients, 3 loss rows
    assert.equal(e.parts.data, 100 * 5 * 4); // 4 features + 1 label per example
    assert.equal(e.bytes, 120 + 240 + 920 + 2000);
    // accumulating micro-batches keeps a third copy of the gradients
    assert.equal(
      estimateTrainingMemory({ plan, inputSize: 4, numClasses: 3, batchSize: 10, optimizerStates: 2, accumulate: 4, examples: 100 }).parts.weights,
      15 * 3 * 4,
    );
  });

  it('optimizer state tensors per parameter', () => {
    assert.equal(optimizerStateCount({ optimizer: 'sgd', momentum: 0 }), 0);
    assert.equal(optimizerStateCount({ optimizer: 'sgd', momentum: 0.9 }), 1);
    assert.equal(optimizerStateCount({ optimizer: 'adam', momentum: 0.9 }), 2);
    assert.equal(optimizerStateCount({ optimizer: 'adamw', momentum: 0 }), 2);
    assert.equal(optimizerStateCount({ optimizer: 'rmsprop', momentum: 0 }), 1);
    assert.equal(optimizerStateCount({ optimizer: 'rmsprop', momentum: 0.9 }), 2);
    assert.equal(optimizerStateCount({ optimizer: 'adagrad', momentum: 0.9 }), 1);
  });
});

describe('--max-memory sizes', () => {
  it('bytes, or K, M, G, T as powers of 1024', () => {
    assert.equal(parseByteSize('--max-memory', '1024'), 1024);
    assert.equal(parseByteSize('--max-memory', 2048), 2048);
    assert.equal(parseByteSize('--max-memory', '512M'), 512 * 2 ** 20);
    assert.equal(parseByteSize('--max-memory', '2G'), 2 * 2 ** 30);
    assert.equal(parseByteSize('--max-memory', '1.5GiB'), 1.5 * 2 ** 30);
    assert.equal(parseByteSize('--max-memory', '64kb'), 64 * 1024);
    assert.equal(parseByteSize('--max-memory', '1t'), 2 ** 40);
    assert.equal(parseByteSize('--max-memory', '1e9'), 1e9);
    for (const bad of ['', 'lots', '-1G', '0', '1X', 'G', 0, -5]) {
      assert.throws(() => parseByteSize('--max-memory', bad), /--max-memory must be a size like 512M, 2G or a number of bytes, got /, String(bad));
    }
  });

  it('formatBytes', () => {
    assert.equal(formatBytes(96), '96 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(2 ** 31), '2 GiB');
    assert.equal(formatBytes(1.6e11), '149 GiB');
    assert.equal(formatBytes(Infinity), 'an unbounded amount');
  });
});
