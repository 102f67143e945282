/** Where the study writes its progress and report: process.stdout, or a buffer in tests. */
export interface Output {
  write(text: string): void;
  /** True for a terminal: the bar redraws one line in place; false: plain lines. */
  isTTY: boolean;
}

export interface ProgressState {
  step: number;
  totalSteps: number;
  loss: number;
  /** Training accuracy over the recent steps, in [0, 1]. */
  accuracy: number;
  examplesPerSecond: number;
  elapsedSeconds: number;
  /** Estimated time left in this run. */
  secondsLeft: number;
}

const BAR_WIDTH = 24;
const REDRAW_INTERVAL_MS = 100;

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const whole = Math.round(seconds);
  return whole < 60 ? `${whole}s` : `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}

/**
 * A progress bar for one training run. On a terminal it redraws one line (at most every 100 ms);
 * elsewhere (a pipe, a CI log) it prints a plain line each time `log` is asked for, plus the last.
 */
export class ProgressBar {
  private lastDraw = 0;

  constructor(private readonly output: Output, private readonly title: string) {}

  update(state: ProgressState, options: { log?: boolean } = {}): void {
    const done = state.step >= state.totalSteps;
    if (this.output.isTTY) {
      const now = performance.now();
      if (!done && now - this.lastDraw < REDRAW_INTERVAL_MS) return;
      this.lastDraw = now;
      this.output.write(`\r\x1b[2K${this.line(state)}${done ? '\n' : ''}`);
    } else if (options.log || done) {
      this.output.write(`${this.line(state)}\n`);
    }
  }

  private line(state: ProgressState): string {
    const done = state.step >= state.totalSteps;
    const fraction = state.totalSteps === 0 ? 1 : state.step / state.totalSteps;
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = this.output.isTTY ? `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)} ` : '';
    return [
      this.title,
      `${bar}${String(Math.round(fraction * 100)).padStart(3)}%`,
      `step ${String(state.step).padStart(String(state.totalSteps).length)}/${state.totalSteps}`,
      `loss ${state.loss.toFixed(3)}`,
      `acc ${(state.accuracy * 100).toFixed(1).padStart(5)}%`,
      `${Math.round(state.examplesPerSecond).toString().padStart(4)} ex/s`,
      done ? `in ${formatSeconds(state.elapsedSeconds)}` : `eta ${formatSeconds(state.secondsLeft)}`,
    ].join('  ');
  }
}
