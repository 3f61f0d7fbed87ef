/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; MIT license) from IDX bytes, with no file system:
 * browser-safe. `fetchFashionMnist(url)` loads the four files (raw or .gz) from a URL, such as the
 * shipped subset served as static assets; on Node, `loadFashionMnist()` (descent/node) reads them
 * from disk. Both give the same tensors.
 */
import { tensor } from '../ops/index.js';
import { TensorDataset } from './dataset.js';
import type { IdxArray } from './readers/idx-parse.js';
import { parseIdx } from './readers/idx-parse.js';

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
  // Pixels 0..255 scaled to [0, 1].
  const x = new Float32Array(im.data.length);
  for (let i = 0; i < x.length; i++) x[i] = im.data[i]! / 255;
  const y = Int32Array.from(lb.data);
  for (let i = 0; i < n; i++) {
    if (y[i]! > 9) throw new Error(`loadFashionMnist: ${where.labels}: label ${y[i]} at example ${i} (byte ${8 + i}); expected a class 0..9`);
  }
  return new TensorDataset(tensor(x, { shape: [n, 784] }), tensor(y));
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

/** Inflate gzip bytes with the platform's DecompressionStream, stopping past `maxBytes` (a gzip bomb). */
async function gunzipBytes(bytes: Uint8Array, where: string, maxBytes: number): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`loadFashionMnist: ${where}: decompresses to more than ${maxBytes} bytes; expected at most ${maxBytes} (a gzip bomb?)`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Fetch the four Fashion-MNIST files from `base` (a folder URL; each file is tried as `<name>.gz`,
 * then as `<name>`), inflate gzip ones in a stream with a size limit, and parse them.
 */
export async function fetchFashionMnist(base: string | URL, options: { fetch?: typeof fetch; maxBytes?: number } = {}): Promise<ImageClassification> {
  const get = options.fetch ?? fetch;
  const maxBytes = options.maxBytes ?? 2 ** 30;
  const folder = new URL(String(base).endsWith('/') ? String(base) : `${String(base)}/`, (globalThis as { location?: { href: string } }).location?.href);
  const files = await Promise.all(
    FASHION_MNIST_FILES.map(async (name) => {
      for (const file of [`${name}.gz`, name]) {
        const url = new URL(file, folder);
        const res = await get(url);
        if (!res.ok) continue;
        const bytes = new Uint8Array(await res.arrayBuffer());
        const gz = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
        return gz ? gunzipBytes(bytes, url.href, maxBytes) : bytes;
      }
      throw new Error(`loadFashionMnist: ${new URL(name, folder).href}(.gz): not found; expected the files ${FASHION_MNIST_FILES.join(', ')} (each raw or .gz) under ${folder.href}`);
    }),
  );
  return fashionMnistFromIdx(files as [Uint8Array, Uint8Array, Uint8Array, Uint8Array], FASHION_MNIST_FILES.map((n) => new URL(n, folder).href));
}
