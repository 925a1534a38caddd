// The web demo: starts the wasm core in a worker through the JS package, keeps it busy (load generator with
// keyed events and handle churn, subscription churn, pings in a loop) and renders each METRICS_REPORT as a
// live overlay. window.tandemDemo is the hook the browser test drives.
import { Tandem } from '/wasm/js/tandem.mjs';

const kReportIntervalMs = 1000;
const kPingSamples = 2000;  // the ping figures cover this many latest round trips

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

export function formatNs(ns) {
  const v = Number(ns);
  if (v < 1e3) return `${v.toFixed(0)} ns`;
  if (v < 1e6) return `${(v / 1e3).toFixed(v < 1e4 ? 2 : 1)} µs`;
  if (v < 1e9) return `${(v / 1e6).toFixed(v < 1e7 ? 2 : 1)} ms`;
  return `${(v / 1e9).toFixed(2)} s`;
}

function formatRate(perSecond) {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e4) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(perSecond < 10 ? 1 : 0)} /s`;
}

const formatCount = (n) => Number(n).toLocaleString('en-US');
const metricKey = (name, label) => (label ? `${name}{${label}}` : name);

// ---- State shown by the overlay

const state = {
  reports: 0,
  previous: null,  // {timeNs, counts: Map(op -> count)} of the last report, for rates
  rtts: new Float64Array(kPingSamples),
  pings: 0,
  pageEvents: 0,
  loadRuns: 0,
  running: true,
};

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function renderOperations(report) {
  const seconds = state.previous ? Number(report.timeNs - state.previous.timeNs) / 1e9 : Number(report.intervalNs) / 1e9;
  const counts = new Map();
  const rows = [];
  const histograms = [...report.histograms].sort((a, b) =>
    a.name.localeCompare(b.name) || a.label.localeCompare(b.label));
  for (const h of histograms) {
    const op = metricKey(h.name, h.label);
    counts.set(op, h.count);
    if (h.count === 0n) continue;  // an operation appears once it has happened
    const before = state.previous?.counts.get(op) ?? 0n;
    const rate = seconds > 0 ? Number(h.count - before) / seconds : 0;
    const tr = el('tr', undefined, {
      'data-op': op, 'data-count': String(h.count), 'data-rate': rate.toFixed(3),
      'data-p50': String(h.p50Ns), 'data-p99': String(h.p99Ns), 'data-max': String(h.maxNs),
    });
    const name = el('td', h.name);
    if (h.label) name.append(' ', el('span', h.label.replace(/^kind=/, ''), { class: 'label' }));
    tr.append(name, el('td', formatCount(h.count)), el('td', formatRate(rate)), el('td', formatNs(h.p50Ns)),
      el('td', formatNs(h.p99Ns)), el('td', formatNs(h.maxNs)));
    rows.push(tr);
  }
  $('ops').replaceChildren(...rows);
  state.previous = { timeNs: report.timeNs, counts };
}

function renderTable(tbodyId, entries) {
  $(tbodyId).replaceChildren(...entries.map(([key, label, value]) => {
    const tr = el('tr', undefined, { 'data-key': key, 'data-value': String(value) });
    tr.append(el('td', label), el('td', formatCount(value)));
    return tr;
  }));
}

function renderReport(report) {
  state.reports += 1;
  renderOperations(report);
  const counter = (name, label = '') =>
    report.counters.find((c) => c.name === name && c.label === label)?.value ?? 0n;
  const gauges = report.gauges.filter((g) => g.name === 'handles_live' && g.label !== 'type=unspecified');
  renderTable('handles', gauges.map((g) =>
    [metricKey(g.name, g.label), g.label.replace(/^type=/, ''), g.value]));
  const dropped = report.counters.filter((c) => c.name === 'event_bus_dropped');
  const subscriptions = report.gauges.find((g) => g.name === 'event_bus_subscriptions')?.value ?? 0n;
  renderTable('bus', [
    ['event_bus_published', 'published', counter('event_bus_published')],
    ['event_bus_delivered', 'delivered', counter('event_bus_delivered')],
    ['event_bus_filtered', 'filtered', counter('event_bus_filtered')],
    ['event_bus_unmatched', 'unmatched', counter('event_bus_unmatched')],
    ...dropped.map((c) => [metricKey(c.name, c.label), `dropped (${c.label.replace(/^policy=/, '')})`, c.value]),
    ['event_bus_subscriptions', 'subscriptions', subscriptions],
  ]);
  $('report-count').textContent = formatCount(state.reports);
  if (state.lastReportNs !== undefined) $('report-period').textContent = formatNs(report.timeNs - state.lastReportNs);
  state.lastReportNs = report.timeNs;
  $('core-time').textContent = formatNs(report.timeNs);
  $('request-errors').textContent = formatCount(counter('ffi_request_errors'));
  $('page-events').textContent = formatCount(state.pageEvents);
  $('load-runs').textContent = formatCount(state.loadRuns);
}

function renderLogs(batch) {
  const log = $('log');
  for (const r of batch.records) {
    const li = el('li');
    li.append(el('span', r.level, { class: `lvl lvl-${r.level}` }), el('span', r.target, { class: 'target' }),
      ` ${r.message}`);
    log.append(li);
  }
  while (log.children.length > 6) log.firstElementChild.remove();
}

function pingStats() {
  const n = Math.min(state.pings, kPingSamples);
  if (n === 0) return { count: 0 };
  const sorted = state.rtts.slice(0, n).sort();
  const at = (q) => sorted[Math.min(n - 1, Math.floor(q * n))];
  return { count: state.pings, p50Ns: at(0.5), p99Ns: at(0.99), maxNs: sorted[n - 1] };
}

function renderPing() {
  const s = pingStats();
  if (s.count === 0) return;
  $('ping-p50').textContent = formatNs(s.p50Ns);
  $('ping-p99').textContent = formatNs(s.p99Ns);
  $('ping-max').textContent = formatNs(s.maxNs);
  $('ping-count').textContent = formatCount(s.count);
  $('ping-card').dataset.p50 = String(Math.round(s.p50Ns));
  $('ping-card').dataset.count = String(s.count);
}

// ---- Load

async function pingLoop(tandem) {
  while (state.running) {
    for (let i = 0; i < 20; ++i) {
      const { rttNs } = await tandem.ping();
      state.rtts[state.pings % kPingSamples] = rttNs;
      state.pings += 1;
    }
    renderPing();
    await sleep(100);
  }
}

// Synthetic events on keys 1..4 with handle churn, paced, one run after another.
async function loadLoop(tandem) {
  while (state.running) {
    const run = await tandem.loadGenerator({
      events: 4000, keys: [1n, 2n, 3n, 4n], payloadBytes: 64, eventsPerSecond: 4000, handleChurn: 1000, batch: 200,
    });
    await run.completion;
    state.loadRuns += 1;
  }
}

// Handles created and dropped through the API: unsubscribe, drop_handle as a request, and the direct call.
async function churnLoop(tandem) {
  while (state.running) {
    await tandem.unsubscribe(await tandem.subscribe(['LOG_BATCH'], { key: 99n }));
    await tandem.call({ dropHandle: { handle: await tandem.subscribe(['LOG_BATCH'], { key: 99n }) } });
    await tandem.dropHandle(await tandem.subscribe(['LOG_BATCH'], { key: 99n }));
    await sleep(250);
  }
}

function fail(error) {
  state.running = false;
  $('status').textContent = 'failed';
  $('status').className = 'status failed';
  $('error').hidden = false;
  $('error').textContent = String(error?.stack ?? error);
  window.tandemDemo.error = String(error);
}

// The smallest step performance.now() takes here (browsers coarsen it: ~5 µs when isolated, 100 µs if not).
function timerStepNs() {
  let step = Infinity;
  for (let i = 0; i < 20; ++i) {
    const t0 = performance.now();
    let t1 = performance.now();
    while (t1 === t0) t1 = performance.now();
    step = Math.min(step, t1 - t0);
  }
  return step * 1e6;
}

async function main() {
  $('timer-step').textContent = formatNs(timerStepNs());
  $('isolation').textContent = crossOriginIsolated ? 'cross-origin isolated: fine timer' : 'not isolated: 100 µs timer';
  const tandem = await Tandem.start({
    coreUrl: '/core/tandem_core.mjs',
    options: { metricsReportIntervalMs: kReportIntervalMs, logLevel: 'INFO' },
  });
  window.tandemDemo.tandem = tandem;
  // Cumulative figures (no reset on report): counts only grow, and rates come from successive reports.
  await tandem.configureMetrics({ reportIntervalMs: kReportIntervalMs, resetOnReport: false });

  const metrics = await tandem.subscribe(['METRICS_REPORT']);
  const logs = await tandem.subscribe(['LOG_BATCH']);
  // Three views of the synthetic stream: everything, key 1 only (the rest counts as filtered), and a small
  // queue that cannot hold one burst: a paced generator publishes in ~10 ms steps (40 events at 4000/s), so a
  // 16-event queue overflows every step (its overflow counts as dropped).
  const synthetic = [
    await tandem.subscribe(['SYNTHETIC_EVENT'], { queueCapacity: 4096 }),
    await tandem.subscribe(['SYNTHETIC_EVENT'], { key: 1n }),
    await tandem.subscribe(['SYNTHETIC_EVENT'], { queueCapacity: 16, overflow: 'DROP_NEWEST' }),
  ];
  tandem.onEvent((e) => {
    if (e.subscription === metrics) renderReport(e.decode().metricsReport);
    else if (e.subscription === logs) renderLogs(e.decode().logBatch);
    else if (synthetic.includes(e.subscription)) state.pageEvents += 1;
  });

  $('status').textContent = 'running';
  $('status').className = 'status running';
  window.tandemDemo.started = true;
  await Promise.all([pingLoop(tandem), loadLoop(tandem), churnLoop(tandem)]);
}

// Plain numbers (no bigint) so the test can take them across the page boundary.
async function getMetrics() {
  const r = await window.tandemDemo.tandem.getMetrics();
  return {
    timeNs: Number(r.timeNs),
    histograms: r.histograms.map((h) => ({
      op: metricKey(h.name, h.label), count: Number(h.count), p50: Number(h.p50Ns), p99: Number(h.p99Ns),
      max: Number(h.maxNs),
    })),
    counters: r.counters.map((c) => ({ key: metricKey(c.name, c.label), value: Number(c.value) })),
    gauges: r.gauges.map((g) => ({ key: metricKey(g.name, g.label), value: Number(g.value) })),
  };
}

window.tandemDemo = { started: false, error: null, tandem: null, getMetrics, pingStats, reports: () => state.reports };
main().catch(fail);
