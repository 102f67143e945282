import { agreementTolerance, type BenchResult, type Cell } from './harness.js';

const peerNames = (result: BenchResult): string[] => result.systems.map((s) => s.name).filter((name) => !name.startsWith('normgrad'));

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const formatMs = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const formatRatio = (ratio: number): string => `${ratio.toFixed(2)}×`;
const formatError = (error: number): string => (error === 0 ? '0' : error.toExponential(1));

function cellOf(result: BenchResult, workload: string, system: string): Cell | undefined {
  return result.cells.find((cell) => cell.workload === workload && cell.system === system);
}

/** The median in ms, or why there is none (with a note number). */
function timeText(cell: Cell | undefined, notes: string[]): string {
  if (!cell) return '–';
  if (cell.status === 'ok') return formatMs(cell.medianMs!);
  notes.push(`${cell.workload} ${cell.system}: ${cell.status}${cell.note ? ` (${cell.note})` : ''}`);
  return `${cell.status} [${notes.length}]`;
}

function bestPeer(result: BenchResult, workload: string): Cell | undefined {
  return peerNames(result)
    .map((name) => cellOf(result, workload, name))
    .filter((cell): cell is Cell => cell?.status === 'ok')
    .sort((a, b) => a.medianMs! - b.medianMs!)[0];
}

export function renderMarkdown(result: BenchResult): string {
  const peers = peerNames(result);
  const notes: string[] = [];
  const env = result.environment;
  const out: string[] = [];
  out.push(`# normgrad bench${result.quick ? ' (--quick: tiny sizes, not a measurement)' : ''}`);
  out.push('');
  out.push(`${result.startedAt} · ${env.cpu}, ${env.cores} cores · Node ${env.node} · load average at start ${env.loadAverage.join(' ')} · ${result.durationS} s${env.gcExposed ? '' : ' · (no --expose-gc: runs not separated by forced GCs)'}`);
  out.push('');
  out.push('## Median ms per iteration (float32)');
  out.push('');
  const timeRows = result.workloads.map((w) => {
    const normgrad = cellOf(result, w.id, 'normgrad');
    const float64 = cellOf(result, w.id, 'normgrad-f64');
    const best = bestPeer(result, w.id);
    const ok = (cell: Cell | undefined): cell is Cell => cell?.status === 'ok';
    return [
      w.id, w.title, w.size,
      timeText(normgrad, notes),
      ...peers.map((name) => timeText(cellOf(result, w.id, name), notes)),
      best ? best.system : '–',
      ok(normgrad) && best ? formatRatio(normgrad.medianMs! / best.medianMs!) : '–',
      timeText(float64, notes),
      ok(normgrad) && ok(float64) ? formatRatio(float64.medianMs! / normgrad.medianMs!) : '–',
    ];
  });
  out.push(table(['id', 'workload', 'size', 'normgrad', ...peers, 'best peer', 'normgrad / best peer', 'normgrad f64', 'f64 / f32'], timeRows));
  out.push('');

  if (result.workloads.some((w) => w.id === 'W8')) {
    out.push('## W8: Hessian-vector product, by method (float32)');
    out.push('');
    const gradient = cellOf(result, 'W8', 'normgrad-gradient');
    const methods: [string, string][] = [
      ['normgrad', 'normgrad forward-over-reverse: hvp (jvp of grad)'],
      ['normgrad-ror', 'normgrad reverse-over-reverse: grad of ⟨grad, v⟩'],
      ...(peers.includes('jax-js') ? [['jax-js', 'jax-js jit(jvp of grad)'] as [string, string]] : []),
      ['normgrad-gradient', 'normgrad: one gradient of the same loss'],
    ];
    const rows = methods.map(([system, label]) => {
      const cell = cellOf(result, 'W8', system);
      const ratio = cell?.status === 'ok' && gradient?.status === 'ok' ? formatRatio(cell.medianMs! / gradient.medianMs!) : '–';
      return [label, timeText(cell, notes), ratio];
    });
    out.push(table(['method', 'median ms', '÷ one normgrad gradient'], rows));
    out.push('');
  }

  const rated = result.workloads.filter((w) => w.unit);
  if (rated.length > 0) {
    out.push('## Throughput at the median');
    out.push('');
    const systems = ['normgrad', ...peers, 'normgrad-f64'];
    const rateRows = rated.map((w) => [
      w.id, `${w.unit} (${w.throughputExplanation})`,
      ...systems.map((name) => {
        const cell = cellOf(result, w.id, name);
        return cell?.rate !== undefined ? (cell.rate >= 10 ? cell.rate.toFixed(1) : cell.rate.toPrecision(2)) : '–';
      }),
    ]);
    out.push(table(['id', 'unit', ...systems], rateRows));
    out.push('');
  }

  out.push(`## Agreement on the first iteration (max |a − b| / max |b| per output; agrees when < ${agreementTolerance} against normgrad float32)`);
  out.push('');
  const agreementRows = result.cells
    .filter((cell) => cell.vsNormgrad || cell.vsFloat64)
    .map((cell) => [
      cell.workload, cell.system,
      cell.vsNormgrad ? `${formatError(cell.vsNormgrad.maxRelError)} (${cell.vsNormgrad.worst || '–'})` : '(reference)',
      cell.vsFloat64 ? `${formatError(cell.vsFloat64.maxRelError)} (${cell.vsFloat64.worst || '–'})` : '–',
      cell.agrees === undefined ? '–' : cell.agrees ? 'yes' : `**NO**${cell.vsNormgrad?.missing.length ? ` (missing ${cell.vsNormgrad.missing.join(', ')})` : ''}`,
    ]);
  out.push(table(['id', 'system', 'vs normgrad f32 (worst output)', 'vs normgrad f64 (worst output)', 'agrees'], agreementRows));
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
  if (notes.length > 0 || unavailable.length > 0) {
    out.push('## Notes');
    out.push('');
    unavailable.forEach((s) => out.push(`- ${s.name} unavailable: ${s.note ?? ''}`));
    notes.forEach((note, index) => out.push(`${index + 1}. ${note}`));
    out.push('');
  }
  return out.join('\n');
}
