import { checkOptions } from './composite/validate.js';

/**
 * The process-wide switches of the kernel layer, in one place. `withSettings(overrides, fn)`
 * runs fn with some of them changed and restores the previous values afterwards (also when fn
 * throws; calls nest). The older setters (`setElementwiseFusion`, `setElementwiseBackend`,
 * `setMatmulBackend`, `setMatmulThreads`) are thin wrappers that change a setting for good.
 */
export interface Settings {
  /** Lazy elementwise fusion (fusion.ts): on by default. */
  fusion: boolean;
  /** The smallest elementwise result that is fused rather than computed at once. */
  fusionMinimumSize: number;
  /** Where elementwise loops, sums and the unfold/fold window loops run: WebAssembly SIMD, JavaScript, or 'auto' (WebAssembly for 2,048+ elements). */
  elementwiseBackend: 'auto' | 'wasm' | 'js';
  /** Which matrix-product kernel runs: WebAssembly SIMD, JavaScript, or 'auto' (WebAssembly unless tiny). */
  matmulBackend: 'auto' | 'wasm' | 'js';
  /** Threads for large matrix products; 'auto' is 2 where two cores, worker threads and shared memory are available. */
  matmulThreads: 1 | 2 | 'auto';
}

export const DEFAULT_FUSION_MINIMUM_SIZE = 2048;

const defaults: Settings = {
  fusion: true,
  fusionMinimumSize: DEFAULT_FUSION_MINIMUM_SIZE,
  elementwiseBackend: 'auto',
  matmulBackend: 'auto',
  matmulThreads: 'auto',
};

const current: Settings = { ...defaults };

/** The settings in force (read-only view; change them with withSettings or the setters). */
export const settings: Readonly<Settings> = current;

const validators: { [K in keyof Settings]: (value: unknown) => string | null } = {
  fusion: (value) => (typeof value === 'boolean' ? null : `fusion must be a boolean, got ${JSON.stringify(value)}`),
  fusionMinimumSize: (value) =>
    Number.isInteger(value) && (value as number) >= 1 ? null : `fusionMinimumSize must be a positive integer, got ${String(value)}`,
  elementwiseBackend: (value) =>
    value === 'auto' || value === 'wasm' || value === 'js' ? null : `elementwiseBackend must be 'auto', 'wasm' or 'js', got ${JSON.stringify(value)}`,
  matmulBackend: (value) =>
    value === 'auto' || value === 'wasm' || value === 'js' ? null : `matmulBackend must be 'auto', 'wasm' or 'js', got ${JSON.stringify(value)}`,
  matmulThreads: (value) => (value === 1 || value === 2 || value === 'auto' ? null : `matmulThreads must be 1, 2 or 'auto', got ${JSON.stringify(value)}`),
};

/** Checks that kernel modules add: whether a valid value can be honoured here (e.g. WebAssembly SIMD exists). */
const availability: Partial<{ [K in keyof Settings]: (value: Settings[K]) => string | null }> = {};

export function registerSettingCheck<K extends keyof Settings>(key: K, check: (value: Settings[K]) => string | null): void {
  (availability as Record<K, (value: Settings[K]) => string | null>)[key] = check;
}

function validated(entryPoint: string, overrides: Partial<Settings>): Partial<Settings> {
  checkOptions(entryPoint, overrides, Object.keys(defaults));
  for (const [key, value] of Object.entries(overrides) as [keyof Settings, Settings[keyof Settings]][]) {
    if (value === undefined) continue;
    const problem = validators[key](value) ?? (availability[key] as ((value: unknown) => string | null) | undefined)?.(value) ?? null;
    if (problem !== null) throw new Error(`${entryPoint}: ${problem}`);
  }
  return Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined)) as Partial<Settings>;
}

/** Changes settings for good (what the set* wrappers call). */
export function updateSettings(entryPoint: string, overrides: Partial<Settings>): void {
  Object.assign(current, validated(entryPoint, overrides));
}

/**
 * Runs fn with the given settings changed, then restores the previous values (also when fn
 * throws). Calls nest: an inner withSettings sees and restores the outer one's values.
 *
 * ```ts
 * withSettings({ fusion: false, elementwiseBackend: 'js' }, () => model.forward(x));
 * ```
 */
export function withSettings<T>(overrides: Partial<Settings>, fn: () => T): T {
  if (typeof fn !== 'function') throw new Error('withSettings: expected a function to run as the second argument');
  const changes = validated('withSettings', overrides);
  const previous: Partial<Settings> = {};
  for (const key of Object.keys(changes) as (keyof Settings)[]) (previous as Record<string, unknown>)[key] = current[key];
  Object.assign(current, changes);
  try {
    return fn();
  } finally {
    Object.assign(current, previous);
  }
}
