/**
 * Scratch memory that kernels keep between calls (WebAssembly memories, which can grow but never
 * shrink). Each kernel module that holds some registers a release function here;
 * releaseScratchMemory() calls them all. A released kernel allocates afresh on its next use, so
 * releasing is always safe, only the next call pays for the allocation again.
 */
const releasers = new Map<string, () => void>();

/** Registers (or replaces) the release function of one kind of scratch memory. */
export function registerScratchRelease(name: string, release: () => void): void {
  releasers.set(name, release);
}

/**
 * Returns the scratch memory of every kernel to the runtime (the garbage collector frees it once
 * nothing refers to it): the matrix-product memory and worker thread, and any other kernel memory
 * registered. Call it after a large job in a long-lived process; the next kernel call allocates what
 * it needs again.
 */
export function releaseScratchMemory(): void {
  for (const release of releasers.values()) release();
}
