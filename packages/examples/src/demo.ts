/**
 * `pnpm demo`: the normalization study on real MNIST digits. See `--help` and docs/demo.md.
 * Exit codes: 0 done, 1 failed (e.g. unreadable --data files), 2 bad command line.
 */
import { parseStudyArgs, USAGE, UsageError } from './study/options.js';
import { runStudy } from './study/run-study.js';

function main(argv: readonly string[]): number {
  let options;
  try {
    options = parseStudyArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`demo: ${error.message}\nRun with --help for the options.\n`);
    return 2;
  }
  if (options === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    runStudy(options, { write: (text) => process.stdout.write(text), isTTY: process.stdout.isTTY === true });
    return 0;
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
