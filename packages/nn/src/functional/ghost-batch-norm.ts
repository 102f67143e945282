import { checkOptions, concat, type Tensor } from '@normgrad/core';
import { formatShape } from '../util.js';
import { batchNorm } from './batch-norm.js';
import { checkRunningNormArgs, checkBatchStatisticsUnderVmap } from './normalize.js';

export interface GhostBatchNormOptions {
  /** Size of the virtual batches the batch is split into in training (the last may be smaller). */
  virtualBatchSize: number;
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Normalize each virtual batch with its own statistics (and update the running ones). Default false. */
  training?: boolean;
  /** Weight of each virtual batch in the running statistics. Default 0.1. */
  momentum?: number;
  eps?: number;
}

const ghostBatchNormKeys = ['virtualBatchSize', 'weight', 'bias', 'training', 'momentum', 'eps'] as const;

/**
 * Ghost batch normalization (Hoffer, Hubara & Soudry 2017, https://arxiv.org/abs/1705.08741) of
 * x (N, C, *). In training the batch is split along axis 0 into consecutive virtual batches
 * x_1, x_2, ... of virtualBatchSize samples (the last holds the remainder), and each is batch
 * normalized with its own statistics:
 *
 *   y_k = (x_k - E[x_k]) / sqrt(Var[x_k] + eps) * weight + bias,   y = concat(y_1, y_2, ...)
 *
 * with E and Var over every axis but the channel axis 1 (biased Var). The running statistics,
 * when given, take one BatchNorm update per virtual batch, in order:
 *   running = (1 - momentum) * running + momentum * (E[x_k], unbiased Var[x_k])
 * In eval (training false) every sample is normalized with the running statistics, exactly as
 * batchNorm in eval: virtual batches exist only in training. With virtualBatchSize >= N this is
 * batchNorm itself. A plain composite of core ops (batchNorm per slice, then concat).
 */
export function ghostBatchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: GhostBatchNormOptions): Tensor {
  const op = 'ghostBatchNorm';
  checkOptions(op, options, ghostBatchNormKeys);
  const { virtualBatchSize, weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-5 } = options ?? ({} as GhostBatchNormOptions);
  if (training) checkBatchStatisticsUnderVmap(op, x, [runningMean, runningVar, weight, bias]);
  checkVirtualBatchSize(op, virtualBatchSize);
  if (x.ndim < 2) throw new Error(`${op}: expected an input of shape (N, C, *) with at least 2 dimensions, got ${formatShape(x.shape)}`);
  checkRunningNormArgs(op, x, { weight, bias, runningMean, runningVar }, eps, momentum);
  const bnOptions = { weight, bias, training, momentum, eps };
  const batch = x.shape[0]!;
  if (!training || virtualBatchSize >= batch) return renamed(() => batchNorm(x, runningMean, runningVar, bnOptions), op);
  const pieces = virtualBatches(batch, virtualBatchSize).map(([start, length]) =>
    renamed(() => batchNorm(x.narrow(0, start, length), runningMean, runningVar, bnOptions), op, start),
  );
  return concat(pieces, 0);
}

/** [start, length] of the consecutive virtual batches of a batch of `batch` samples. */
export function virtualBatches(batch: number, virtualBatchSize: number): [number, number][] {
  const result: [number, number][] = [];
  for (let start = 0; start < batch; start += virtualBatchSize) result.push([start, Math.min(virtualBatchSize, batch - start)]);
  return result;
}

/** virtualBatchSize is a positive integer. */
export function checkVirtualBatchSize(op: string, virtualBatchSize: unknown): void {
  if (typeof virtualBatchSize !== 'number' || !Number.isInteger(virtualBatchSize) || virtualBatchSize < 1) {
    throw new Error(`${op}: virtualBatchSize must be a positive integer, got ${String(virtualBatchSize)}`);
  }
}

/**
 * fn's value; an Error from batchNorm (or op) is re-thrown labelled with op and, when start is
 * given, the first sample of the virtual batch it concerns.
 */
export function renamed(fn: () => Tensor, op: string, start?: number): Tensor {
  try {
    return fn();
  } catch (error) {
    const source = error instanceof Error ? [op, 'batchNorm'].find((name) => error.message.startsWith(`${name}:`)) : undefined;
    if (error instanceof Error && source) {
      const where = start === undefined ? '' : ` (virtual batch starting at sample ${start})`;
      throw new Error(`${op}:${error.message.slice(source.length + 1)}${where}`);
    }
    throw error;
  }
}
