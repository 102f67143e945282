import { Tensor, checkOptions, noGrad, zeros, type DType } from '@normgrad/core';
import { linear } from '../functional/linear.js';
import { xavierUniform } from '../init.js';
import { Module, parameter } from '../module.js';
import { formatShape, renameOp } from '../util.js';
import { Linear } from './linear.js';

export interface MultiheadAttentionOptions {
  /** Biases of the input and output projections (zeros at the start). Default true. */
  bias?: boolean;
  /** Inputs and output are (N, L, E) rather than (L, N, E). Default false. */
  batchFirst?: boolean;
  dtype?: DType;
}

export interface MultiheadAttentionCallOptions {
  /** (N, S), or (S) for unbatched input: 1 where a key is padding, ignored by every query (PyTorch's boolean key_padding_mask). */
  keyPaddingMask?: Tensor | null;
  /** (L, S) or (N · numHeads, L, S): 1 where query l may not attend to key s (PyTorch's boolean attn_mask). */
  attnMask?: Tensor | null;
  /** Weights averaged over the heads, (N, L, S); false: per head, (N, numHeads, L, S). Default true. */
  averageAttnWeights?: boolean;
}

/**
 * Multi-head attention (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762), PyTorch's
 * nn.MultiheadAttention(embedDim, numHeads) without dropout: with [W_q; W_k; W_v] = inProjWeight
 * (3E, E, Xavier uniform) and inProjBias (3E, zeros), per head h of width d = E / numHeads
 *
 *   head_h = softmax(q_h k_hᵀ / √d + M) v_h,   q = query W_qᵀ + b_q (and k, v alike),
 *   output = outProj(concat_h head_h)           (outProj: Linear(E, E), bias zeros)
 *
 * where M is −∞ at masked (query, key) pairs (attnMask, keyPaddingMask; 1 = masked) and 0
 * elsewhere; a query with every key masked gets NaN, as in PyTorch. Masks are 0/1 tensors of
 * any dtype (e.g. from lt or eq). Inputs (L, N, E) query and (S, N, E) key and value
 * ((N, L, E) with batchFirst; (L, E) unbatched). forward returns the output; `attention`
 * returns the output and the attention weights (PyTorch's need_weights = True). Prints as
 * PyTorch does: no settings, the outProj child.
 */
