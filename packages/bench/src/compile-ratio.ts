/**
 * Eager vs compiled normgrad on W1 (BatchNorm2d fwd+bwd) and W4 (the MLP + BatchNorm Adam step),
 * in one process, in rotated rounds after warm-up: each round times a few iterations of each
 * variant, alternating which goes first. Prints medians (ms per iteration), compiled ÷ eager and
 * minor page faults per iteration, and checks that the compiled variant's results equal the eager one's bit for bit.
 *
 *   node --expose-gc packages/bench/dist/compile-ratio.js [--quick] [--rounds 8] [--iterations 5] [--dtype float32|float64]
 */
import { compile, noGrad, tensor, type DType, type Tensor } from '@normgrad/core';
import { BatchNorm2d } from '@normgrad/nn';
import { makeMlpTraining } from './systems/normgrad.js';
import { collectGarbage, median } from './stats.js';
import { fullSizes, makeWorkload, quickSizes, type Input, type Workload } from './workloads.js';

interface Variant {
  step(): void;
  /** The values one step leaves (results and gradients), to compare eager with compiled. */
  results(): Tensor[];
}

const toTensor = (input: Input, dtype: DType, requiresGrad = false): Tensor => tensor(input.data, { shape: input.shape, dtype, requiresGrad });

/** W1: loss = sum(BatchNorm2d(x)·g), backward to x, weight and bias; compiled or not. */
function batchNormVariant(workload: Workload, dtype: DType, compiled: boolean): Variant {
  const inputs = workload.inputs;
  const layer = new BatchNorm2d(workload.sizes.batchNorm[1], { dtype });
  noGrad(() => layer.loadStateDict({ weight: toTensor(inputs.gamma!, dtype), bias: toTensor(inputs.beta!, dtype) }, { strict: false }));
  const x = toTensor(inputs.x!, dtype, true);
  const g = toTensor(inputs.g!, dtype);
  const iterate = (): void => {
    x.grad = null;
    layer.zeroGrad();
    layer.forward(x).mul(g).sum().backward();
  };
  const step = compiled ? compile(iterate) : iterate;
  return { step, results: () => [x.grad!, layer.weight!.grad!, layer.bias!.grad!, layer.runningMean!, layer.runningVar!] };
}

/** W4: the bench's MLP training step (cross-entropy, backward, Adam); compiled or not. */
function mlpVariant(workload: Workload, dtype: DType, compiled: boolean): Variant {
  const { trainStep, gradients } = makeMlpTraining(workload, dtype);
  let loss: Tensor | null = null;
  const run = compiled ? compile(trainStep) : trainStep;
  return {
    step: () => void (loss = run()),
    results: () => [loss!, ...Object.values(gradients()).map((values) => tensor(values))],
  };
}

function sameBits(a: Tensor[], b: Tensor[]): boolean {
  return a.length === b.length && a.every((t, k) => {
    const [x, y] = [t.toTypedArray(), b[k]!.toTypedArray()];
    return x.length === y.length && x.every((value, i) => Object.is(value, y[i]));
  });
}

/** Per variant: the time of every iteration, and the minor page faults over all of them. */
function timeRounds(variants: Record<string, Variant>, rounds: number, iterations: number): { times: Record<string, number[]>; faults: Record<string, number> } {
  const names = Object.keys(variants);
  const times: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const faults: Record<string, number> = Object.fromEntries(names.map((name) => [name, 0]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      collectGarbage();
      const faultsBefore = process.resourceUsage().minorPageFault;
      for (let i = 0; i < iterations; i++) {
        const start = performance.now();
        variants[name]!.step();
        times[name]!.push(performance.now() - start);
      }
      faults[name]! += process.resourceUsage().minorPageFault - faultsBefore;
    }
  }
  return { times, faults };
}

function main(): void {
  const argv = process.argv.slice(2);
  const option = (name: string, fallback: string): string => {
    const index = argv.indexOf(`--${name}`);
    return index >= 0 && argv[index + 1] !== undefined ? argv[index + 1]! : fallback;
  };
  const sizes = argv.includes('--quick') ? quickSizes : fullSizes;
  const rounds = Number(option('rounds', '8'));
  const iterations = Number(option('iterations', '5'));
  const dtype = option('dtype', 'float32') as DType;
  const cases = { W1: batchNormVariant, W4: mlpVariant } as const;
  console.log(`compile-ratio: ${dtype}, ${rounds} rounds × ${iterations} iterations per variant, medians in ms`);
  console.log('| workload | eager ms | compiled ms | compiled ÷ eager | page faults per iteration, eager / compiled | bit for bit |');
  console.log('|---|---|---|---|---|---|');
  for (const [id, make] of Object.entries(cases)) {
    const workload = makeWorkload(id as 'W1' | 'W4', sizes);
    const variants = { eager: make(workload, dtype, false), compiled: make(workload, dtype, true) };
    // one step each from the same state: the results must agree; then warm-up
    variants.eager.step();
    variants.compiled.step();
    variants.compiled.step();
    variants.eager.step();
    const equal = sameBits(variants.eager.results(), variants.compiled.results());
    timeRounds(variants, 1, 3);
    const { times, faults } = timeRounds(variants, rounds, iterations);
    const [eager, compiled] = [median(times.eager!), median(times.compiled!)];
    const perIteration = (name: string) => (faults[name]! / (rounds * iterations)).toFixed(0);
    console.log(`| ${id} | ${eager.toFixed(2)} | ${compiled.toFixed(2)} | ${(compiled / eager).toFixed(2)} | ${perIteration('eager')} / ${perIteration('compiled')} | ${equal} |`);
  }
}

main();
