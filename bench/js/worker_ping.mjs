// The FFI ping round trip through the JS worker boundary (node worker_threads), beside the same call made
// in-thread through Embind, and the bare worker echo (no core) as the boundary's own baseline.
//
//   node bench/js/worker_ping.mjs [--count 20000] [--warmup 2000]
//   TANDEM_CORE_DIR=build/web-wasm/wasm node bench/js/worker_ping.mjs     (default: build/wasm/wasm)
//
// Prints a table, then one JSON line per row: {"bench":..., "target":"wasm", ns_per_op, p50_ns, p99_ns,
// ops_per_s, ...}. Each op is awaited before the next is sent: this is latency, not pipelined throughput.
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { loadCore } from '../../wasm/js/core_loader.mjs';
import { Tandem } from '../../wasm/js/tandem.mjs';

const { values: args } = parseArgs({
  options: { count: { type: 'string', default: '20000' }, warmup: { type: 'string', default: '2000' } },
});
const count = Number(args.count);
const warmup = Number(args.warmup);
if (!(count > 0 && warmup >= 0)) throw new Error('--count must be > 0 and --warmup >= 0');
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const coreDir = resolve(process.env.TANDEM_CORE_DIR ?? join(repo, 'build/wasm/wasm'));
const coreUrl = pathToFileURL(resolve(coreDir, 'tandem_core.mjs'));

function summarize(bench, samples, totalNs, note) {
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return {
    bench,
    target: 'wasm',
    runtime: `node ${process.versions.node}`,
    n: samples.length,
    ns_per_op: Math.round(totalNs / samples.length),
    p50_ns: Math.round(at(0.5)),
    p99_ns: Math.round(at(0.99)),
    max_ns: Math.round(sorted[sorted.length - 1]),
    ops_per_s: Math.round(samples.length / (totalNs / 1e9)),
    note,
  };
}

// Untimed runs before measuring: at least `warmup` ops and half a second, so V8's optimizing tiers (JS and
// wasm, compiled on background threads) are done before the clock starts.
const kWarmupMs = 500;

// Times `count` sequential runs of `op` (sync or async) after the warm-up.
async function measure(bench, op, note) {
  for (let i = 0, t = performance.now(); i < warmup || performance.now() - t < kWarmupMs; ++i) await op();
  const samples = new Float64Array(count);
  const begin = performance.now();
  for (let i = 0; i < count; ++i) {
    const t0 = performance.now();
    await op();
    samples[i] = (performance.now() - t0) * 1e6;
  }
  return summarize(bench, samples, (performance.now() - begin) * 1e6, note);
}

// Same as measure() for a synchronous op: no await between samples, so the event loop is not turned.
function measureSync(bench, op, note) {
  for (let i = 0, t = performance.now(); i < warmup || performance.now() - t < kWarmupMs; ++i) op();
  const samples = new Float64Array(count);
  const begin = performance.now();
  for (let i = 0; i < count; ++i) {
    const t0 = performance.now();
    op();
    samples[i] = (performance.now() - t0) * 1e6;
  }
  return summarize(bench, samples, (performance.now() - begin) * 1e6, note);
}

function checkPing(tandem, bytes) {
  const r = tandem.decodeResponse(bytes);
  if (r.error !== 'OK' || r.message !== 'ping') throw new Error(`ping failed: ${r.error} ${r.errorMessage}`);
}

const rows = [];
const tandem = await Tandem.start({ coreUrl, options: { metricsReportDisabled: true } });
const pingBytes = tandem.encodeRequest({ ping: { payload: new Uint8Array(16), sentNs: 1n } });
checkPing(tandem, await tandem.request(pingBytes));

rows.push(await measure('worker_echo', () => tandem.echo(pingBytes),
  'baseline: postMessage round trip with a transferred buffer, no core'));
rows.push(await measure('ffi_ping_worker', () => tandem.request(pingBytes),
  'pre-encoded FfiRequest bytes -> worker -> core -> FfiResponse bytes'));
rows.push(await measure('ffi_ping_worker_typed', () => tandem.ping(new Uint8Array(16)),
  'as ffi_ping_worker plus protobufjs encode/decode (Tandem.ping)'));
// Cross-check with the core's own histogram of the same requests (time spent inside the core only).
const report = await tandem.getMetrics();
const inCore = report.histograms.find((h) => h.name === 'ffi_request' && h.label === 'kind=ping');
await tandem.dispose();

const core = await loadCore(coreUrl);
const noReport = tandem.types.InitializeOptions.encode({ metricsReportDisabled: true }).finish();
if (core.initialize(() => {}, noReport) !== 0) throw new Error('in-thread initialize failed');
checkPing(tandem, core.request(pingBytes).slice());
rows.push(measureSync('ffi_ping_embind', () => core.request(pingBytes).slice(),
  'in-thread Embind call (no worker), response copied out of wasm memory'));
core.dispose();

const us = (ns) => (ns / 1000).toFixed(2).padStart(9);
console.log(`worker ping benchmark: ${count} ops after >= ${warmup} warm-up ops and ${kWarmupMs} ms, node ${process.versions.node}, ` +
  `${os.cpus()[0]?.model ?? 'unknown cpu'}, ${new Date().toISOString().slice(0, 10)}`);
console.log(`${'bench'.padEnd(24)} ${'ns/op µs'.padStart(9)} ${'p50 µs'.padStart(9)} ${'p99 µs'.padStart(9)} ` +
  `${'max µs'.padStart(9)} ${'ops/s'.padStart(10)}`);
for (const r of rows) {
  console.log(`${r.bench.padEnd(24)} ${us(r.ns_per_op)} ${us(r.p50_ns)} ${us(r.p99_ns)} ${us(r.max_ns)} ` +
    `${String(r.ops_per_s).padStart(10)}`);
}
const embind = rows.find((r) => r.bench === 'ffi_ping_embind');
const worker = rows.find((r) => r.bench === 'ffi_ping_worker');
console.log(`worker/in-thread p50 ratio: ${(worker.p50_ns / embind.p50_ns).toFixed(1)}x; ` +
  `inside the core (ffi_request{kind=ping}): p50 ${inCore.p50Ns} ns, p99 ${inCore.p99Ns} ns`);
for (const r of rows) console.log(JSON.stringify(r));
