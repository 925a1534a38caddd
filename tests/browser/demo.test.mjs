// Browser test of the web demo: serve.mjs on a free loopback port, Debian's Chromium driven by playwright-core,
// the live overlay checked against a get_metrics snapshot taken through the page, and a screenshot.
//
//   node tests/browser/demo.test.mjs      (TANDEM_CORE_DIR=<dir of tandem_core.mjs>, default build/wasm/wasm;
//                                          CHROMIUM=<path>, default /usr/bin/chromium)
// Prints "browser tests: N passed, M failed" and exits non-zero on any failure.
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const screenshot = join(repo, 'artifacts/demo.png');
const kChromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// Operations the demo drives; each must show up in the overlay with a non-zero count.
const kRequiredOps = [
  'ffi_request{kind=ping}', 'ffi_request{kind=subscribe}', 'ffi_request{kind=unsubscribe}',
  'ffi_request{kind=drop_handle}', 'ffi_request{kind=load_generator}', 'ffi_request{kind=configure_metrics}',
  'send_event', 'store_handle', 'retrieve_handle', 'drop_handle',
];
// Those the demo repeats many times a second, so every report interval must show a rate for them.
const kSteadyOps = ['ffi_request{kind=ping}', 'ffi_request{kind=subscribe}', 'send_event', 'store_handle',
  'retrieve_handle', 'drop_handle'];

const results = [];
function check(name, ok, detail = '') {
  results.push({ name, ok });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
}

// Starts serve.mjs on port 0 and resolves with its URL (read from its first line of output).
function startServer() {
  const child = spawn(process.execPath, [join(repo, 'web-demo/serve.mjs'), '--port', '0'], {
    env: process.env, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = new Promise((resolveUrl, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('serve.mjs printed no URL within 30 s')), 30000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/tandem web demo: (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`serve.mjs exited with code ${code}`)));
  });
  return { child, url };
}

// Everything the overlay shows, read from the DOM (what a person sees), as numbers.
function readOverlay() {
  const rows = (selector) => [...document.querySelectorAll(selector)];
  const num = (v) => Number(v);
  return {
    ops: rows('#ops tr').map((tr) => ({
      op: tr.dataset.op, count: num(tr.dataset.count), rate: num(tr.dataset.rate), p50: num(tr.dataset.p50),
      p99: num(tr.dataset.p99), max: num(tr.dataset.max), text: tr.textContent,
    })),
    handles: rows('#handles tr').map((tr) => ({ key: tr.dataset.key, value: num(tr.dataset.value) })),
    bus: rows('#bus tr').map((tr) => ({ key: tr.dataset.key, value: num(tr.dataset.value) })),
    ping: { p50: num(document.getElementById('ping-card').dataset.p50 ?? 0),
      count: num(document.getElementById('ping-card').dataset.count ?? 0),
      text: document.getElementById('ping-p50').textContent },
    isolated: globalThis.crossOriginIsolated,
    error: window.tandemDemo?.error ?? null,
  };
}

