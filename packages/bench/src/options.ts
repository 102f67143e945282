import { allWorkloadIds, type WorkloadId } from './workloads.js';

export interface BenchOptions {
  only: WorkloadId[];
  /** Upper bound on timed runs per cell (slow cells take fewer, at least 3); default 15, --quick 3. */
  runs: number;
  peers: boolean;
  quick: boolean;
  /** Steps of the W4 leak check and the sampling interval. */
  leakSteps: number;
  leakSampleEvery: number;
}

export const usage = `usage: pnpm bench [--only W1,W5] [--runs N] [--no-peers] [--quick]
  --only W1,W5   run only these workloads (W1–W6, W8)
  --runs N       at most N timed runs per system and workload (slow ones do fewer, never under 3)
  --no-peers     normgrad only (float32 and float64), no TensorFlow.js or jax-js
  --quick        tiny sizes, a few seconds: a smoke test, not a measurement`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { only: [...allWorkloadIds], runs: 15, peers: true, quick: false, leakSteps: 1000, leakSampleEvery: 100 };
  let runsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!;
    const [flag, inlineValue] = argument.includes('=') ? argument.split('=', 2) as [string, string] : [argument, undefined];
    const value = (): string => {
      const next = inlineValue ?? argv[++i];
      if (next === undefined) throw new Error(`bench: ${flag} needs a value\n${usage}`);
      return next;
    };
    switch (flag) {
      case '--only': {
        const ids = value().split(',').map((id) => id.trim().toUpperCase());
        const unknown = ids.filter((id) => !allWorkloadIds.includes(id as WorkloadId));
        if (unknown.length > 0 || ids.length === 0) throw new Error(`bench: unknown workload(s) ${unknown.join(', ')} in --only (expected ${allWorkloadIds.join(', ')})`);
        options.only = allWorkloadIds.filter((id) => ids.includes(id));
        break;
      }
      case '--runs': {
        const runs = Number(value());
        if (!Number.isInteger(runs) || runs < 1) throw new Error(`bench: --runs must be a positive integer, got ${argument}`);
        options.runs = runs;
        runsGiven = true;
        break;
      }
      case '--no-peers': options.peers = false; break;
      case '--quick': options.quick = true; break;
      case '--': break;
      case '--help': case '-h': throw new Error(usage);
      default: throw new Error(`bench: unknown option ${argument}\n${usage}`);
    }
  }
  if (options.quick) {
    if (!runsGiven) options.runs = 3;
    options.leakSteps = 100;
    options.leakSampleEvery = 10;
  }
  return options;
}
