// The page's script: trains in the browser, draws the loss curve and prints BatchNorm1d's graph.
// Bundled by server.mjs (esbuild) into dist/main.js. The result is also left on
// window.normgradResult for the browser test.
import { trainSpirals, type SpiralTrainingResult } from '../src/web-training.js';

type PageResult = ({ status: 'done' } & SpiralTrainingResult) | { status: 'error'; message: string };
const page = window as unknown as { normgradResult?: PageResult; cspViolations: string[] };
page.cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => page.cspViolations.push(`${event.violatedDirective}: ${event.blockedURI}`));

function drawLosses(canvas: HTMLCanvasElement, losses: number[]): void {
  const context = canvas.getContext('2d')!;
  const margin = 40;
  const [width, height] = [canvas.width - 2 * margin, canvas.height - 2 * margin];
  const highest = Math.max(...losses);
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.strokeStyle = '#888';
  context.strokeRect(margin, margin, width, height);
  context.fillStyle = '#333';
  context.font = '12px sans-serif';
  context.fillText(`loss ${highest.toFixed(3)}`, 4, margin - 6);
  context.fillText('0', margin - 14, margin + height);
  context.fillText(`step ${losses.length}`, margin + width - 50, margin + height + 16);
  context.strokeStyle = '#1f77b4';
  context.lineWidth = 2;
  context.beginPath();
  losses.forEach((loss, step) => {
    const x = margin + (step / Math.max(1, losses.length - 1)) * width;
    const y = margin + height - (loss / highest) * height;
    if (step === 0) context.moveTo(x, y);
    else context.lineTo(x, y);
  });
  context.stroke();
}

const status = document.getElementById('status')!;
try {
  const started = performance.now();
  const result = trainSpirals({ steps: 60, seed: 0 });
  const seconds = (performance.now() - started) / 1000;
  drawLosses(document.getElementById('loss') as HTMLCanvasElement, result.losses);
  document.getElementById('graph')!.textContent = result.normGraph;
  status.textContent = `loss ${result.losses[0]!.toFixed(4)} → ${result.losses.at(-1)!.toFixed(4)} in ${result.losses.length} steps ` +
    `(${seconds.toFixed(1)} s), training accuracy ${(100 * result.accuracy).toFixed(0)}%; saved as ${result.safetensorsBytes} bytes of safetensors ` +
    `and reloaded ${result.reloadedEqual ? 'with equal outputs' : 'with DIFFERENT outputs'}`;
  page.normgradResult = { status: 'done', ...result };
} catch (error) {
  status.textContent = `failed: ${String(error)}`;
  page.normgradResult = { status: 'error', message: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) };
}
