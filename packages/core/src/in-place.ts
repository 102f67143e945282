import { contiguousData } from './kernels/layout.js';
import { Tensor } from './tensor.js';
import { broadcastShapes, formatShape, sameShape } from './composite/validate.js';
import { full } from './creation.js';
import { writeStorage } from './storage.js';
import { highestBatchPosition, holderWrite } from './transforms/vmap.js';

/**
 * Writes `source` (a tensor broadcastable to target's shape, or a number) into target's existing
 * storage, which may be a strided view: PyTorch's `target.copy_(source)`. With `elementwiseInto`
 * and `writeStorage` it is the library's in-place path (running statistics, `loadStateDict`,
 * optimizer updates): pending results that read the storage are computed first, so no tensor's
 * value changes afterwards except the target's (and its views', as in PyTorch), and the storage's
 * version is bumped, so backward through an op that saved the old values is an Error. Call it on
 * tensors without history (buffers, parameters under noGrad).
 */
export function assignInPlace(target: Tensor, source: Tensor | number): void {
  const op = 'assignInPlace';
  if (!(target instanceof Tensor)) throw new Error(`${op}: the target must be a Tensor, got ${typeof target}`);
  if (target.node !== null) throw new Error(`${op}: the target of shape ${formatShape(target.shape)} has recorded history; write only into leaves (buffers, parameters)`);
  if (source instanceof Tensor && highestBatchPosition([source]) > highestBatchPosition([target])) {
    throw new Error(
      `${op}: the source (shape ${formatShape(source.shape)} per example) is batched by a vmap that the target (shape ${formatShape(target.shape)}) is not: ` +
        'values that differ per example cannot be written into one tensor shared by all examples; batch the target too (for an ensemble, stacked buffers from stackModuleState)',
    );
  }
  if (target.heldElsewhere !== null) {
    // a vmap stand-in: every example's values go into the holder
    const [holder, values] = holderWrite(target, source);
    assignInPlace(holder, values);
    return;
  }
  let values: Tensor;
  if (typeof source === 'number') {
    values = full(target.shape, source, { dtype: target.dtype });
  } else if (source instanceof Tensor) {
    const shape = broadcastShapes(op, source.shape, target.shape);
    if (!sameShape(shape, target.shape)) {
      throw new Error(`${op}: cannot write a tensor of shape ${formatShape(source.shape)} into shape ${formatShape(target.shape)}`);
    }
    values = sameShape(source.shape, target.shape) ? source : source.broadcastTo(target.shape);
  } else {
    throw new Error(`${op}: the source must be a Tensor or a number, got ${source === null ? 'null' : typeof source}`);
  }
  // the source is read when the write runs (so a replay under compile reads the replayed values),
  // through these two ndarrays only (so compile may move the values they view)
  const sourceData = values.data;
  const data = target.data;
  writeStorage(data.data, () => {
    const flat = Float64Array.from(contiguousData(sourceData));
    const index = new Array<number>(target.ndim).fill(0);
    for (let position = 0; position < flat.length; position++) {
      data.set(...index, flat[position]!);
      for (let axis = target.ndim - 1; axis >= 0; axis--) {
        index[axis]! += 1;
        if (index[axis]! < target.shape[axis]!) break;
        index[axis] = 0;
      }
    }
  }, { target: data, reads: [sourceData] });
}
