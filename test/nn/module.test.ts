/** Module: registration (explicit and by field), dotted names, state dicts (round trip and errors), train/eval, printing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as d from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { assertClose } from '../helpers.js';

class Net extends nn.Module {
  readonly scale = this.registerParameter('scale', d.ones([2]));
  readonly steps = this.registerBuffer('steps', d.zeros([1], { dtype: 'int32' }));
  readonly fc1: nn.Linear;
  readonly act: nn.ReLU;
  readonly drop: nn.Dropout;
  readonly fc2: nn.Linear;
  constructor(seed: number) {
    super();
    const generator = new d.Generator(seed);
    this.fc1 = this.registerModule('fc1', new nn.Linear(3, 4, { generator }));
    this.act = this.registerModule('act', new nn.ReLU());
    this.drop = this.registerModule('drop', new nn.Dropout(0.5, { generator }));
    this.fc2 = this.registerModule('fc2', new nn.Linear(4, 2, { bias: false, generator }));
  }
  forward(x: Tensor): Tensor {
    return d.mul(this.fc2.forward(this.drop.forward(this.act.forward(this.fc1.forward(x)))), this.scale);
  }
}

/** A module that exposes the protected registration methods, for testing their checks. */
class Open extends nn.Module {
  param(name: string, t: Tensor) {
    return this.registerParameter(name, t);
  }
  child<M extends nn.Module>(name: string, m: M): M {
    return this.registerModule(name, m);
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

describe('Module registration and naming', () => {
  it('names parameters with dots, own ones before the children (PyTorch order)', () => {
    const net = new Net(0);
    assert.deepEqual(
      net.namedParameters().map(([n]) => n),
      ['scale', 'fc1.weight', 'fc1.bias', 'fc2.weight'],
    );
    assert.deepEqual(
      net.namedBuffers().map(([n]) => n),
      ['steps'],
    );
    assert.deepEqual(
      net.namedChildren().map(([n]) => n),
      ['fc1', 'act', 'drop', 'fc2'],
    );
    assert.equal(net.parameters()[1], net.fc1.weight);
    // 2 (scale) + 4*3 + 4 (fc1) + 2*4 (fc2, no bias) = 26
    assert.equal(net.numParameters(), 26);
    assert.deepEqual(Object.keys(net.stateDict()), ['scale', 'steps', 'fc1.weight', 'fc1.bias', 'fc2.weight']);
  });

  it('Sequential names children 0, 1, ... and nests names', () => {
    const inner = new nn.Sequential(new nn.Linear(2, 2), new nn.Tanh());
    const seq = new nn.Sequential(new nn.Linear(3, 2), inner);
    seq.append(new nn.Linear(2, 1, { bias: false }));
    assert.deepEqual(
      seq.namedParameters().map(([n]) => n),
      ['0.weight', '0.bias', '1.0.weight', '1.0.bias', '2.weight'],
    );
    assert.equal(seq.length, 3);
    assert.equal(seq.at(-1), [...seq][2]);
    assert.throws(() => seq.at(3), /Sequential.at: index 3 is out of range for 3 modules/);
  });

  it('lists a shared parameter once, but keeps both names in the state dict', () => {
    const a = new nn.Linear(2, 2);
    const seq = new nn.Sequential(a, new nn.ReLU(), a);
    assert.deepEqual(
      seq.namedParameters().map(([n]) => n),
      ['0.weight', '0.bias'],
    );
    assert.equal(seq.numParameters(), 6);
    assert.deepEqual(Object.keys(seq.stateDict()), ['0.weight', '0.bias']);
    // Tied weights across two distinct modules: two names in the state dict, one parameter.
    const m = new Open();
    const w = d.ones([2]);
    m.child('p', new Open()).param('w', w);
    m.child('q', new Open()).param('w', w);
    assert.deepEqual(
      m.namedParameters().map(([n]) => n),
      ['p.w'],
    );
    assert.deepEqual(Object.keys(m.stateDict()), ['p.w', 'q.w']);
  });

  it('rejects duplicate and dotted names, integer parameters and cycles', () => {
    const m = new Open();
    m.param('w', d.ones([1]));
    assert.throws(() => m.param('w', d.ones([1])), /Open.registerParameter: the name 'w' is already registered/);
    assert.throws(() => m.child('w', new nn.ReLU()), /Open.registerModule: the name 'w' is already registered/);
    assert.throws(() => m.param('a.b', d.ones([1])), /without '\.'/);
    assert.throws(() => m.param('n', d.ones([1], { dtype: 'int32' })), /parameters must be float32 or float64, got int32/);
    const child = m.child('c', new Open());
    assert.throws(() => child.child('back', m), /cycle/);
    assert.throws(() => m.child('self', m), /cycle/);
  });

  it('keeps registered tensors alive past the scope that built the module', () => {
    const net = d.scope(() => new Net(1));
    for (const [, t] of [...net.namedParameters(), ...net.namedBuffers()]) assert.equal(t.isDisposed, false);
    assert.deepEqual(net.forward(d.ones([1, 3])).shape, [1, 2]);
  });
});

/** Plain PyTorch style: layers and a tensor assigned to fields, no register calls. */
class FieldNet extends nn.Module {
  fc: nn.Linear;
  readonly head = new nn.Linear(4, 2, { generator: new d.Generator(1) });
  temperature = d.ones([1]);
  constructor() {
    super();
    this.fc = new nn.Linear(3, 4, { generator: new d.Generator(0) });
  }
  forward(x: Tensor): Tensor {
    return d.mul(this.head.forward(d.relu(this.fc.forward(x))), this.temperature);
  }
}

describe("Module fields register themselves (as PyTorch's __setattr__)", () => {
  it('a Linear assigned to this.fc, without register calls, has its parameters in parameters() and stateDict()', () => {
    const net = new FieldNet();
    // class fields are defined first (head, temperature), then the constructor body assigns fc
    assert.deepEqual(
      net.namedParameters().map(([n]) => n),
      ['temperature', 'head.weight', 'head.bias', 'fc.weight', 'fc.bias'],
    );
    assert.deepEqual(Object.keys(net.stateDict()), ['temperature', 'head.weight', 'head.bias', 'fc.weight', 'fc.bias']);
    assert.equal(net.stateDict()['fc.weight'], net.fc.weight);
    assert.deepEqual(
      net.namedChildren().map(([n]) => n),
      ['head', 'fc'],
    );
    // 1 + 2*4 + 2 + 4*3 + 4 = 27
    assert.equal(net.numParameters(), 27);
    // and the optimizer sees them: one step changes fc.weight
    const before = net.fc.weight.toArray();
    const opt = new d.SGD(net.parameters(), { lr: 0.1 });
    const x = d.randn([5, 3], { generator: new d.Generator(2) });
    opt.step(d.valueAndGrad(() => d.sum(d.square(net.forward(x))), net.parameters()).grads);
    assert.notDeepEqual(net.fc.weight.toArray(), before);
  });

  it('registers a field assigned after construction, and replaces a child assigned to the same name', () => {
    const net = new FieldNet();
    const extra = new nn.Linear(2, 2);
    (net as unknown as { extra: nn.Linear }).extra = extra;
    assert.equal(net.namedChildren().at(-1)![1], extra);
    const head = new nn.Linear(4, 5);
    (net as { head: nn.Linear }).head = head; // replacing the head, as in fine-tuning
    assert.deepEqual(
      net.namedChildren().map(([n]) => n),
      ['head', 'fc', 'extra'],
      'the name keeps its place',
    );
    assert.equal(net.stateDict()['head.weight'], head.weight);
    assert.deepEqual(net.stateDict()['head.weight']!.shape, [5, 4]);
    const t = d.zeros([1]);
    net.temperature = t;
    assert.equal(net.stateDict()['temperature'], t);
  });

  it('leaves explicitly registered fields as they are (existing layers keep their keys)', () => {
    assert.deepEqual(Object.keys(new Net(0).stateDict()), ['scale', 'steps', 'fc1.weight', 'fc1.bias', 'fc2.weight']);
    assert.deepEqual(Object.keys(new nn.BatchNorm1d(3).stateDict()), ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    assert.deepEqual(Object.keys(new nn.Residual(new nn.Linear(2, 2)).stateDict()), ['body.weight', 'body.bias']);
    assert.deepEqual(Object.keys(nn.mlp([2, 3, 1]).stateDict()), ['0.weight', '0.bias', '2.weight', '2.bias']);
    assert.deepEqual(
      new nn.Linear(2, 2, { bias: false }).namedParameters().map(([n]) => n),
      ['weight'],
    );
  });

  it('refuses what it cannot register, naming the field', () => {
    const m = new Open();
    const f = m as unknown as Record<string, unknown>;
    assert.throws(() => {
      f['mask'] = d.ones([2], { dtype: 'int32' });
    }, /Open\.mask: a tensor assigned to a field becomes a parameter, .*got int32; .*registerBuffer\('mask', t\)/);
    f['fc'] = new nn.Linear(1, 1);
    assert.throws(() => {
      f['fc'] = d.ones([1]);
    }, /Open\.fc: cannot assign a Tensor to a registered child module/);
    const child = new Open();
    f['child'] = child;
    assert.throws(() => {
      (child as unknown as Record<string, unknown>)['parent'] = m;
    }, /cycle/);
  });

  it("parameters() names an array field holding unregistered layers (PyTorch's plain-list pitfall)", () => {
    class Blocks extends nn.Module {
      readonly blocks = [new nn.Linear(2, 2), new nn.Linear(2, 2)];
      forward(x: Tensor): Tensor {
        return this.blocks.reduce((h, b) => b.forward(h), x);
      }
    }
    const m = new Blocks();
    assert.throws(
      () => m.parameters(),
      /Blocks: the field 'blocks\[0\]' holds a Linear that is not a registered child, so its parameters would never be trained or saved/,
    );
    assert.throws(() => m.stateDict(), /'blocks\[0\]'/);
  });
});

describe('stateDict and loadStateDict', () => {
  it('round-trips: a second model with other weights computes the same after loading', () => {
    const a = new Net(1),
      b = new Net(2);
    a.eval();
    b.eval();
    const x = d.randn([5, 3], { generator: new d.Generator(3) });
    assert.notDeepEqual(b.forward(x).toArray(), a.forward(x).toArray());
    const ids = b.parameters().map((t) => t.id);
    const res = b.loadStateDict(a.stateDict());
    assert.deepEqual(res, { missingKeys: [], unexpectedKeys: [] });
    assert.deepEqual(b.forward(x).toArray(), a.forward(x).toArray());
    assert.deepEqual(
      b.parameters().map((t) => t.id),
      ids,
      'parameters keep their identity',
    );
    // The loaded values are copies: changing the source afterwards leaves the target alone.
    const before = b.fc1.weight.toArray();
    a.fc1.weight.data[0] = 123;
    assert.deepEqual(b.fc1.weight.toArray(), before);
  });

  it('strict loading names the missing and unexpected keys', () => {
    const net = new Net(0);
    const sd = { ...net.stateDict() };
    delete sd['fc1.bias'];
    sd['fc3.weight'] = d.ones([1]);
    assert.throws(() => net.loadStateDict(sd), /Net.loadStateDict: .*missing keys: 'fc1.bias'; unexpected keys: 'fc3.weight'/);
    const res = net.loadStateDict(sd, false);
    assert.deepEqual(res, { missingKeys: ['fc1.bias'], unexpectedKeys: ['fc3.weight'] });
  });

  it('a shape or dtype mismatch names the key and both shapes, and changes nothing', () => {
    const net = new Net(0);
    const before = net.fc1.bias!.toArray();
    const sd = { ...net.stateDict(), 'fc1.bias': d.zeros([4]), 'fc2.weight': d.zeros([3, 4]) };
    assert.throws(() => net.loadStateDict(sd), /'fc2.weight' has shape \[3, 4\] float32 in the state dict but \[2, 4\] float32 in the module/);
    assert.deepEqual(net.fc1.bias!.toArray(), before, 'the valid entry before the bad one was not loaded');
    const sd2 = { ...net.stateDict(), steps: d.zeros([1]) };
    assert.throws(() => net.loadStateDict(sd2, false), /'steps' has shape \[1\] float32 in the state dict but \[1\] int32 in the module/);
  });
});

describe('train and eval', () => {
  it('switch every descendant and control Dropout', () => {
    const net = new Net(0);
    assert.equal(net.training, true);
    assert.equal(net.eval(), net);
    assert.deepEqual(
      net.namedModules().map(([, m]) => m.training),
      [false, false, false, false, false],
    );
    const x = d.randn([64, 3], { generator: new d.Generator(4) });
    const y1 = net.forward(x).toArray(),
      y2 = net.forward(x).toArray();
    assert.deepEqual(y1, y2, 'eval is deterministic');
    net.train();
    assert.equal(net.drop.training, true);
    assert.notDeepEqual(net.forward(x).toArray(), y1, 'training mode drops units');
    net.train(false);
    assert.equal(net.fc2.training, false);
  });
});

describe('printing', () => {
  it('shows the tree and the parameter count', () => {
    const net = nn.mlp([784, 128, 10], { dropout: 0.1 });
    // 784*128 + 128 + 128*10 + 10 = 100352 + 128 + 1280 + 10 = 101770
    assert.equal(
      String(net),
      [
        'Sequential(',
        '  (0): Linear(inFeatures=784, outFeatures=128, bias=true)',
        '  (1): ReLU()',
        '  (2): Dropout(p=0.1)',
        '  (3): Linear(inFeatures=128, outFeatures=10, bias=true)',
        ')',
        'Parameters: 101,770',
      ].join('\n'),
    );
    assert.equal(
      String(new nn.Sequential(new nn.Sequential(new nn.Identity()))),
      'Sequential(\n  (0): Sequential(\n    (0): Identity()\n  )\n)\nParameters: 0',
    );
  });
});

describe('forward through a custom module', () => {
  it('uses registered tensors and is differentiable', () => {
    const net = new Net(5).eval();
    const x = d.randn([4, 3], { generator: new d.Generator(9) });
    const { grads } = d.valueAndGrad(() => d.sum(net.forward(x)), net.parameters());
    // d sum(h * scale) / d scale_j = sum_i h_ij, with h the fc2 output
    const h = net.fc2.forward(d.relu(net.fc1.forward(x)));
    assertClose(grads.get(net.scale), d.sum(h, 0).toArray() as number[], { atol: 1e-5 });
  });
});

describe('a training step with layers and a loss', () => {
  it('leaves no tensors behind and lowers the loss', () => {
    const net = nn.mlp([4, 8, 3], { dropout: 0.1, generator: new d.Generator(1) });
    const gen = new d.Generator(2);
    const x = d.randn([16, 4], { generator: gen }),
      y = d.randint(0, 3, [16], { generator: gen });
    const loss = () => nn.crossEntropy(net.forward(x), y, { labelSmoothing: 0.1 });
    // one plain gradient-descent step, lr 0.5; every temporary is freed when the scope ends
    const step = () =>
      d.scope(() => {
        const { value, grads } = d.valueAndGrad(loss, net.parameters());
        for (const p of net.parameters()) p.assign(d.sub(p, d.mul(grads.get(p), 0.5)));
        return value.item();
      });
    const first = step();
    const live = d.memory().tensors;
    let last = first;
    for (let i = 0; i < 30; i++) last = step();
    assert.equal(d.memory().tensors, live);
    assert.ok(last < 0.8 * first, `loss went from ${first} to ${last}`);
  });
});
