import { arange, type Tensor } from '@normgrad/core';

export * from '@normgrad/core';

/** count evenly spaced values from start to stop inclusive. */
export function linspaceLike(start: number, stop: number, count: number): Tensor {
  return arange(count).mul((stop - start) / (count - 1)).add(start);
}
