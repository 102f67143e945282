import { Tensor, checkOptions, stopGradient } from '@normgrad/core';
import { formatShape } from '../util.js';

export interface EmbeddingOptions {
  /** Rows looked up at this index get no gradient (their output is weight[paddingIdx] as is); negative counts from the end. */
  paddingIdx?: number | null;
}

/** paddingIdx as a row index in [0, numEmbeddings), or null; negative values count from the end (as PyTorch). */
export function normalizePaddingIdx(op: string, paddingIdx: number | null | undefined, numEmbeddings: number): number | null {
  if (paddingIdx === null || paddingIdx === undefined) return null;
  if (!Number.isInteger(paddingIdx) || paddingIdx < -numEmbeddings || paddingIdx >= numEmbeddings) {
    throw new Error(`${op}: paddingIdx must be an integer in [${-numEmbeddings}, ${numEmbeddings}) (within numEmbeddings ${numEmbeddings}), got ${paddingIdx}`);
  }
  return paddingIdx < 0 ? paddingIdx + numEmbeddings : paddingIdx;
}

/**
 * Looks up rows of weight (numEmbeddings, embeddingDim) at the int32 indices of any shape:
 * the result has shape [...indices.shape, embeddingDim] (PyTorch's F.embedding). The gradient
 * with respect to a row sums over the positions that look it up; with paddingIdx, positions that
 * look up that row pass no gradient to it.
 */
export function embedding(indices: Tensor, weight: Tensor, options: EmbeddingOptions = {}): Tensor {
  const op = 'embedding';
  checkOptions(op, options, ['paddingIdx']);
  if (!(indices instanceof Tensor) || indices.dtype !== 'int32') {
    const got = indices instanceof Tensor ? `a ${indices.dtype} tensor of shape ${formatShape(indices.shape)}` : indices === null ? 'null' : typeof indices;
    throw new Error(`${op}: indices must be an int32 tensor (tensor(…, { dtype: 'int32' })), got ${got}`);
  }
  if (!(weight instanceof Tensor) || weight.ndim !== 2) {
    throw new Error(`${op}: weight must be a 2-D tensor (numEmbeddings, embeddingDim), got ${weight instanceof Tensor ? `shape ${formatShape(weight.shape)}` : typeof weight}`);
  }
  const [numEmbeddings, embeddingDim] = weight.shape as [number, number];
  const paddingIdx = normalizePaddingIdx(op, options.paddingIdx, numEmbeddings);
  const flat = indices.reshape([indices.size]);
  let rows: Tensor;
  try {
    rows = weight.indexSelect(0, flat);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('gather: index')) {
      throw new Error(`${op}: ${error.message.slice('gather: '.length)} (indices of shape ${formatShape(indices.shape)}, weight ${formatShape(weight.shape)})`);
    }
    throw error;
  }
  if (paddingIdx !== null) rows = stopGradient(rows).where(flat.eq(paddingIdx).reshape([indices.size, 1]), rows);
  return rows.reshape([...indices.shape, embeddingDim]);
}
