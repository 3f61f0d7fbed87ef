import '../helpers.js';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { dataDir, FASHION_MNIST_CLASSES, loadBuiltin, loadFashionMnist, loadIris } from '../../src/node/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'descent-builtin-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function classCounts(labels: Int32Array | Float32Array | Float64Array, k: number): number[] {
  const c = new Array<number>(k).fill(0);
  for (const v of labels) c[v]!++;
  return c;
}

describe('loadFashionMnist (shipped subset)', () => {
  const fm = loadFashionMnist();

  it('has the documented shapes, dtypes and classes', () => {
    const [x, y] = fm.train.tensors;
    assert.deepEqual(x!.shape, [6000, 784]);
    assert.equal(x!.dtype, 'float32');
    assert.deepEqual(y!.shape, [6000]);
    assert.equal(y!.dtype, 'int32');
    assert.deepEqual(fm.test.tensors.map((t) => t.shape), [[1000, 784], [1000]]);
    assert.deepEqual(fm.imageShape, [1, 28, 28]);
    assert.deepEqual(fm.classes, ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
    assert.deepEqual(fm.classes, [...FASHION_MNIST_CLASSES]);
  });

  it('is class-balanced: 600 per class in train, 100 in test', () => {
    assert.deepEqual(classCounts(fm.train.tensors[1]!.data, 10), new Array(10).fill(600));
    assert.deepEqual(classCounts(fm.test.tensors[1]!.data, 10), new Array(10).fill(100));
  });

  it('pixels are in [0, 1], using the whole range, and images are not blank', () => {
    const x = fm.train.tensors[0]!.data;
    let lo = Infinity, hi = -Infinity, total = 0;
    for (const v of x) { lo = Math.min(lo, v); hi = Math.max(hi, v); total += v; }
    assert.equal(lo, 0);
    assert.equal(hi, 1); // 255 / 255
    const mean = total / x.length;
    // Fashion-MNIST's mean pixel is about 0.286 (72.9 / 255); a subset of 6,000 is close.
    assert.ok(mean > 0.25 && mean < 0.32, `mean pixel ${mean}`);
    // Every value is a multiple of 1/255.
    for (let i = 0; i < x.length; i += 997) assert.equal(Math.fround(Math.round(x[i]! * 255) / 255), x[i]);
  });

  it('loads a directory of raw (or gzipped) IDX files, and names the missing ones', () => {
    const src = join(dataDir(), 'fashion-mnist-subset');
    for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte']) writeFileSync(join(tmp, f), gunzipSync(readFileSync(join(src, `${f}.gz`))));
    copyFileSync(join(src, 't10k-images-idx3-ubyte.gz'), join(tmp, 't10k-images-idx3-ubyte.gz'));
    assert.throws(() => loadFashionMnist({ dir: tmp }), (e: Error) => e.message.includes(tmp) && /missing t10k-labels-idx1-ubyte; expected the files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte/.test(e.message));
    copyFileSync(join(src, 't10k-labels-idx1-ubyte.gz'), join(tmp, 't10k-labels-idx1-ubyte.gz'));
    const again = loadFashionMnist({ dir: tmp });
    assert.deepEqual(Array.from(again.train.tensors[0]!.data.subarray(0, 2000)), Array.from(fm.train.tensors[0]!.data.subarray(0, 2000)));
    assert.equal(again.test.length, 1000);
  });
});

describe('loadIris and loadBuiltin', () => {
  it('Iris: 150 examples, 4 features, 3 balanced classes', () => {
    const iris = loadIris();
    const [x, y] = iris.dataset.tensors;
    assert.deepEqual(x!.shape, [150, 4]);
    assert.deepEqual(iris.classes, ['setosa', 'versicolor', 'virginica']);
    assert.deepEqual(iris.columns, ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    assert.deepEqual(classCounts(y!.data, 3), [50, 50, 50]);
    // The first flower of the data: 5.1, 3.5, 1.4, 0.2, setosa.
    assert.deepEqual(Array.from(x!.data.subarray(0, 4)), [5.1, 3.5, 1.4, 0.2].map(Math.fround));
    assert.equal(y!.data[0], 0);
  });

  it('dispatches by name and lists the known names otherwise', () => {
    assert.equal(loadBuiltin('iris').dataset.length, 150);
    assert.equal(loadBuiltin('fashion-mnist').train.length, 6000);
    assert.throws(() => loadBuiltin('mnist'), /unknown dataset "mnist"; the built-in datasets are fashion-mnist, iris/);
  });
});
