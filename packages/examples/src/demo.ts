/** `pnpm demo`: the normalization study on real MNIST digits. See `--help` and docs/demo.md. */
import { studyMain } from './study/cli.js';

const stdout = { write: (text: string) => void process.stdout.write(text), isTTY: process.stdout.isTTY === true };
process.exitCode = studyMain(process.argv.slice(2), stdout, (text) => void process.stderr.write(text));
