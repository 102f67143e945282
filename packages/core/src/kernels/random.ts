/** mulberry32: a small, fast, seedable 32-bit generator; uniform numbers in [0, 1). */
export class RandomGenerator {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal numbers by the Box–Muller transform. */
  normal(): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

let globalGenerator = new RandomGenerator(0x5eed);

/** Re-seeds the generator used by randn/rand (and layer initializers) when no seed is given. */
export function manualSeed(seed: number): void {
  if (!Number.isFinite(seed)) throw new Error(`manualSeed: seed must be a finite number, got ${seed}`);
  globalGenerator = new RandomGenerator(seed);
}

export function generatorFor(seed: number | undefined): RandomGenerator {
  return seed === undefined ? globalGenerator : new RandomGenerator(seed);
}
