/** Embedding: a lookup table of learned vectors, one row per index. */
import type { Generator } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import { shapeStr } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { detach, eq, flatten, indexSelect, randn, reshape, unsqueeze, where } from '../ops/index.js';
import { Module } from './module.js';

export interface EmbeddingOptions {
  /** This row starts at zero and receives no gradient (a padding token), as PyTorch's padding_idx. */
  paddingIdx?: number;
  dtype?: 'float32' | 'float64';
  generator?: Generator;
}

/**
 * out[..., :] = weight[idx[...], :] for an int32 index tensor of any shape; output
 * [...idx.shape, embeddingDim]. weight [numEmbeddings, embeddingDim] starts N(0, 1) (PyTorch's
 * default). The gradient of row r is the sum of the output gradients at the positions holding r.
 */
export class Embedding extends Module {
  readonly weight: Tensor;
  readonly paddingIdx: number | null;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: EmbeddingOptions = {},
  ) {
    super();
    for (const [what, n] of [
      ['numEmbeddings', numEmbeddings],
      ['embeddingDim', embeddingDim],
    ] as const) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`Embedding: ${what} must be a positive integer, got ${n}`);
    }
    let p = options.paddingIdx ?? null;
    if (p !== null) {
      if (!Number.isInteger(p) || p < -numEmbeddings || p >= numEmbeddings)
        throw new RangeError(`Embedding: paddingIdx ${p} is out of range for ${numEmbeddings} embeddings`);
      if (p < 0) p += numEmbeddings;
    }
    this.paddingIdx = p;
    const w = randn([numEmbeddings, embeddingDim], { dtype: options.dtype ?? 'float32', generator: options.generator ?? defaultGenerator });
    if (p !== null) w.data.fill(0, p * embeddingDim, (p + 1) * embeddingDim);
    this.weight = this.registerParameter('weight', w);
  }

  forward(idx: Tensor): Tensor {
    if (idx.dtype !== 'int32') throw new TypeError(`Embedding: expects int32 indices, got ${idx.dtype} ${shapeStr(idx.shape)}`);
    const flatIdx = flatten(idx);
    let rows = indexSelect(this.weight, 0, flatIdx);
    if (this.paddingIdx !== null) {
      // the padding row's value is read through a detached copy, so no gradient reaches it
      const isPad = unsqueeze(eq(flatIdx, this.paddingIdx), 1);
      rows = where(isPad, indexSelect(detach(this.weight), 0, flatIdx), rows);
    }
    return reshape(rows, [...idx.shape, this.embeddingDim]);
  }

  protected override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}`;
  }
}
