import { agreementTolerance, type BenchResult, type Cell } from './harness.js';

const isTorch = (name: string): boolean => name.startsWith('torch');
const isFloat64 = (name: string): boolean => name.endsWith('-f64');
/** JavaScript peers: tfjs and jax-js. */
const jsPeerNames = (result: BenchResult): string[] =>
  result.systems.filter((s) => s.available && !s.name.startsWith('normgrad') && !isTorch(s.name)).map((s) => s.name);
const torchNames = (result: BenchResult, float64: boolean): string[] =>
  result.systems.filter((s) => s.available && isTorch(s.name) && isFloat64(s.name) === float64).map((s) => s.name);

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const formatMs = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 0.1 ? ms.toFixed(2) : ms.toPrecision(2));
const formatRatio = (ratio: number): string => `${ratio.toFixed(2)}×`;
const formatError = (error: number): string => (error === 0 ? '0' : error.toExponential(1));
const formatCount = (count: number): string => (count >= 10 ? count.toFixed(0) : count.toFixed(1));
const ok = (cell: Cell | undefined): cell is Cell => cell?.status === 'ok';

function cellOf(result: BenchResult, workload: string, system: string): Cell | undefined {
  return result.cells.find((cell) => cell.workload === workload && cell.system === system);
}

/** Numbered notes for cells without a time; one number per distinct reason. */
class Notes {
  readonly texts: string[] = [];

  ref(cell: Cell): string {
    const text = `${cell.system}: ${cell.status}${cell.note ? ` (${cell.note})` : ''}`;
    let index = this.texts.indexOf(text);
    if (index < 0) index = this.texts.push(text) - 1;
    return `${cell.status} [${index + 1}]`;
  }
}

/** The median in ms, or why there is none (with a note number). */
function timeText(cell: Cell | undefined, notes: Notes): string {
  if (!cell) return '–';
  return cell.status === 'ok' ? formatMs(cell.medianMs!) : notes.ref(cell);
}

function fastest(result: BenchResult, workload: string, systems: readonly string[]): Cell | undefined {
  return systems
    .map((name) => cellOf(result, workload, name))
    .filter(ok)
    .sort((a, b) => a.medianMs! - b.medianMs!)[0];
}

const ratioText = (numerator: Cell | undefined, denominator: Cell | undefined): string =>
  ok(numerator) && ok(denominator) ? formatRatio(numerator.medianMs! / denominator.medianMs!) : '–';

/** Systems with at least one timed cell, in column order. */
function timedSystems(result: BenchResult): string[] {
  return result.systems.map((s) => s.name).filter((name) => result.cells.some((cell) => cell.system === name && ok(cell)));
}

