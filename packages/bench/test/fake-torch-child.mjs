// A stand-in for python/torch_bench.py that speaks the same protocol, for the bridge's tests.
// Its argument (the mode): 'ok' (default) answers every request; 'error' replies ok: false; 'exit' exits on the
// first request after writing to stderr; 'no-ready' starts with a line that is not the ready line.
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const mode = process.argv[2] ?? 'ok';
console.log(mode === 'no-ready' ? 'Traceback: ModuleNotFoundError: No module named torch' : JSON.stringify({ ready: true, torch: 'fake-1.0', mkldnn: false }));

for await (const line of createInterface({ input: process.stdin })) {
  const request = JSON.parse(line);
  if (request.exit) break;
  if (mode === 'exit') {
    process.stderr.write('fake child: giving up\n');
    process.exit(3);
  }
  if (mode === 'error') {
    console.log(JSON.stringify({ id: request.id, ok: false, error: `RuntimeError: cannot run ${request.workload}` }));
    continue;
  }
  // every output is twice an input (read at its offset), written as float64: proves the data round trip
  const data = readFileSync(request.dataPath);
  const chunks = [];
  const outputs = {};
  let offset = 0;
  for (const [name, { shape, offset: start }] of Object.entries(request.inputs)) {
    const count = shape.reduce((product, extent) => product * extent, 1);
    const values = new Float32Array(data.buffer.slice(data.byteOffset + start, data.byteOffset + start + 4 * count));
    const doubled = Float64Array.from(values, (value) => 2 * value);
    chunks.push(Buffer.from(doubled.buffer));
    outputs[`twice.${name}`] = { offset, length: count };
    offset += doubled.byteLength;
  }
  if (request.labels) {
    const labels = new Int32Array(data.buffer.slice(data.byteOffset + request.labels.offset, data.byteOffset + request.labels.offset + 4 * request.labels.length));
    chunks.push(Buffer.from(Float64Array.from(labels).buffer));
    outputs.labels = { offset, length: labels.length };
  }
  writeFileSync(request.outputPath, Buffer.concat(chunks));
  const variants = request.threads.map((threads) => ({
    name: `torch-${threads}T`, threads, dtype: 'float32', firstMs: 10, warmups: 3,
    runsMs: Array.from({ length: Math.min(request.runs, 3) }, (_, i) => threads * (i + 1)), faults: [0, 2, 4].slice(0, Math.min(request.runs, 3)), outputs,
  }));
  console.log(JSON.stringify({ id: request.id, ok: true, variants, skipped: request.workload === 'W5' ? [{ name: 'torch-onednn', note: 'fake: no oneDNN' }] : [] }));
}
