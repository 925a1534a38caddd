// Browser test of the web demo: serve.mjs on a free loopback port, Debian's Chromium driven by playwright-core.
// The demo runs a sender core and a receiver core in two workers joined by a MessageChannel; the test checks
// that media flows end to end (video drawn on the canvas, audio on the level meter), that the loss / jitter
// sliders and the E2EE switch act on it, that the stats panel and the pipeline overlay show it, and then the
// original event-bus overlay checks against a get_metrics snapshot (with the load generator switched on).
// Finally a screenshot.
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
// The CPU is shared and may be slow: every wait is generous, and figures are compared, not timed.
const kWaitMs = 60000;
// Pipeline stages each core must run while media flows (E2EE stages are checked once it is switched on).
const kSenderStages = ['capture_audio_frame', 'capture_video_frame', 'encode{audio}', 'encode{video}',
  'packetize{audio}', 'packetize{video}', 'srtp_protect'];
const kReceiverStages = ['srtp_unprotect', 'rtp_parse', 'jitter_wait{audio}', 'jitter_wait{video}',
  'decode{audio}', 'decode{video}', 'forward_audio_frame', 'forward_video_frame'];
// Operations the load generator and the page drive on the sender core; each must show up in its overlay
// with a non-zero count.
const kRequiredOps = [
  'ffi_request{kind=ping}', 'ffi_request{kind=subscribe}', 'ffi_request{kind=unsubscribe}',
  'ffi_request{kind=drop_handle}', 'ffi_request{kind=load_generator}', 'ffi_request{kind=configure_metrics}',
  'send_event', 'store_handle', 'retrieve_handle', 'drop_handle',
];
// Those repeated many times a second, so every report interval must show a rate for them.
const kSteadyOps = ['ffi_request{kind=ping}', 'ffi_request{kind=subscribe}', 'send_event', 'store_handle',
  'retrieve_handle', 'drop_handle', 'capture_audio_frame'];

const results = [];
function check(name, ok, detail = '') {
  results.push({ name, ok });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
}

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

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

// ---- Readers that run in the page

// The sender core's overlay, read from the DOM (what a person sees), as numbers.
function readOverlay() {
  const rows = (selector) => [...document.querySelectorAll(selector)];
  const num = (v) => Number(v);
  return {
    ops: rows('#ops-sender tr').map((tr) => ({
      op: tr.dataset.op, count: num(tr.dataset.count), rate: num(tr.dataset.rate), p50: num(tr.dataset.p50),
      p99: num(tr.dataset.p99), max: num(tr.dataset.max), text: tr.textContent,
    })),
    handles: rows('#handles-sender tr').map((tr) => ({ key: tr.dataset.key, value: num(tr.dataset.value) })),
    bus: rows('#bus-sender tr').map((tr) => ({ key: tr.dataset.key, value: num(tr.dataset.value) })),
    ping: { p50: num(document.getElementById('ping-card').dataset.p50 ?? 0),
      count: num(document.getElementById('ping-card').dataset.count ?? 0),
      text: document.getElementById('ping-p50').textContent },
    isolated: globalThis.crossOriginIsolated,
    error: window.tandemDemo?.error ?? null,
  };
}

// The media stats panel (DOM rows, by key) and the pipeline table (counts per core, by stage).
function readMediaPanel() {
  const stats = {};
  for (const tr of document.querySelectorAll('#stats-rx tr, #stats-repair tr, #stats-tx tr')) {
    stats[tr.dataset.key] = Number(tr.dataset.value);
  }
  const pipeline = {};
  for (const tr of document.querySelectorAll('#pipeline tr')) {
    pipeline[tr.dataset.op] = { sender: Number(tr.dataset.senderCount), receiver: Number(tr.dataset.receiverCount),
      text: tr.textContent };
  }
  return { stats, pipeline, media: window.tandemDemo.media(), raw: window.tandemDemo.mediaStats() };
}

// Luma statistics of what the video canvas shows.
function readCanvas() {
  const canvas = document.getElementById('video');
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let sum = 0;
  let sumSq = 0;
  const n = data.length / 4;
  for (let i = 0; i < data.length; i += 4) {
    const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    sum += y;
    sumSq += y * y;
  }
  const mean = sum / n;
  return { width: canvas.width, height: canvas.height, mean, variance: sumSq / n - mean * mean };
}

