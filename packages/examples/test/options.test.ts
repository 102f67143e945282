import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, parseStudyArgs, UsageError } from '../src/study/options.js';
import { studyMain } from '../src/study/cli.js';

describe('study command line', () => {
  it('parses the options, with defaults and --quick', () => {
    expect(parseStudyArgs([])).toEqual(DEFAULT_OPTIONS);
    const options = parseStudyArgs(['--norms', 'batch,group', '--batch-sizes=8,2', '--epochs', '3', '--seed', '5', '--out', 'x', '--image-size', '28']);
    expect(options).toMatchObject({ norms: ['batch', 'group'], batchSizes: [2, 8], epochs: 3, seed: 5, out: 'x', imageSize: 28 });
    expect(parseStudyArgs(['--quick'])).toMatchObject({ quick: true, norms: ['none', 'batch', 'group'], experiments: ['speed', 'small-batch', 'lr-range', 'train-eval', 'curvature'], seeds: 3 });
    expect(parseStudyArgs(['--experiments', 'curvature,speed', '--seeds', '5', '--lrs', '1,0.1', '--subset-size', '100', '--lanczos-steps', '30', '--hessian-digits', '64'])).toMatchObject({
      experiments: ['speed', 'curvature'],
      seeds: 5,
      learningRates: [0.1, 1],
      subsetSize: 100,
      lanczosSteps: 30,
      hessianDigits: 64,
    });
    expect(parseStudyArgs(['--norms', 'ghost,frn,evonorm-b0,evonorm-s0,rms,dyt,switchable,lrn'])!.norms).toHaveLength(8);
    expect(parseStudyArgs(['--quick', '--norms', 'layer'])).toMatchObject({ quick: true, norms: ['layer'] });
    expect(parseStudyArgs(['--help'])).toBeNull();
  });

  it.each([
    [['--norms', 'batch,weird'], /--norms: unknown normalization "weird"; choose from none, batch, group, layer, instance, renorm, ghost, frn, evonorm-b0, evonorm-s0, rms, dyt, switchable, lrn/],
    [['--experiments', 'speed,magic'], /--experiments: unknown experiment "magic"; choose from speed, small-batch, lr-range, train-eval, curvature/],
    [['--seeds', '0'], /--seeds expects a positive integer, got "0"/],
    [['--lrs', '0.1,-1'], /--lrs expects a positive number, got "-1"/],
    [['--batch-sizes', '32,0'], /--batch-sizes expects a positive integer, got "0"/],
    [['--batch-sizes', '32,,2'], /without empty items/],
    [['--epochs', '1.5'], /--epochs expects a positive integer, got "1.5"/],
    [['--epochs'], /--epochs needs a value/],
    [['--seed', '-1'], /--seed expects a non-negative integer/],
    [['--image-size', '20'], /--image-size expects 14 or 28/],
    [['--lr', 'fast'], /--lr expects a positive number/],
    [['--channels', '8'], /--channels expects two numbers/],
    [['--frobnicate'], /unknown option --frobnicate/],
    [['stray'], /unexpected argument "stray"/],
    [['--train-size', '16', '--batch-sizes', '8'], /batch size 32 exceeds the 16 training digits/],
    [['--subset-size', '4', '--batch-sizes', '8'], /batch size 8 exceeds the 4 training digits/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseStudyArgs(argv)).toThrow(UsageError);
    expect(() => parseStudyArgs(argv)).toThrow(message);
  });

  it('exits with code 2 and a hint on a bad option, 0 with the usage on --help', () => {
    let written = '';
    let errors = '';
    const output = { write: (text: string) => void (written += text), isTTY: false };
    expect(studyMain(['--epochs', 'many'], output, (text) => void (errors += text))).toBe(2);
    expect(errors).toBe('demo: --epochs expects a positive integer, got "many"\nRun with --help for the options.\n');
    expect(studyMain(['--help'], output, (text) => void (errors += text))).toBe(0);
    expect(written).toMatch(/^Usage: pnpm demo/);
    expect(written).toContain('--batch-sizes LIST');
    for (const experiment of ['speed', 'small-batch', 'lr-range', 'train-eval', 'curvature']) expect(written).toMatch(new RegExp(`\\n  ${experiment} +\\S`));
  });

  it('exits with code 1 and the loader error on an unusable --data directory', () => {
    let errors = '';
    const output = { write: () => undefined, isTTY: false };
    expect(studyMain(['--data', '/nonexistent/mnist'], output, (text) => void (errors += text))).toBe(1);
    expect(errors).toBe('demo: --data /nonexistent/mnist: no such directory\n');
  });
});
