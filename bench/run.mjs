#!/usr/bin/env node
// Runs the benchmark programs that are already built and puts native and wasm side by side.
//
//   node bench/run.mjs --native build/bench-native --wasm build/bench-wasm [--runs 3] [--out FILE] [-- ARGS]
//
// --native / --wasm   build directories (either may be left out); this script builds nothing
// --runs N            run everything N times; figures are the median over runs, with the spread beside them
// --out FILE          where the JSON goes (default: build/bench-results.json)
// --no-worker         skip bench/js/worker_ping.mjs
// --from FILE         run nothing: summarise the runs stored in an earlier --out FILE (several may be given)
// ARGS after --       passed to both tandem_bench programs (e.g. -- --filter handle --min-time-ms 500)
//
// bench/js/worker_ping.mjs (the wasm worker boundary, written separately) runs too when it exists, the wasm
// build dir has the Embind module (target tandem_module) and protobufjs is installed; its JSON lines join the
// wasm column. Ratios are computed within each run (ours next to the baseline, measured minutes apart at most)
// and then summarised over runs, so a noisy VM moves both sides of a ratio together.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const a = { native: null, wasm: null, runs: 1, out: resolve(repo, 'build/bench-results.json'), worker: true,
              pass: [], from: [] };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--') { a.pass = argv.slice(i + 1); break; }
    else if (k === '--native') a.native = resolve(value());
    else if (k === '--wasm') a.wasm = resolve(value());
    else if (k === '--runs') a.runs = Math.max(1, Number(value()));
    else if (k === '--out') a.out = resolve(value());
    else if (k === '--no-worker') a.worker = false;
    else if (k === '--from') a.from.push(resolve(value()));
    else throw new Error(`unknown argument ${k} (see the top of bench/run.mjs)`);
  }
  if (!a.native && !a.wasm && a.from.length === 0) throw new Error('give --native DIR and/or --wasm DIR (or --from)');
  return a;
}

