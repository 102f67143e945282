import { describe, expect, it } from 'vitest';
import { gradcheck, recordStopGradients, stopGradient, tensor, withFrozenStopGradients, type Tensor } from '../src/index.js';

describe('recordStopGradients / withFrozenStopGradients', () => {
  // f(x) = x * stopGradient(x²): autodiff's derivative is stopGradient(x²), not 3x².
  const f = (x: Tensor): Tensor => x.mul(stopGradient(x.square()));

  it('records stopGradient values in call order and leaves .detach() alone', () => {
    const x = tensor([1, 2], { dtype: 'float64' });
    const [, values] = recordStopGradients(() => f(x).add(x.detach()));
    expect(values).toHaveLength(1);
    expect(values[0]!.toArray()).toEqual([1, 4]);
  });

  it('frozen values make central differences agree with autodiff', () => {
    const x = tensor([0.5, -1.5], { dtype: 'float64' });
    expect(gradcheck(f, [x]).ok).toBe(false); // the re-run sees x² move
    const [, values] = recordStopGradients(() => f(x));
    expect(gradcheck((t) => withFrozenStopGradients(values, () => f(t)), [x]).ok).toBe(true);
  });

  it('throws when the calls do not line up', () => {
    const x = tensor([1, 2], { dtype: 'float64' });
    const [, values] = recordStopGradients(() => f(x));
    expect(() => withFrozenStopGradients(values, () => x.mul(2))).toThrow(/1 stopGradient value\(s\) were recorded but the computation made 0/);
    expect(() => withFrozenStopGradients(values, () => f(tensor([1, 2, 3], { dtype: 'float64' })))).toThrow(/shape \[3\] but the recorded value has shape \[2\]/);
  });
});