export function renderMarkdown(result: BenchResult): string {
  const peers = jsPeerNames(result);
  const torch32 = torchNames(result, false);
  const torch64 = torchNames(result, true);
  const notes = new Notes();
  const env = result.environment;
  const out: string[] = [];
  const has = (id: string): boolean => result.workloads.some((w) => w.id === id);
  out.push(`# normgrad bench${result.quick ? ' (--quick: tiny sizes, not a measurement)' : ''}`);
  out.push('');
  out.push(`${result.startedAt} · ${env.cpu}, ${env.cores} cores · Node ${env.node} · load average at start ${env.loadAverage.join(' ')} · ${result.durationS} s${env.gcExposed ? '' : ' · (no --expose-gc: runs not separated by forced GCs)'}`);
  out.push('');
  out.push('Every system runs in rotated rounds after warm-up (PyTorch in its own process, its columns rotated there); medians of the timed runs.');
  const defined = result.workloads.filter((w) => w.definition);
  if (defined.length > 0) {
    out.push('');
    for (const w of defined) out.push(`- **${w.id}** (${w.title}, ${w.size}): ${w.definition}`);
  }
  out.push('');

  out.push('## Median ms per iteration (float32)');
  out.push('');
  const bestTorchHeader = torch32.length > 0 ? ['best torch', 'normgrad ÷ best torch', 'compiled ÷ best torch'] : [];
  const timeRows = result.workloads.map((w) => {
    const normgrad = cellOf(result, w.id, 'normgrad');
    const compiled = cellOf(result, w.id, 'normgrad-compiled');
    const bestPeer = fastest(result, w.id, peers);
    const bestTorch = fastest(result, w.id, torch32);
    return [
      w.id, w.title, w.size,
      timeText(normgrad, notes),
      timeText(compiled, notes),
      ...peers.map((name) => timeText(cellOf(result, w.id, name), notes)),
      ...torch32.map((name) => timeText(cellOf(result, w.id, name), notes)),
      bestPeer ? bestPeer.system : '–',
      ratioText(normgrad, bestPeer),
      ...(torch32.length > 0 ? [bestTorch ? bestTorch.system : '–', ratioText(normgrad, bestTorch), ratioText(compiled, bestTorch)] : []),
    ];
  });
  out.push(table(['id', 'workload', 'size', 'normgrad', 'normgrad compiled', ...peers, ...torch32, 'best JS peer', 'normgrad ÷ best JS peer', ...bestTorchHeader], timeRows));
  out.push('');

  out.push('## Median ms per iteration (float64)');
  out.push('');
  const float64Rows = result.workloads.map((w) => {
    const normgrad = cellOf(result, w.id, 'normgrad');
    const float64 = cellOf(result, w.id, 'normgrad-f64');
    const bestTorch = fastest(result, w.id, torch64);
    return [
      w.id, w.title,
      timeText(float64, notes),
      ...torch64.map((name) => timeText(cellOf(result, w.id, name), notes)),
      ratioText(float64, normgrad),
      ...(torch64.length > 0 ? [ratioText(float64, bestTorch)] : []),
    ];
  });
  out.push(table(['id', 'workload', 'normgrad f64', ...torch64, 'normgrad f64 ÷ f32', ...(torch64.length > 0 ? ['normgrad f64 ÷ best torch f64'] : [])], float64Rows));
  out.push('');

  const systems = timedSystems(result);
  out.push('## Mean ms and minor page faults per timed iteration');
  out.push('');
  out.push('Each cell: mean ms / page faults per iteration (normgrad: process.resourceUsage().minorPageFault; PyTorch: getrusage ru_minflt).');
  out.push('');
  out.push(table(['id', ...systems], result.workloads.map((w) => [
    w.id,
    ...systems.map((name) => {
      const cell = cellOf(result, w.id, name);
      return ok(cell) ? `${formatMs(cell.meanMs!)} / ${formatCount(cell.faultsPerIteration ?? NaN)}` : '–';
    }),
  ])));
  out.push('');

  if (has('W8')) {
    out.push('## W8: Hessian-vector product, by method (float32)');
    out.push('');
    const gradient = cellOf(result, 'W8', 'normgrad-gradient');
    const methods: [string, string][] = [
      ['normgrad', 'normgrad forward-over-reverse: hvp (jvp of grad)'],
      ['normgrad-compiled', 'normgrad compiled forward-over-reverse'],
      ['normgrad-ror', 'normgrad reverse-over-reverse: grad of ⟨grad, v⟩'],
      ...(peers.includes('jax-js') ? [['jax-js', 'jax-js jit(jvp of grad)'] as [string, string]] : []),
      ...torch32.filter((name) => !name.includes('onednn')).map((name): [string, string] => [name, `PyTorch ${name.slice(6)} double backward: autograd.grad(create_graph) then grad of ⟨g, v⟩`]),
      ['normgrad-gradient', 'normgrad: one gradient of the same loss'],
    ];
    const rows = methods.map(([system, label]) => {
      const cell = cellOf(result, 'W8', system);
      return [label, timeText(cell, notes), ratioText(cell, gradient)];
    });
    out.push(table(['method', 'median ms', '÷ one normgrad gradient'], rows));
    out.push('');
  }

  if (has('W11')) {
    out.push('## W11: per-sample gradients, by method (float32)');
    out.push('');
    const loop = cellOf(result, 'W11', 'normgrad');
    const methods: [string, string][] = [
      ['normgrad-vmap', 'normgrad vmap(grad), one call'],
      ['normgrad-vmap-compiled', 'normgrad compiled vmap(grad) (refillResults), one call'],
      ['normgrad', 'normgrad loop of one gradient per example'],
      ['normgrad-compiled', 'normgrad loop of the compiled per-example gradient'],
      ...torch32.filter((name) => !name.includes('onednn')).map((name): [string, string] => [name, `PyTorch ${name.slice(6)} loop of one autograd.grad per example`]),
    ];
    out.push(table(['method', 'median ms', '÷ normgrad loop'], methods.map(([system, label]) => {
      const cell = cellOf(result, 'W11', system);
      return [label, timeText(cell, notes), ratioText(cell, loop)];
    })));
    out.push('');
  }

  const rated = result.workloads.filter((w) => w.unit);
  if (rated.length > 0) {
    out.push('## Throughput at the median');
    out.push('');
    const rateRows = rated.map((w) => [
      w.id, `${w.unit} (${w.throughputExplanation})`,
      ...systems.map((name) => {
        const cell = cellOf(result, w.id, name);
        return cell?.rate !== undefined ? (cell.rate >= 10 ? cell.rate.toFixed(1) : cell.rate.toPrecision(2)) : '–';
      }),
    ]);
    out.push(table(['id', 'unit', ...systems], rateRows));
    if (torch32.some((name) => name.includes('onednn'))) {
      out.push('');
      out.push("torch-onednn-*: W5 by oneDNN (torch._C._nn.mkldnn_linear on tensors converted with .to_mkldnn() before timing); the plain torch-* W5 columns use Debian's reference BLAS.");
    }
    out.push('');
  }

  out.push(`## Agreement on the first iteration (max |a − b| / max |b| per output; agrees when < ${agreementTolerance} against normgrad float32)`);
  out.push('');
  const agreementRows = result.cells
    .filter((cell) => cell.vsNormgrad || cell.vsFloat64)
    .map((cell) => [
      cell.workload, cell.system,
      cell.vsNormgrad ? `${formatError(cell.vsNormgrad.maxRelError)} (${cell.vsNormgrad.worst || '–'})` : '(reference)',
      cell.vsNormgrad ? formatError(cell.vsNormgrad.maxAbsError) : '–',
      cell.vsFloat64 ? `${formatError(cell.vsFloat64.maxRelError)} (${cell.vsFloat64.worst || '–'})` : '–',
      cell.vsFloat64 ? formatError(cell.vsFloat64.maxAbsError) : '–',
      cell.agrees === undefined ? '–' : cell.agrees ? 'yes' : `**NO**${cell.vsNormgrad?.missing.length ? ` (missing ${cell.vsNormgrad.missing.join(', ')})` : ''}`,
    ]);
  out.push(table(['id', 'system', 'vs normgrad f32 (worst output)', 'max abs diff', 'vs normgrad f64 (worst output)', 'max abs diff f64', 'agrees'], agreementRows));
  out.push('');

  if (result.leakCheck) {
    const leak = result.leakCheck;
    out.push(`## Leak check: normgrad W4 training, ${leak.steps} steps, RSS sampled every ${leak.samples[1]?.step ?? '?'} steps`);
    out.push('');
    out.push(`RSS ${leak.verdict}. ${leak.flat ? 'Stays flat after warm-up (last sample within 10% of the baseline).' : 'Grows after warm-up by more than 10%: a leak.'}`);
    out.push('');
    out.push(table(['step', ...leak.samples.map((s) => String(s.step))], [
      ['RSS MB', ...leak.samples.map((s) => s.rssMB.toFixed(0))],
      ['heap used MB', ...leak.samples.map((s) => s.heapUsedMB.toFixed(0))],
      ['external MB', ...leak.samples.map((s) => s.externalMB.toFixed(0))],
    ]));
    out.push('');
  }

  const unavailable = result.systems.filter((s) => !s.available);
  if (notes.texts.length > 0 || unavailable.length > 0) {
    out.push('## Notes');
    out.push('');
    unavailable.forEach((s) => out.push(`- ${s.name} unavailable: ${s.note ?? ''}`));
    notes.texts.forEach((note, index) => out.push(`${index + 1}. ${note}`));
    out.push('');
  }
  return out.join('\n');
}
