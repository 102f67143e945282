import { makeMlpTraining } from './systems/normgrad.js';
import { megabytes } from './stats.js';
import type { Workload } from './workloads.js';

export interface RssSample {
  step: number;
  rssMB: number;
  heapUsedMB: number;
  externalMB: number;
}

export interface LeakCheck {
  steps: number;
  samples: RssSample[];
  peakRssMB: number;
  /** The step whose sample is the baseline (after warm-up), and the last sample's growth over it. */
  baselineStep: number;
  growth: number;
  flat: boolean;
  verdict: string;
}

const roundMB = (bytes: number): number => Math.round(megabytes(bytes) * 10) / 10;

function sample(step: number): RssSample {
  const usage = process.memoryUsage();
  return { step, rssMB: roundMB(usage.rss), heapUsedMB: roundMB(usage.heapUsed), externalMB: roundMB(usage.external) };
}

/**
 * Trains the W4 MLP in normgrad float32 for `steps` steps, sampling process RSS every `every`
 * steps (no forced GC: this is what the process really holds). Flat means the last sample is
 * within 10% of the sample at step 2·every (200 of 1,000), taken after warm-up.
 */
export async function runLeakCheck(workload: Workload, steps: number, every: number): Promise<LeakCheck> {
  const { trainStep } = makeMlpTraining(workload, 'float32');
  const samples: RssSample[] = [sample(0)];
  for (let step = 1; step <= steps; step++) {
    trainStep();
    if (step % every === 0) {
      samples.push(sample(step));
      await new Promise((resolve) => setImmediate(resolve)); // let finalizers and timers run
    }
  }
  const baselineStep = 2 * every;
  const baseline = samples.find((s) => s.step === baselineStep) ?? samples[0]!;
  const last = samples[samples.length - 1]!;
  const growth = last.rssMB / baseline.rssMB - 1;
  const flat = growth <= 0.1;
  const peakRssMB = Math.max(...samples.map((s) => s.rssMB));
  const verdict = `${flat ? 'flat' : 'GROWING'}: ${baseline.rssMB.toFixed(0)} MB at step ${baselineStep} → ${last.rssMB.toFixed(0)} MB at step ${last.step} (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%), peak ${peakRssMB.toFixed(0)} MB`;
  return { steps, samples, peakRssMB, baselineStep, growth, flat, verdict };
}