export class MultiheadAttention extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly batchFirst: boolean;
  inProjWeight: Tensor;
  inProjBias: Tensor | null;
  outProj: Linear;

  constructor(embedDim: number, numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    const name = 'MultiheadAttention';
    checkOptions(name, options, ['bias', 'batchFirst', 'dtype']);
    if (!Number.isInteger(embedDim) || embedDim < 1) throw new Error(`${name}: embedDim must be a positive integer, got ${embedDim}`);
    if (!Number.isInteger(numHeads) || numHeads < 1 || embedDim % numHeads !== 0) {
      throw new Error(`${name}: numHeads must be a positive integer dividing embedDim ${embedDim}, got ${numHeads}`);
    }
    const { bias = true, batchFirst = false, dtype = 'float32' } = options;
    if (dtype !== 'float32' && dtype !== 'float64') throw new Error(`${name}: dtype must be 'float32' or 'float64', got ${JSON.stringify(dtype)}`);
    for (const [key, value] of [['bias', bias], ['batchFirst', batchFirst]] as const) {
      if (typeof value !== 'boolean') throw new Error(`${name}: ${key} must be a boolean, got ${JSON.stringify(value)}`);
    }
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    this.batchFirst = batchFirst;
    this.inProjWeight = parameter(zeros([3 * embedDim, embedDim], { dtype }));
    noGrad(() => xavierUniform(this.inProjWeight));
    this.inProjBias = bias ? parameter(zeros([3 * embedDim], { dtype })) : null;
    this.outProj = new Linear(embedDim, embedDim, { bias, dtype });
    if (this.outProj.bias) this.outProj.bias = parameter(zeros([embedDim], { dtype }));
  }

  /** The attention output, shaped like query; with no key and value, self-attention on query. Masks as in MultiheadAttentionCallOptions. */
  forward(query: Tensor, key: Tensor = query, value: Tensor = key, keyPaddingMask: Tensor | null = null, attnMask: Tensor | null = null): Tensor {
    return this.attention(query, key, value, { keyPaddingMask, attnMask }).output;
  }

  /** The output and the attention weights (N, L, S), or (N, numHeads, L, S) without averaging; unbatched: no N. */
  attention(query: Tensor, key: Tensor = query, value: Tensor = key, options: MultiheadAttentionCallOptions = {}): { output: Tensor; weights: Tensor } {
    const name = 'MultiheadAttention';
    checkOptions(name, options, ['keyPaddingMask', 'attnMask', 'averageAttnWeights']);
    const { keyPaddingMask = null, attnMask = null, averageAttnWeights = true } = options;
    if (typeof averageAttnWeights !== 'boolean') throw new Error(`${name}: averageAttnWeights must be a boolean, got ${JSON.stringify(averageAttnWeights)}`);
    for (const [label, t] of [['query', query], ['key', key], ['value', value]] as const) {
      if (!(t instanceof Tensor)) throw new Error(`${name}: ${label} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
    }
    const unbatched = query.ndim === 2;
    const layout = unbatched ? '(L, E)' : this.batchFirst ? '(N, L, E)' : '(L, N, E)';
    for (const [label, t] of [['query', query], ['key', key], ['value', value]] as const) {
      if (t.ndim !== query.ndim || !(t.ndim === 2 || t.ndim === 3) || t.shape[t.ndim - 1] !== this.embedDim) {
        throw new Error(`${name}: expected query, key and value of shape ${layout} with E = embedDim ${this.embedDim}, got ${label} of shape ${formatShape(t.shape)}`);
      }
    }
    // to (L, N, E), PyTorch's layout
    const toSequenceFirst = (t: Tensor): Tensor => (unbatched ? t.unsqueeze(1) : this.batchFirst ? t.transpose(0, 1) : t);
    const [q, k, v] = [query, key, value].map(toSequenceFirst) as [Tensor, Tensor, Tensor];
    const [length, batch] = q.shape as [number, number];
    const sourceLength = k.shape[0]!;
    if (k.shape[1] !== batch || v.shape[1] !== batch || v.shape[0] !== sourceLength) {
      throw new Error(
        `${name}: key and value must have the same length and query's batch size, got query ${formatShape(query.shape)}, key ${formatShape(key.shape)}, value ${formatShape(value.shape)}`,
      );
    }
    const heads = this.numHeads;
    const checkMask = (label: string, mask: Tensor | null, shapes: number[][]): void => {
      if (mask === null) return;
      if (!(mask instanceof Tensor) || !shapes.some((s) => s.length === mask.ndim && s.every((d, i) => d === mask.shape[i]))) {
        const given = mask instanceof Tensor ? formatShape(mask.shape) : mask === undefined ? 'undefined' : typeof mask;
        throw new Error(`${name}: ${label} must have shape ${shapes.map(formatShape).join(' or ')}, got ${given}`);
      }
    };
    checkMask('keyPaddingMask', keyPaddingMask, [unbatched ? [sourceLength] : [batch, sourceLength]]);
    checkMask('attnMask', attnMask, [[length, sourceLength], [batch * heads, length, sourceLength]]);

    // (length, N, E) projected, then (N · heads, length, headDim)
    const project = (x: Tensor, part: number): Tensor => {
      const weight = this.inProjWeight.narrow(0, part * this.embedDim, this.embedDim);
      const bias = this.inProjBias === null ? null : this.inProjBias.narrow(0, part * this.embedDim, this.embedDim);
      return linear(x, weight, bias).reshape([x.shape[0]!, batch * heads, this.headDim]).transpose(0, 1);
    };
    let scores = project(q, 0).div(Math.sqrt(this.headDim)).matmul(project(k, 1).transpose(1, 2));
    try {
      if (attnMask !== null) scores = scores.maskedFill(attnMask, -Infinity);
      if (keyPaddingMask !== null) {
        const padding = keyPaddingMask.reshape([batch, 1, 1, sourceLength]).broadcastTo([batch, heads, 1, sourceLength]).reshape([batch * heads, 1, sourceLength]);
        scores = scores.maskedFill(padding, -Infinity);
      }
    } catch (error) {
      throw renameOp(error, 'maskedFill', name);
    }
    const weights = scores.softmax(-1);
    const attended = weights.matmul(project(v, 2)).transpose(0, 1).reshape([length * batch, this.embedDim]);
    let output = this.outProj.forward(attended).reshape([length, batch, this.embedDim]);
    const perHead = weights.reshape([batch, heads, length, sourceLength]);
    let returnedWeights = averageAttnWeights ? perHead.mean(1) : perHead;
    if (unbatched) {
      output = output.squeeze(1);
      returnedWeights = returnedWeights.squeeze(0);
    } else if (this.batchFirst) {
      output = output.transpose(0, 1);
    }
    return { output, weights: returnedWeights };
  }
}
