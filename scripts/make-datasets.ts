/**
 * Build the shipped Fashion-MNIST subset: a deterministic, class-balanced sample of the full set.
 *
 *   node --import tsx scripts/make-datasets.ts [sourceDir] [outDir]
 *
 * sourceDir defaults to /usr/share/datasets/fashion-mnist (Debian's copy of the full set);
 * outDir to data/fashion-mnist-subset. For each class c (0..9), in each split, a permutation of
 * that class's example positions is drawn from Generator(SEED) (classes in order 0..9, train
 * then test, one generator throughout), and its first k positions are taken (k = 600 train,
 * 100 test). The chosen positions are then sorted, so the subset keeps the original file order.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator } from '../src/core/random.js';
import { readIdx, writeIdx } from '../src/data/readers/idx.js';

const SEED = 2017; // any fixed number (the year Fashion-MNIST was published)
const PER_CLASS = { train: 600, t10k: 100 } as const;

const root = fileURLToPath(new URL('..', import.meta.url));
const source = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const out = process.argv[3] ?? join(root, 'data', 'fashion-mnist-subset');
mkdirSync(out, { recursive: true });

const g = new Generator(SEED);
for (const split of ['train', 't10k'] as const) {
  const images = readIdx(join(source, `${split}-images-idx3-ubyte.gz`));
  const labels = readIdx(join(source, `${split}-labels-idx1-ubyte.gz`));
  const [n, rows, cols] = images.shape as [number, number, number];
  const chosen: number[] = [];
  for (let c = 0; c < 10; c++) {
    const positions: number[] = [];
    for (let i = 0; i < n; i++) if (labels.data[i] === c) positions.push(i);
    if (positions.length < PER_CLASS[split]) throw new Error(`make-datasets: ${split} has only ${positions.length} examples of class ${c}`);
    const perm = g.permutation(positions.length);
    for (let j = 0; j < PER_CLASS[split]; j++) chosen.push(positions[perm[j]!]!);
  }
  chosen.sort((a, b) => a - b);
  const pixels = rows * cols;
  const img = new Uint8Array(chosen.length * pixels);
  const lab = new Uint8Array(chosen.length);
  chosen.forEach((src, k) => {
    img.set(images.data.subarray(src * pixels, (src + 1) * pixels) as Uint8Array, k * pixels);
    lab[k] = labels.data[src]!;
  });
  writeIdx(join(out, `${split}-images-idx3-ubyte.gz`), { shape: [chosen.length, rows, cols], data: img });
  writeIdx(join(out, `${split}-labels-idx1-ubyte.gz`), { shape: [chosen.length], data: lab });
  console.log(`${split}: ${chosen.length} of ${n} examples (${PER_CLASS[split]} per class) -> ${out}`);
}
