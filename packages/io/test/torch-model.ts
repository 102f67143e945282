import type { DType, Tensor } from '@normgrad/core';
import {
  BatchNorm1d, BatchNorm2d, BatchRenorm2d, Conv2d, Flatten, GroupNorm, InstanceNorm2d, LayerNorm, Linear, MaxPool2d, Module, ReLU, RMSNorm, Sequential,
} from '@normgrad/nn';

/**
 * The convnet of scripts/fixtures/io_torch.py, layer for layer (same attribute names, so the
 * same state-dict keys up to camelCase): every base norm, RMSNorm and BatchRenorm.
 */
export class TorchFixtureNet extends Module {
  features: Sequential;
  classifierHead: Sequential;

  constructor(dtype: DType) {
    super();
    this.features = new Sequential(
      new Conv2d(2, 4, 3, { padding: 1, dtype }),
      new BatchNorm2d(4, { dtype }),
      new ReLU(),
      new Conv2d(4, 4, 3, { padding: 1, dtype }),
      new GroupNorm(2, 4, { dtype }),
      new ReLU(),
      new Conv2d(4, 4, 3, { padding: 1, dtype }),
      new InstanceNorm2d(4, { affine: true, trackRunningStats: true, dtype }),
      new ReLU(),
      new BatchRenorm2d(4, { momentum: 0.1, eps: 1e-3, dtype }),
      new MaxPool2d(2),
      new Flatten(),
    );
    this.classifierHead = new Sequential(
      new LayerNorm(64, { dtype }),
      new Linear(64, 8, { dtype }),
      new BatchNorm1d(8, { dtype }),
      new RMSNorm(8, { dtype }),
      new ReLU(),
      new Linear(8, 3, { dtype }),
    );
  }

  forward(x: Tensor): Tensor {
    return this.classifierHead.forward(this.features.forward(x));
  }
}
