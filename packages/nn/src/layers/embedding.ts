import { arange, checkOptions, noGrad, randn, type DType, type Tensor } from '@normgrad/core';
import { embedding, normalizePaddingIdx } from '../functional/embedding.js';
import { Module, parameter } from '../module.js';
import { renameOp } from '../util.js';

export interface EmbeddingLayerOptions {
  /** This row starts at zero and gets no gradient (as PyTorch's padding_idx); negative counts from the end. */
  paddingIdx?: number | null;
  dtype?: DType;
}

/**
 * A lookup table of numEmbeddings vectors of size embeddingDim (PyTorch's nn.Embedding):
 * forward(indices) maps an int32 tensor of any shape to [...indices.shape, embeddingDim].
 * weight is drawn from N(0, 1) with core's global generator (`manualSeed` makes it
 * reproducible); the paddingIdx row is zero and receives no gradient.
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  weight: Tensor;

  constructor(numEmbeddings: number, embeddingDim: number, options: EmbeddingLayerOptions = {}) {
    super();
    checkOptions('Embedding', options, ['paddingIdx', 'dtype']);
    for (const [name, value] of [['numEmbeddings', numEmbeddings], ['embeddingDim', embeddingDim]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`Embedding: ${name} must be a positive integer, got ${value}`);
    }
    const dtype = options.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float64') throw new Error(`Embedding: dtype must be 'float32' or 'float64', got ${JSON.stringify(dtype)}`);
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.paddingIdx = normalizePaddingIdx('Embedding', options.paddingIdx, numEmbeddings);
    const paddingIdx = this.paddingIdx;
    const drawn = randn([numEmbeddings, embeddingDim], { dtype });
    const isPadding = (): Tensor => arange(numEmbeddings, { dtype: 'int32' }).eq(paddingIdx!).reshape([numEmbeddings, 1]);
    this.weight = parameter(paddingIdx === null ? drawn : noGrad(() => drawn.maskedFill(isPadding(), 0)));
  }

  forward(indices: Tensor): Tensor {
    try {
      return embedding(indices, this.weight, { paddingIdx: this.paddingIdx });
    } catch (error) {
      throw renameOp(error, 'embedding', 'Embedding');
    }
  }
}