async function run() {
  const server = startServer();
  const userDataDir = await mkdtemp(join(tmpdir(), 'tandem-chromium-'));
  let context;
  const pageErrors = [];
  try {
    const url = await server.url;
    console.log(`serving ${url}`);
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: kChromiumArgs,
      viewport: { width: 1280, height: 1000 },
    });
    const page = context.pages()[0] ?? await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
    await page.goto(url);
    await page.waitForFunction(() => window.tandemDemo?.started || window.tandemDemo?.error, null,
      { timeout: 30000 });
    const startError = await page.evaluate(() => window.tandemDemo.error);
    check('the demo starts the core in a worker', startError === null, startError ?? '');
    if (startError !== null) return;

    // Until every required operation shows a count and a rate (two reports at least), within 30 s.
    const ready = await page.waitForFunction(([required, steady]) => {
      const rows = [...document.querySelectorAll('#ops tr')];
      const byOp = new Map(rows.map((tr) => [tr.dataset.op, tr]));
      return window.tandemDemo.reports() >= 3 && rows.every((tr) => Number(tr.dataset.count) > 0) &&
        required.every((op) => byOp.has(op)) && steady.every((op) => Number(byOp.get(op).dataset.rate) > 0);
    }, [kRequiredOps, kSteadyOps], { timeout: 30000, polling: 200 }).then(() => true, () => false);

    // The overlay first, then the snapshot: counts only grow (no reset on report), so each overlay count
    // must be <= the snapshot's.
    const overlay = await page.evaluate(readOverlay);
    const snapshot = await page.evaluate(() => window.tandemDemo.getMetrics());
    const overlayOps = new Map(overlay.ops.map((r) => [r.op, r]));
    const absent = kRequiredOps.filter((op) => !(overlayOps.get(op)?.count > 0));
    const idle = kSteadyOps.filter((op) => !(overlayOps.get(op)?.rate > 0));
    check('every operation in the overlay shows a non-zero count (and the steady ones a rate)',
      ready && absent.length === 0 && idle.length === 0 && overlay.ops.every((r) => r.count > 0),
      `${overlay.ops.length} operations; no count: [${absent}] no rate: [${idle}]`);

    const snapOps = new Map(snapshot.histograms.filter((h) => h.count > 0).map((h) => [h.op, h]));
    const missing = [...snapOps.keys()].filter((op) => !overlayOps.has(op));
    const extra = [...overlayOps.keys()].filter((op) => !snapOps.has(op));
    check('overlay and get_metrics list the same operations', missing.length === 0 && extra.length === 0,
      `missing from overlay: [${missing}] not in get_metrics: [${extra}]`);
    const inconsistent = overlay.ops.filter((r) => !(snapOps.get(r.op)?.count >= r.count));
    check('overlay counts <= get_metrics counts', inconsistent.length === 0 && overlay.ops.length > 0,
      inconsistent.map((r) => `${r.op}: ${r.count} > ${snapOps.get(r.op)?.count}`).join('; '));
    // p50 may read 0: the core's clock in a browser is performance.now(), which ticks in microsecond steps.
    const disordered = overlay.ops.filter((r) => !(r.p50 >= 0 && r.p50 <= r.p99 && r.p99 <= r.max && r.max > 0));
    check('p50 <= p99 <= max for every operation', disordered.length === 0 && overlay.ops.length > 0,
      disordered.map((r) => r.op).join(', '));
    const unitless = overlay.ops.filter((r) => !/\d (ns|µs|ms)/.test(r.text));
    check('latencies are shown with units', unitless.length === 0, unitless.map((r) => r.op).join(', '));

    const handles = new Map(overlay.handles.map((h) => [h.key, h.value]));
    const snapGauges = new Map(snapshot.gauges.map((g) => [g.key, g.value]));
    check('live handles per type are shown',
      handles.get('handles_live{type=subscription}') >= 5 && handles.has('handles_live{type=synthetic}') &&
      handles.has('handles_live{type=load_generator}') &&
      snapGauges.get('handles_live{type=subscription}') >= 5,
      JSON.stringify([...handles]));

    const bus = new Map(overlay.bus.map((b) => [b.key, b.value]));
    const snapCounters = new Map(snapshot.counters.map((c) => [c.key, c.value]));
    const busKeys = ['event_bus_delivered', 'event_bus_filtered', 'event_bus_dropped{policy=drop_newest}'];
    check('event bus delivered / filtered / dropped are non-zero and <= get_metrics',
      busKeys.every((k) => bus.get(k) > 0 && bus.get(k) <= snapCounters.get(k)),
      busKeys.map((k) => `${k}=${bus.get(k)}/${snapCounters.get(k)}`).join(' '));

    check('the page is cross-origin isolated (fine performance.now())', overlay.isolated === true);
    check('the JS → worker → core ping round trip is shown',
      overlay.ping.count > 0 && overlay.ping.p50 > 0 && /\d (ns|µs|ms)/.test(overlay.ping.text),
      `${overlay.ping.count} pings, p50 ${overlay.ping.text}`);

    await mkdir(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    const shot = await stat(screenshot).catch(() => null);
    check('screenshot saved to artifacts/demo.png', shot !== null && shot.size > 10000, `${shot?.size} bytes`);
    check('no page errors', pageErrors.length === 0, pageErrors.join(' | '));
  } catch (e) {
    check('the test ran to completion', false, String(e?.stack ?? e));
  } finally {
    await context?.close().catch(() => {});
    server.child.kill('SIGTERM');
    await rm(userDataDir, { recursive: true, force: true });
  }
}

await run();
const failed = results.filter((r) => !r.ok).length;
console.log(`browser tests: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 && results.length > 0 ? 0 : 1);