// Runs a program, echoes its output as it comes, returns its JSON lines.
function runProgram(label, cmd, args, env = {}) {
  process.stderr.write(`\n== ${label}: ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: repo, env: { ...process.env, ...env }, encoding: 'utf8',
                                   maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = (r.stdout ?? '').split('\n');
  for (const l of lines) if (l && !l.startsWith('{')) process.stderr.write(`${l}\n`);
  if (r.status !== 0) {
    process.stderr.write(`!! ${label} failed (exit ${r.status ?? r.signal}); its rows are missing\n`);
  }
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

function workerPingSkipReason(wasmDir) {
  if (!existsSync(resolve(repo, 'bench/js/worker_ping.mjs'))) return 'bench/js/worker_ping.mjs does not exist';
  if (!existsSync(resolve(wasmDir, 'wasm/tandem_core.mjs'))) {
    return `${wasmDir}/wasm/tandem_core.mjs is not built (cmake --build ${wasmDir} --target tandem_module)`;
  }
  try {
    createRequire(resolve(repo, 'package.json')).resolve('protobufjs');
  } catch {
    return 'protobufjs is not installed (npm install in the repository root)';
  }
  return null;
}

function runOnce(a) {
  const rows = [];
  if (a.native) rows.push(...runProgram('native', resolve(a.native, 'bench/tandem_bench'), a.pass));
  if (a.wasm) {
    rows.push(...runProgram('wasm', process.execPath,
                            ['--no-experimental-fetch', resolve(a.wasm, 'bench/tandem_bench.js'), ...a.pass]));
    const skip = a.worker ? workerPingSkipReason(a.wasm) : '--no-worker';
    if (skip) {
      process.stderr.write(`\n== worker_ping skipped: ${skip}\n`);
    } else {
      // Its rows have no variant; name them after where they come from.
      const lines = runProgram('worker_ping', process.execPath,
                               ['--no-experimental-fetch', resolve(repo, 'bench/js/worker_ping.mjs')],
                               { TANDEM_CORE_DIR: resolve(a.wasm, 'wasm') });
      rows.push(...lines.map((r) => ({ variant: 'bench/js', ...r, target: 'wasm' })));
    }
  }
  return rows;
}

// ---- summarising ------------------------------------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const key = (bench, variant) => `${bench}/${variant}`;
// A multi-threaded row only means something if its threads really ran at once. tandem_bench notes how many
// CPUs were busy on average; on a shared VM other work can leave one CPU for all threads, and such rows are
// left out of medians and ratios (and counted, so the exclusion is visible).
const excluded = new Set();  // rows (objects), each counted once however often it is looked at
const describeExcluded = (r) => `${r.target} ${key(r.bench, r.variant)} (${r.note})`;
function parallelEnough(r) {
  const m = /cpus busy on average: ([\d.]+) of (\d+) threads/.exec(r.note ?? '');
  if (!m) return true;
  const ok = Number(m[1]) >= 0.9 * Math.min(Number(m[2]), os.cpus().length);
  if (!ok) excluded.add(r);
  return ok;
}
const find = (rows, target, bench, variant) =>
  rows.find((r) => r.target === target && r.bench === bench && r.variant === variant && parallelEnough(r));

// The issue's targets, and the ratios worth reading next to them. kind: 'speedup' = den/num (>= goal),
// 'ratio' = num/den (<= goal), 'abs' = the figure itself (< goal), 'allocs' = allocs/op (== goal). Targets are
// stated for native; wasm values are shown for information. num/den name rows as 'bench/variant'.
const splitKey = (k) => k.split(/\/(.*)/s, 2);  // 'ffi_ping_worker/bench/js' -> ['ffi_ping_worker', 'bench/js']
const check = (name, kind, goal, num, den) => ({ name, kind, goal, num: splitKey(num), den: den && splitKey(den) });
const BASE = 'baseline_mutex_map';
const checks = [
  check('store+retrieve+drop: baseline / tandem (bare)', 'speedup', 3,
        'handle_store_retrieve_drop/tandem', `handle_store_retrieve_drop/${BASE}`),
  check('store+retrieve+drop: baseline / tandem_instrumented', 'speedup', undefined,
        'handle_store_retrieve_drop/tandem_instrumented', `handle_store_retrieve_drop/${BASE}`),
  check('retrieve: tandem (bare) ns', 'abs', 20, 'handle_retrieve/tandem'),
  check('retrieve: baseline / tandem', 'speedup', undefined, 'handle_retrieve/tandem', `handle_retrieve/${BASE}`),
  check('store: baseline / tandem', 'speedup', undefined, 'handle_store/tandem', `handle_store/${BASE}`),
  check('drop: baseline / tandem', 'speedup', undefined, 'handle_drop/tandem', `handle_drop/${BASE}`),
  check('retrieve 2 threads distinct: baseline / tandem', 'speedup', undefined,
        'handle_retrieve_mt/tandem_2threads_distinct', `handle_retrieve_mt/${BASE}_2threads_distinct`),
  check('publish: 1000 subs (10 match) / 10 subs', 'ratio', 1.5,
        'event_publish/1000subs_10_match', 'event_publish/10subs_all_match'),
  check('publish+deliver: 1000 subs (10 match) / 10 subs', 'ratio', undefined,
        'event_publish_deliver/1000subs_10_match', 'event_publish_deliver/10subs_all_match'),
  check('publish, 990 non-matching only: allocs/op', 'allocs', 0, 'event_publish/990subs_none_match'),
  check('publish, 1000 subs (10 match): allocs/op', 'allocs', 0, 'event_publish/1000subs_10_match'),
  check('histogram record ns', 'abs', 10, 'histogram_record/tandem'),
  check('ffi ping via worker / in-thread Embind', 'ratio', undefined, 'ffi_ping_worker/bench/js',
        'ffi_ping_embind/bench/js'),
];

// One check on one run and target: { mean, p50 } (or null when a row is missing).
function evaluate(c, rows, target) {
  const n = find(rows, target, ...c.num);
  const d = c.den ? find(rows, target, ...c.den) : null;
  if (!n || (c.den && !d)) return null;
  if (c.kind === 'allocs') return { mean: n.allocs_per_op, p50: n.allocs_per_op };
  if (c.kind === 'abs') return { mean: n.ns_per_op, p50: n.p50_ns };
  if (c.kind === 'speedup') return { mean: d.ns_per_op / n.ns_per_op, p50: d.p50_ns / n.p50_ns };
  return { mean: n.ns_per_op / d.ns_per_op, p50: n.p50_ns / d.p50_ns };
}

function verdict(c, v) {
  if (c.goal === undefined || !v) return '';
  const ok = (x) => (c.kind === 'speedup' ? x >= c.goal : c.kind === 'ratio' ? x <= c.goal
    : c.kind === 'abs' ? x < c.goal : x === c.goal);
  const [m, p] = [ok(v.mean), ok(v.p50)];
  return m && p ? 'MET' : !m && !p ? 'MISSED' : p ? 'MET on p50, not on mean' : 'MET on mean, not on p50';
}

const goalText = (c) => (c.goal === undefined ? ''
  : { speedup: '>= ', ratio: '<= ', abs: '< ', allocs: '== ' }[c.kind] + c.goal
    + (c.kind === 'speedup' ? 'x' : c.kind === 'abs' ? ' ns' : ''));

// "12.3" or, over several runs, "12.3 (11.9-13.0)".
function fmt(xs, digits = 1) {
  if (xs.length === 0) return '-';
  const f = (x) => (Math.abs(x) >= 1000 ? x.toFixed(0) : x.toFixed(digits));
  return xs.length === 1 ? f(xs[0]) : `${f(median(xs))} (${f(Math.min(...xs))}-${f(Math.max(...xs))})`;
}
const pad = (s, n, left = false) => (left ? String(s).padEnd(n) : String(s).padStart(n));

function report(a, runs) {
  const order = [];
  for (const rows of runs) {
    for (const r of rows) if (!order.includes(key(r.bench, r.variant))) order.push(key(r.bench, r.variant));
  }
  const series = (target, k, field) => runs
    .map((rows) => rows.find((r) => r.target === target && key(r.bench, r.variant) === k && parallelEnough(r)))
    .filter(Boolean).map((r) => r[field]).filter((x) => typeof x === 'number');
  const allocs = (xs) => (xs.length ? +median(xs).toPrecision(3) : '-');
  const w = runs.length > 1 ? 22 : 10;
  console.log(`\nSide by side (${runs.length} run${runs.length > 1 ? 's: median (min-max)' : ''}); ns per op; ` +
    'wasm/native is the ratio of p50s');
  console.log(`${pad('bench/variant', 56, true)} ${pad('native ns/op', w)} ${pad('native p50', w)} ` +
    `${pad('allocs', 7)} | ${pad('wasm ns/op', w)} ${pad('wasm p50', w)} ${pad('allocs', 7)} | ` +
    `${pad('wasm/native', 11)}`);
  const summary = [];
  for (const k of order) {
    const [nm, np, na] = ['ns_per_op', 'p50_ns', 'allocs_per_op'].map((f) => series('native', k, f));
    const [wm, wp, wa] = ['ns_per_op', 'p50_ns', 'allocs_per_op'].map((f) => series('wasm', k, f));
    const ratio = np.length && wp.length ? median(wp) / median(np) : null;
    console.log(`${pad(k, 56, true)} ${pad(fmt(nm), w)} ${pad(fmt(np), w)} ${pad(allocs(na), 7)}` +
      ` | ${pad(fmt(wm), w)} ${pad(fmt(wp), w)} ${pad(allocs(wa), 7)}` +
      ` | ${pad(ratio === null ? '-' : `${ratio.toFixed(2)}x`, 11)}`);
    summary.push({ key: k, native: { ns_per_op: nm, p50_ns: np, allocs_per_op: na },
                   wasm: { ns_per_op: wm, p50_ns: wp, allocs_per_op: wa }, wasm_over_native_p50: ratio });
  }

  console.log('\nTargets and ratios (each ratio taken within one run; on mean ns/op and on p50)');
  console.log(`${pad('check', 52, true)} ${pad('target', 8)} ${pad('native mean', w)} ${pad('native p50', w)}` +
    ` ${pad('verdict (native)', 24, true)} ${pad('wasm mean', w)} ${pad('wasm p50', w)}`);
  const checked = [];
  for (const c of checks) {
    const per = (target) => runs.map((rows) => evaluate(c, rows, target)).filter(Boolean);
    const nat = per('native'), was = per('wasm');
    if (nat.length === 0 && was.length === 0) continue;
    const digits = c.kind === 'allocs' ? 4 : 2;
    const med = (vs) => (vs.length ? { mean: median(vs.map((x) => x.mean)), p50: median(vs.map((x) => x.p50)) }
      : null);
    const v = verdict(c, med(nat));
    const cols = (vs) =>
      `${pad(fmt(vs.map((x) => x.mean), digits), w)} ${pad(fmt(vs.map((x) => x.p50), digits), w)}`;
    console.log(`${pad(c.name, 52, true)} ${pad(goalText(c), 8)} ${cols(nat)} ${pad(v, 24, true)} ${cols(was)}`);
    checked.push({ check: c.name, target: goalText(c), native: nat, wasm: was, verdict_native: v });
  }
  if (excluded.size) {
    console.log(`\nLeft out (threads did not run in parallel): ${excluded.size} multi-threaded rows, e.g. ` +
      `${describeExcluded([...excluded][0])}`);
  }
  return { summary, checks: checked, excluded: [...excluded].map(describeExcluded) };
}

const a = parseArgs(process.argv.slice(2));
const runs = a.from.flatMap((f) => JSON.parse(readFileSync(f, 'utf8')).runs);
for (let i = 0; a.from.length === 0 && i < a.runs; ++i) {
  if (a.runs > 1) process.stderr.write(`\n######## run ${i + 1} of ${a.runs}\n`);
  runs.push(runOnce(a));
}
const { summary, checks: checked, excluded: left } = report(a, runs);
const cpu = os.cpus();
const out = {
  date: new Date().toISOString(),
  machine: { cpu: cpu[0]?.model, cpus: cpu.length, os: `${os.type()} ${os.release()}`, node: process.versions.node },
  args: { native: a.native, wasm: a.wasm, runs: a.runs, pass: a.pass },
  runs,
  summary,
  checks: checked,
  excluded_multithreaded_rows: left,
};
mkdirSync(dirname(a.out), { recursive: true });
writeFileSync(a.out, `${JSON.stringify(out, null, 1)}\n`);
console.log(`\nJSON: ${a.out}`);
