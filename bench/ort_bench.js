// ort_bench.js: time one ONNX model in ONNX Runtime (CPU) through onnxruntime-node.
//
//   node bench/ort_bench.js MODEL.onnx INPUT.npy [--threads T] [--runs N] [--warmup W] [--out OUT.npy]
//
// The session uses intraOpNumThreads=T, interOpNumThreads=1, sequential execution
// and graphOptimizationLevel 'all'.  The model's first input is fed INPUT.npy
// (float32, C order); OUT.npy gets the first output.  The last line is
// 'median_ms=X min_ms=Y runs=N' (same format as mixc) and a line before it
// 'load_ms=Z' (session creation, i.e. ORT's graph optimization).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(path + ': not a .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hoff = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hoff, hoff + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',')
    .map(s => s.trim()).filter(s => s.length).map(Number);
  if (descr !== '<f4' || fortran) throw new Error(path + ': need little-endian float32 C order, got ' + descr);
  const off = hoff + hlen;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  // copy: the payload offset need not be 4-aligned inside the Buffer's memory
  Buffer.from(data.buffer).set(buf.subarray(off, off + 4 * n));
  return { data, shape };
}

function writeNpy(path, data, dims) {
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
    dims.join(', ') + (dims.length === 1 ? ',' : '') + '), }';
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1'); h[6] = 1; h[7] = 0; h.writeUInt16LE(header.length, 8);
  fs.writeFileSync(path, Buffer.concat([h, Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const argv = process.argv.slice(2);
  const opt = { threads: 1, runs: 20, warmup: 2, out: null };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--threads') opt.threads = +argv[++i];
    else if (a === '--runs') opt.runs = +argv[++i];
    else if (a === '--warmup') opt.warmup = +argv[++i];
    else if (a === '--out') opt.out = argv[++i];
    else pos.push(a);
  }
  if (pos.length !== 2) {
    console.error('usage: node ort_bench.js MODEL.onnx INPUT.npy [--threads T] [--runs N] [--warmup W] [--out OUT.npy]');
    process.exit(2);
  }
  const t0 = process.hrtime.bigint();
  const sess = await ort.InferenceSession.create(pos[0], {
    executionProviders: ['cpu'],
    intraOpNumThreads: opt.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const x = readNpy(pos[1]);
  const feeds = { [sess.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };
  let res;
  for (let i = 0; i < Math.max(1, opt.warmup); i++) res = await sess.run(feeds);
  if (opt.out) {
    const y = res[sess.outputNames[0]];
    writeNpy(opt.out, y.data, y.dims);
  }
  const ms = [];
  for (let i = 0; i < opt.runs; i++) {
    const s = process.hrtime.bigint();
    await sess.run(feeds);
    ms.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const n = ms.length;
  const median = n === 0 ? 0 : (n % 2 ? ms[(n - 1) / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]));
  console.log('ort_version=' + (ort.env.versions ? ort.env.versions.common : '?') + ' load_ms=' + loadMs.toFixed(1));
  console.log('median_ms=' + median.toFixed(4) + ' min_ms=' + (n ? ms[0] : 0).toFixed(4) + ' runs=' + n);
}

main().catch(e => { console.error('ort_bench: ' + (e && e.message ? e.message : e)); process.exit(1); });
