/**
 * The architectures of scripts/torch-state-dict.py, built with Descent: the same layers in the same
 * order, so the state-dict keys and layouts are PyTorch's.
 */
import * as d from '../../src/index.js';

const { nn } = d;

/** Named submodules fc1, bn, fc2 (PyTorch's `Net` in the script). */
export class Net extends nn.Module {
  fc1 = new nn.Linear(6, 8);
  bn = new nn.BatchNorm1d(8);
  fc2 = new nn.Linear(8, 3);
  forward(x: d.Tensor): d.Tensor {
    return this.fc2.forward(d.relu(this.bn.forward(this.fc1.forward(x))));
  }
}

export const mlp = (): d.nn.Module => new nn.Sequential(new nn.Linear(6, 5), new nn.ReLU(), new nn.Linear(5, 3));

/** Conv, BatchNorm2d, a residual block with a projection shortcut, max pooling, a dense head. */
export function cnn(): d.nn.Module {
  const body = new nn.Sequential(
    new nn.Conv2d(4, 4, 3, { padding: 1, bias: false }),
    new nn.BatchNorm2d(4),
    new nn.ReLU(),
    new nn.Conv2d(4, 4, 3, { padding: 1, bias: false }),
    new nn.BatchNorm2d(4),
  );
  return new nn.Sequential(
    new nn.Conv2d(1, 4, 3, { padding: 1 }),
    new nn.BatchNorm2d(4),
    new nn.ReLU(),
    new nn.Residual(body, { shortcut: new nn.Sequential(new nn.Conv2d(4, 4, 1, { bias: false }), new nn.BatchNorm2d(4)) }),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(4 * 4 * 4, 3),
  );
}

export const INTEROP_MODELS: Record<'mlp' | 'net' | 'cnn', { make: () => d.nn.Module; shape: number[] }> = {
  mlp: { make: mlp, shape: [4, 6] },
  net: { make: () => new Net(), shape: [4, 6] },
  cnn: { make: cnn, shape: [2, 1, 8, 8] },
};

/** A few training-mode passes on random inputs, so BatchNorm's running statistics are not 0 and 1; then eval mode. */
export function warmUp(model: d.nn.Module, shape: readonly number[]): void {
  model.train();
  d.noGrad(() => {
    for (let i = 0; i < 3; i++) d.scope(() => model.forward(d.add(d.mul(d.randn(shape), 2), 0.5)));
  });
  model.eval();
}
