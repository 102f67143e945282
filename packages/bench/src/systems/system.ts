import type { Workload, WorkloadId } from '../workloads.js';

export type Results = Record<string, Float32Array | Float64Array | Int32Array>;

/** One workload set up on one system: its data already lives where the system keeps it. */
export interface Case {
  /** Runs one iteration on fresh state and returns its outputs and gradients by name (W4: loss and parameter gradients). */
  check(): Promise<Results>;
  /** One timed iteration; resolves when the work is done. */
  step(): void | Promise<void>;
  /** Runs before each timed step, outside the timing (tfjs: switch to this case's backend, since cases of both backends are rotated). */
  beforeStep?(): Promise<void>;
  dispose(): void;
}

export interface System {
  /** Column name in the table, e.g. 'tfjs-wasm'. */
  name: string;
  /** Why the system is not run on a workload, or null to run it. */
  skipReason(workload: WorkloadId): string | null;
  prepare(workload: Workload): Promise<Case>;
  /** Frees whatever the system holds after the last workload. */
  shutdown(): Promise<void>;
}

/** The workloads the JavaScript peers (tfjs, jax-js) are written for; the others are skipped with `notWrittenForPeer`. */
export const peerWorkloads: readonly WorkloadId[] = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W8', 'W10'];
export const notWrittenForPeer = 'not written for this peer in the bench';
