/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; MIT license) from IDX bytes, with no file system:
 * browser-safe. `fetchFashionMnist(url)` loads the four files (raw or .gz) from a URL, such as the
 * shipped subset served as static assets; on Node, `loadFashionMnist()` (descent/node) reads them
 * from disk. Both give the same tensors.
 */
import { tensor } from '../ops/index.js';
import { tensorFromFill } from '../ops/creation.js';
import { TensorDataset } from './dataset.js';
import type { IdxArray } from './readers/idx-parse.js';
import { parseIdx } from './readers/idx-parse.js';
import { fetchBytes, resolveUrl } from './fetch-bytes.js';
import type { FetchBytesOptions } from './fetch-bytes.js';

export const FASHION_MNIST_CLASSES: readonly string[] = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const FASHION_MNIST_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'] as const;

export interface ImageClassification {
  /** Examples [image float32 [784] in [0, 1], label int32 []]. */
  train: TensorDataset;
  test: TensorDataset;
  classes: string[];
  /** The image layout, channels first: reshape a batch to [B, ...imageShape] for convolutions. */
  imageShape: [number, number, number];
}

/** Images [N, 28, 28] uint8 and labels [N] uint8 as a dataset: pixels scaled to [0, 1], labels 0..9 checked. */
export function imageDatasetFromIdx(im: IdxArray, lb: IdxArray, where: { images: string; labels: string }): TensorDataset {
  if (im.type !== 'uint8' || im.shape.length !== 3 || im.shape[1] !== 28 || im.shape[2] !== 28) {
    throw new Error(`loadFashionMnist: ${where.images}: expected uint8 images of shape [N, 28, 28], got ${im.type} [${im.shape.join(', ')}]`);
  }
  if (lb.type !== 'uint8' || lb.shape.length !== 1 || lb.shape[0] !== im.shape[0]) {
    throw new Error(`loadFashionMnist: ${where.labels}: expected uint8 labels of shape [${im.shape[0]}], got ${lb.type} [${lb.shape.join(', ')}]`);
  }
  const n = im.shape[0]!;
  const y = Int32Array.from(lb.data);
  for (let i = 0; i < n; i++) {
    if (y[i]! > 9) throw new Error(`loadFashionMnist: ${where.labels}: label ${y[i]} at example ${i} (byte ${8 + i}); expected a class 0..9`);
  }
  // Pixels 0..255 scaled to [0, 1], written straight into the tensor's storage (60,000 images are
  // 188 MB of float32: one pass, no intermediate array to allocate, fault in and copy).
  const px = im.data as Uint8Array;
  const x = tensorFromFill([n, 784], 'float32', (d) => {
    for (let i = 0; i < px.length; i++) d[i] = px[i]! / 255;
  });
  return new TensorDataset(x, tensor(y));
}

/** The four files' (uncompressed) IDX bytes, in FASHION_MNIST_FILES order, as train and test datasets. */
export function fashionMnistFromIdx(files: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array], names: readonly string[] = FASHION_MNIST_FILES): ImageClassification {
  const [trX, trY, teX, teY] = files.map((b, i) => parseIdx(b, names[i]!, 'loadFashionMnist'));
  return {
    train: imageDatasetFromIdx(trX!, trY!, { images: names[0]!, labels: names[1]! }),
    test: imageDatasetFromIdx(teX!, teY!, { images: names[2]!, labels: names[3]! }),
    classes: [...FASHION_MNIST_CLASSES],
    imageShape: [1, 28, 28],
  };
}

/**
 * Fetch the four Fashion-MNIST files from `base` (a folder URL; each file is tried as `<name>.gz`,
 * then as `<name>`), inflate gzip ones in a stream with a size limit (`maxBytes`, default 1 GiB),
 * and parse them. `fetch` and `init` (headers, credentials, an AbortSignal) go to each request.
 */
export async function fetchFashionMnist(base: string | URL, options: FetchBytesOptions = {}): Promise<ImageClassification> {
  const maxBytes = options.maxBytes ?? 2 ** 30;
  const folder = resolveUrl(String(base).endsWith('/') ? String(base) : `${String(base)}/`);
  const expected = `the files ${FASHION_MNIST_FILES.join(', ')} (each raw or .gz) under ${folder.href}`;
  const files = await Promise.all(
    FASHION_MNIST_FILES.map(async (name) => {
      for (const file of [`${name}.gz`, name]) {
        const got = await fetchBytes(new URL(file, folder), 'loadFashionMnist', expected, { ...options, maxBytes, missingOk: true });
        if (got) return got.bytes;
      }
      throw new Error(`loadFashionMnist: ${new URL(name, folder).href}(.gz): not found; expected ${expected}`);
    }),
  );
  return fashionMnistFromIdx(files as [Uint8Array, Uint8Array, Uint8Array, Uint8Array], FASHION_MNIST_FILES.map((n) => new URL(n, folder).href));
}
