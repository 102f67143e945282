import { allWorkloadIds, type WorkloadId } from './workloads.js';

export interface BenchOptions {
  only: WorkloadId[];
  /** Upper bound on timed runs per cell (slow cells take fewer, at least 3); default 15, --quick 3. */
  runs: number;
  peers: boolean;
  /** Systems to run (names as in `systemNames`), or null for all; --no-peers and --no-torch narrow it further. */
  systems: string[] | null;
  torch: boolean;
  /** The Python interpreter that has torch (default /usr/bin/python3). */
  python?: string;
  quick: boolean;
  /** Steps of the W4 leak check and the sampling interval. */
  leakSteps: number;
  leakSampleEvery: number;
}

/** Every column the bench can run ('torch' stands for all PyTorch columns, 'tfjs' for both backends in --systems). */
export const systemNames = [
  'normgrad', 'normgrad-f64', 'normgrad-compiled', 'normgrad-ror', 'normgrad-gradient', 'normgrad-vmap', 'normgrad-vmap-compiled', 'tfjs-wasm', 'tfjs-cpu', 'jax-js', 'torch',
] as const;
const peerSystems: readonly string[] = ['tfjs-wasm', 'tfjs-cpu', 'jax-js', 'torch'];

export const usage = `usage: pnpm bench [--only W1,W5] [--systems normgrad,torch] [--runs N] [--no-peers] [--no-torch] [--python PATH] [--quick]
  --only W1,W5        run only these workloads (${allWorkloadIds.join(', ')})
  --systems A,B       run only these systems (${systemNames.join(', ')}; tfjs = both backends)
  --runs N            at most N timed runs (rounds) per system and workload (slow ones do fewer, never under 3); --rounds N is the same
  --no-peers          normgrad only (its float32, float64, compiled and per-method columns): no TensorFlow.js, jax-js or PyTorch
  --no-torch          no PyTorch columns
  --python PATH       the interpreter with torch (default /usr/bin/python3)
  --quick             tiny sizes, well under a minute: a smoke test, not a measurement`;

/** Whether the options select a system (by its name in systemNames). */
export function systemSelected(options: BenchOptions, name: string): boolean {
  if (peerSystems.includes(name) && !options.peers) return false;
  if (name === 'torch' && !options.torch) return false;
  return options.systems === null || options.systems.includes(name);
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { only: [...allWorkloadIds], runs: 15, peers: true, systems: null, torch: true, quick: false, leakSteps: 1000, leakSampleEvery: 100 };
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
        const known = new Map(allWorkloadIds.map((id) => [id.toUpperCase(), id]));
        const unknown = ids.filter((id) => !known.has(id));
        if (unknown.length > 0 || ids.length === 0) throw new Error(`bench: unknown workload(s) ${unknown.join(', ')} in --only (expected ${allWorkloadIds.join(', ')})`);
        options.only = allWorkloadIds.filter((id) => ids.includes(id.toUpperCase()));
        break;
      }
      case '--systems': {
        const names = value().split(',').map((name) => name.trim()).flatMap((name) => (name === 'tfjs' ? ['tfjs-wasm', 'tfjs-cpu'] : [name]));
        const unknown = names.filter((name) => !(systemNames as readonly string[]).includes(name));
        if (unknown.length > 0 || names.length === 0) throw new Error(`bench: unknown system(s) ${unknown.join(', ')} in --systems (expected ${systemNames.join(', ')}, tfjs)`);
        options.systems = names;
        break;
      }
      case '--python': options.python = value(); break;
      case '--no-torch': options.torch = false; break;
      case '--rounds':
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