function setSlider([id, value]) {
  const input = document.getElementById(id);
  input.value = String(value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

// ---- The checks

async function mediaChecks(page) {
  const flowing = await page.waitForFunction(() => {
    const m = window.tandemDemo.media();
    return m.videoFrames > 60 && m.videoDrawn > 30 && m.audioFrames > 100 && window.tandemDemo.mediaStats() !== null;
  }, null, { timeout: kWaitMs, polling: 250 }).then(() => true, () => false);
  let panel = await page.evaluate(readMediaPanel);
  check('video frames arrive at the receiver and are drawn', flowing && panel.media.videoFrames > 60 &&
    panel.media.videoDrawn > 30 && panel.media.width === 320 && panel.media.height === 240,
  `${panel.media.videoFrames} received, ${panel.media.videoDrawn} drawn, ${panel.media.width}x${panel.media.height}`);
  const canvas = await page.evaluate(readCanvas);
  check('the video canvas is not blank (luma variance of the drawn test pattern)', canvas.variance > 500,
    `${canvas.width}x${canvas.height}, mean ${canvas.mean.toFixed(1)}, variance ${canvas.variance.toFixed(0)}`);
  const level = await page.evaluate(() => ({ db: window.tandemDemo.media().levelDb,
    shown: Number(document.getElementById('level').textContent.replace('−', '-')) }));
  check('audio frames arrive and the meter reads the tone, well above silence',
    panel.media.audioFrames > 100 && level.db > -40 && level.shown > -40 && panel.media.origins.DECODED > 50,
    `${panel.media.audioFrames} frames (${JSON.stringify(panel.media.origins)}), level ${level.db.toFixed(1)} dBFS, ` +
    `shown ${level.shown}`);

  await page.waitForFunction(() => Number(document.querySelector('#stats-rx tr[data-key=video_packets_received]')
    ?.dataset.value) > 0, null, { timeout: kWaitMs }).catch(() => {});
  panel = await page.evaluate(readMediaPanel);
  const s = panel.stats;
  check('the stats panel shows packets, frames and RTT', s.audio_packets_received > 0 && s.video_packets_received > 0 &&
    s.audio_frames_decoded > 0 && s.video_frames_decoded > 0 && s.audio_frames_sent > 0 && s.rtt_ms_sender > 0,
  `audio ${s.audio_packets_received} pkts, video ${s.video_packets_received} pkts, RTT ${s.rtt_ms_sender} ms`);
  const r = panel.raw;
  check('datagrams cross the MessageChannel both ways, worker to worker',
    r.portTx.datagramsSent > 0 && r.portRx.datagramsSent > 0 && r.portRx.datagramsAccepted > 0 &&
    r.portTx.datagramsAccepted > 0 && r.portRx.deliverErrors === 0 && r.portTx.deliverErrors === 0 &&
    r.sessionRx.datagrams_received <= r.portRx.datagramsAccepted && r.sessionRx.srtp_auth_failures === 0,
  `sender -> receiver ${r.portTx.datagramsSent}, back ${r.portRx.datagramsSent}; ` +
    `receiver session got ${r.sessionRx.datagrams_received}`);

  await page.waitForFunction(([tx, rx]) => {
    const rows = new Map([...document.querySelectorAll('#pipeline tr')].map((tr) => [tr.dataset.op, tr.dataset]));
    return tx.every((op) => Number(rows.get(op)?.senderCount) > 0) &&
      rx.every((op) => Number(rows.get(op)?.receiverCount) > 0);
  }, [kSenderStages, kReceiverStages], { timeout: kWaitMs, polling: 250 }).catch(() => {});
  panel = await page.evaluate(readMediaPanel);
  const idleTx = kSenderStages.filter((op) => !(panel.pipeline[op]?.sender > 0));
  const idleRx = kReceiverStages.filter((op) => !(panel.pipeline[op]?.receiver > 0));
  check('the overlay shows the pipeline histograms of both cores', idleTx.length === 0 && idleRx.length === 0 &&
    Object.values(panel.pipeline).filter((p) => p.sender > 0 || p.receiver > 0)
      .every((p) => /\d (ns|µs|ms)/.test(p.text)),
  `sender missing [${idleTx}], receiver missing [${idleRx}]`);
}

async function impairmentChecks(page) {
  const before = await page.evaluate(readMediaPanel);
  await page.evaluate(setSlider, ['loss', 10]);
  await page.evaluate(setSlider, ['jitter', 60]);
  const applied = await page.waitForFunction(() => window.tandemDemo.media().impairment?.loss === 0.1 &&
    window.tandemDemo.media().impairment?.jitterMs === 60, null, { timeout: kWaitMs }).then(() => true, () => false);
  check('the loss and jitter sliders reach both sessions (set_impairment)', applied &&
    await page.evaluate(() => document.getElementById('loss-value').textContent === '10 %'));
  // Six seconds of 10 % loss and 0..60 ms jitter, then compare.
  await sleep(6000);
  await page.waitForFunction((seen) => Number(document.querySelector('#stats-repair tr[data-key=impairment_dropped]')
    ?.dataset.value) > seen, before.stats.impairment_dropped, { timeout: kWaitMs }).catch(() => {});
  const after = await page.evaluate(readMediaPanel);
  const delta = (k) => after.stats[k] - before.stats[k];
  const repaired = delta('nacks_sent') + delta('audio_concealed') + delta('audio_fec');
  check('with 10 % loss: datagrams are lost, NACKs / concealment repair it',
    delta('impairment_dropped') > 0 && repaired > 0,
    `lost ${delta('impairment_dropped')}, NACKs ${delta('nacks_sent')}, retransmissions ` +
    `${delta('retransmissions')}, concealed ${delta('audio_concealed')}, FEC ${delta('audio_fec')}, ` +
    `PLIs ${delta('plis')}`);
  const frames = { video: after.media.videoFrames - before.media.videoFrames,
    audio: after.media.audioFrames - before.media.audioFrames };
  check('with 10 % loss frames keep arriving', frames.video > 60 && frames.audio > 150,
    `${frames.video} video and ${frames.audio} audio frames in ~6 s`);
  // Uniform 0..60 ms of extra delay gives RFC 3550 interarrival jitter of ~20 ms (mean |difference|), more
  // with reordering; without it this page measures 2..15 ms (scheduling noise on a busy machine).
  check('the jitter estimate rises with 0..60 ms of network jitter', after.raw.audioStream.jitter_ms > 15,
  `${before.raw.audioStream.jitter_ms.toFixed(1)} ms -> ${after.raw.audioStream.jitter_ms.toFixed(1)} ms`);
  await page.evaluate(setSlider, ['loss', 0]);
  await page.evaluate(setSlider, ['jitter', 0]);
  await page.waitForFunction(() => window.tandemDemo.media().impairment?.loss === 0 &&
    window.tandemDemo.media().impairment?.jitterMs === 0, null, { timeout: kWaitMs }).catch(() => {});
}

async function e2eeChecks(page) {
  await page.click('#e2ee');
  const rebuilt = await page.waitForFunction(() => window.tandemDemo.media().e2ee &&
    !window.tandemDemo.media().rebuilding, null, { timeout: kWaitMs }).then(() => true, () => false);
  const start = await page.evaluate(() => window.tandemDemo.media());
  const flowing = await page.waitForFunction((s) => {
    const m = window.tandemDemo.media();
    return m.videoFrames > s.videoFrames + 30 && m.audioFrames > s.audioFrames + 50;
  }, start, { timeout: kWaitMs, polling: 250 }).then(() => true, () => false);
  await page.waitForFunction(() => {
    const rows = new Map([...document.querySelectorAll('#pipeline tr')].map((tr) => [tr.dataset.op, tr.dataset]));
    return Number(rows.get('e2ee_encrypt')?.senderCount) > 0 && Number(rows.get('e2ee_decrypt')?.receiverCount) > 0;
  }, null, { timeout: kWaitMs, polling: 250 }).catch(() => {});
  await page.waitForFunction(() => (window.tandemDemo.mediaStats()?.videoStream.frames_decoded ?? 0) > 10, null,
    { timeout: kWaitMs }).catch(() => {});
  const panel = await page.evaluate(readMediaPanel);
  const end = panel.media;
  check('with E2EE on (same key both sides) media keeps flowing, and e2ee_encrypt / e2ee_decrypt are shown',
    rebuilt && flowing && panel.pipeline.e2ee_encrypt?.sender > 0 && panel.pipeline.e2ee_decrypt?.receiver > 0 &&
    panel.raw.videoStream.e2ee_failures === 0 && panel.raw.audioStream.e2ee_failures === 0,
  `+${end.videoFrames - start.videoFrames} video, +${end.audioFrames - start.audioFrames} audio frames; ` +
    `encrypt ${panel.pipeline.e2ee_encrypt?.sender}, decrypt ${panel.pipeline.e2ee_decrypt?.receiver}`);
}

// The first demo's checks, on the sender core with the event-bus load generator running.
async function overlayChecks(page) {
  const startReports = await page.evaluate(() => window.tandemDemo.reports('sender'));
  await page.click('#load');
  // Until every required operation shows a count and a rate (two reports after the load started, at least).
  const ready = await page.waitForFunction(([required, steady, from]) => {
    const rows = [...document.querySelectorAll('#ops-sender tr')];
    const byOp = new Map(rows.map((tr) => [tr.dataset.op, tr]));
    return window.tandemDemo.reports('sender') >= from + 3 && rows.every((tr) => Number(tr.dataset.count) > 0) &&
      required.every((op) => byOp.has(op)) && steady.every((op) => Number(byOp.get(op).dataset.rate) > 0);
  }, [kRequiredOps, kSteadyOps, startReports], { timeout: kWaitMs, polling: 200 }).then(() => true, () => false);

  // The overlay first, then the snapshot: counts only grow (no reset on report), so each overlay count
  // must be <= the snapshot's.
  const overlay = await page.evaluate(readOverlay);
  const snapshot = await page.evaluate(() => window.tandemDemo.getMetrics('sender'));
  const overlayOps = new Map(overlay.ops.map((r) => [r.op, r]));
  const absent = kRequiredOps.filter((op) => !(overlayOps.get(op)?.count > 0));
  const idle = kSteadyOps.filter((op) => !(overlayOps.get(op)?.rate > 0));
  check('every operation in the sender overlay shows a non-zero count (and the steady ones a rate)',
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
  // p50 (even max) may read 0: the core's clock in a browser is performance.now(), which ticks in microsecond
  // steps, and a stage that always finishes within one step never reads more. The required operations include
  // slow enough ones (requests through the whole FFI) to read > 0.
  const disordered = overlay.ops.filter((r) => !(r.p50 >= 0 && r.p50 <= r.p99 && r.p99 <= r.max));
  const zero = kRequiredOps.filter((op) => !(overlayOps.get(op)?.max > 0));
  check('p50 <= p99 <= max for every operation', disordered.length === 0 && zero.length === 0 &&
    overlay.ops.length > 0, `disordered: [${disordered.map((r) => r.op)}] max 0: [${zero}]`);
  const unitless = overlay.ops.filter((r) => !/\d (ns|µs|ms)/.test(r.text));
  check('latencies are shown with units', unitless.length === 0, unitless.map((r) => r.op).join(', '));

  const handles = new Map(overlay.handles.map((h) => [h.key, h.value]));
  const snapGauges = new Map(snapshot.gauges.map((g) => [g.key, g.value]));
  check('live handles per type are shown',
    handles.get('handles_live{type=subscription}') >= 5 && handles.has('handles_live{type=synthetic}') &&
    handles.has('handles_live{type=load_generator}') && handles.get('handles_live{type=media_session}') === 1 &&
    handles.get('handles_live{type=audio_source}') === 1 && handles.get('handles_live{type=video_source}') === 1 &&
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
  const m = await page.evaluate(() => window.tandemDemo.media());
  check('media keeps flowing while the load generator runs', m.fps > 0, `${m.fps} video frames in the last second`);
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
      { timeout: kWaitMs });
    const startError = await page.evaluate(() => window.tandemDemo.error);
    check('the demo starts two cores in two workers and connects them', startError === null, startError ?? '');
    if (startError !== null) return;

    await mediaChecks(page);
    await impairmentChecks(page);
    await e2eeChecks(page);
    await overlayChecks(page);

    await mkdir(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    const shot = await stat(screenshot).catch(() => null);
    check('screenshot saved to artifacts/demo.png', shot !== null && shot.size > 10000, `${shot?.size} bytes`);
    const error = await page.evaluate(() => window.tandemDemo.error);
    check('no page errors', pageErrors.length === 0 && error === null, [...pageErrors, error ?? ''].join(' | '));
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
