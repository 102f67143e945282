import { parseStudyArgs, USAGE, UsageError } from './options.js';
import type { Output } from './progress.js';
import { runStudy } from './run-study.js';

/**
 * The study's command line: parses argv, runs, and returns the exit code:
 * 0 done (or --help), 1 failed (e.g. unreadable --data files), 2 bad command line.
 */
export function studyMain(argv: readonly string[], output: Output, errors: (text: string) => void): number {
  let options;
  try {
    options = parseStudyArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    errors(`demo: ${error.message}\nRun with --help for the options.\n`);
    return 2;
  }
  if (options === null) {
    output.write(USAGE);
    return 0;
  }
  try {
    runStudy(options, output);
    return 0;
  } catch (error) {
    errors(`demo: ${(error as Error).message}\n`);
    return 1;
  }
}
