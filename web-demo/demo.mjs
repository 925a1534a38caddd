// The web demo: two wasm cores in two workers (a sender and a receiver) whose media sessions are joined by a
// MessageChannel, so SRTP datagrams go worker to worker (media.mjs). The page captures a synthetic tone and
// test pattern into the sender, draws what the receiver decodes, polls get_media_stats, and renders both
// cores' METRICS_REPORTs as a live overlay (the media pipeline's stages side by side, then each core's
// operations, handles and event bus). The event-bus load generator of the first demo is still there, off by
// default. window.tandemDemo is the hook the browser test drives.
import { Tandem } from '/wasm/js/tandem.mjs';

import { MediaLink, i420ToRgba, rmsDbfs, samplesOf } from '/media.mjs';

const kReportIntervalMs = 1000;
const kPingSamples = 2000;  // the ping figures cover this many latest round trips
// The media pipeline's histograms (core/media/pipeline/media_metrics.h) in the order media passes them.
const kPipeline = [
  ['capture_audio_frame', ''], ['capture_video_frame', ''], ['encode', 'audio'], ['encode', 'video'],
  ['e2ee_encrypt', ''], ['packetize', 'audio'], ['packetize', 'video'], ['srtp_protect', ''],
  ['srtp_unprotect', ''], ['rtp_parse', ''], ['jitter_wait', 'audio'], ['jitter_wait', 'video'],
  ['e2ee_decrypt', ''], ['decode', 'audio'], ['decode', 'video'], ['forward_audio_frame', ''],
  ['forward_video_frame', ''],
];

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

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// ---- State

const state = {
  running: true,
  rtts: new Float64Array(kPingSamples),
  pings: 0,
  load: { running: false, subscriptions: null, generator: null, runs: 0, pageEvents: 0, loops: null },
  stats: null,          // the latest get_media_stats poll
  rebuilding: false,
};

const media = {
  videoFrames: 0, videoDrawn: 0, latestVideo: null, fps: 0, width: 0, height: 0,
  audioFrames: 0, origins: { DECODED: 0, FEC: 0, CONCEALED: 0 }, power: null, levelDb: -Infinity, lastPcm: null,
};

// ---- One core's part of the overlay

class CoreView {
  constructor(name, tandem) {
    this.name = name;
    this.tandem = tandem;
    this.reports = 0;
    this.previous = null;  // {timeNs, counts: Map(op -> count)} of the last report, for rates
    this.last = null;      // the last MetricsReport
  }

  render(report) {
    this.reports += 1;
    this.#operations(report);
    const counter = (name, label = '') =>
      report.counters.find((c) => c.name === name && c.label === label)?.value ?? 0n;
    const gauges = report.gauges.filter((g) => g.name === 'handles_live' && g.label !== 'type=unspecified');
    renderTable(`handles-${this.name}`, gauges.map((g) =>
      [metricKey(g.name, g.label), g.label.replace(/^type=/, ''), g.value]));
    const dropped = report.counters.filter((c) => c.name === 'event_bus_dropped');
    const subscriptions = report.gauges.find((g) => g.name === 'event_bus_subscriptions')?.value ?? 0n;
    renderTable(`bus-${this.name}`, [
      ['event_bus_published', 'published', counter('event_bus_published')],
      ['event_bus_delivered', 'delivered', counter('event_bus_delivered')],
      ['event_bus_filtered', 'filtered', counter('event_bus_filtered')],
      ['event_bus_unmatched', 'unmatched', counter('event_bus_unmatched')],
      ...dropped.map((c) => [metricKey(c.name, c.label), `dropped (${c.label.replace(/^policy=/, '')})`, c.value]),
      ['event_bus_subscriptions', 'subscriptions', subscriptions],
    ]);
    $(`reports-${this.name}`).textContent = formatCount(this.reports);
    $(`clock-${this.name}`).textContent = formatNs(report.timeNs);
    $(`errors-${this.name}`).textContent = formatCount(counter('ffi_request_errors'));
    this.last = report;
  }

  #operations(report) {
    const seconds = this.previous ? Number(report.timeNs - this.previous.timeNs) / 1e9
      : Number(report.intervalNs) / 1e9;
    const counts = new Map();
    const rows = [];
    const histograms = [...report.histograms].sort((a, b) =>
      a.name.localeCompare(b.name) || a.label.localeCompare(b.label));
    for (const h of histograms) {
      const op = metricKey(h.name, h.label);
      counts.set(op, h.count);
      if (h.count === 0n) continue;  // an operation appears once it has happened
      const before = this.previous?.counts.get(op) ?? 0n;
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
    $(`ops-${this.name}`).replaceChildren(...rows);
    this.previous = { timeNs: report.timeNs, counts };
  }
}

function renderTable(tbodyId, entries) {
  $(tbodyId).replaceChildren(...entries.map(([key, label, value, shown]) => {
    const tr = el('tr', undefined, { 'data-key': key, 'data-value': String(value) });
    tr.append(el('td', label), el('td', shown ?? formatCount(value)));
    return tr;
  }));
}

// The pipeline table: each stage's count and latency on both cores (stages a core never ran show "—").
function renderPipeline(views) {
  $('pipeline').replaceChildren(...kPipeline.map(([name, label]) => {
    const op = metricKey(name, label);
    const tr = el('tr', undefined, { 'data-op': op });
    const cell = el('td', name);
    if (label) cell.append(' ', el('span', label, { class: 'label' }));
    tr.append(cell);
    for (const view of views) {
      const h = view.last?.histograms.find((x) => x.name === name && x.label === label);
      const ran = h !== undefined && h.count > 0n;
      tr.dataset[`${view.name}Count`] = String(ran ? h.count : 0n);
      tr.dataset[`${view.name}P50`] = String(ran ? h.p50Ns : 0n);
      tr.append(el('td', ran ? formatCount(h.count) : '—'), el('td', ran ? formatNs(h.p50Ns) : ''),
        el('td', ran ? formatNs(h.p99Ns) : ''));
    }
    return tr;
  }));
}

function renderLogs(core, batch) {
  const log = $('log');
  for (const r of batch.records) {
    const li = el('li');
    li.append(el('span', core, { class: 'core-tag' }), el('span', r.level, { class: `lvl lvl-${r.level}` }),
      el('span', r.target, { class: 'target' }), ` ${r.message}`);
    log.append(li);
  }
  while (log.children.length > 8) log.firstElementChild.remove();
}

// ---- Receiver output: video canvas, level meter, waveform

function onVideoFrame(event) {
  media.videoFrames += 1;
  media.latestVideo = event;  // decoded and drawn on the next animation frame; older ones are skipped
}

function onAudioFrame(event) {
  const f = event.decode().audioFrame;
  media.audioFrames += 1;
  media.origins[f.origin] = (media.origins[f.origin] ?? 0) + 1;
  // Mean power smoothed over ~5 frames (100 ms), so the meter reads like one.
  const samples = samplesOf(f.pcm);
  const power = 10 ** (rmsDbfs(samples) / 10);
  media.power = media.power === null ? power : 0.8 * media.power + 0.2 * power;
  media.levelDb = 10 * Math.log10(media.power);
  media.lastPcm = samples;
}

let image = null;
function draw() {
  if (!state.running) return;
  const event = media.latestVideo;
  if (event !== null) {
    media.latestVideo = null;
    const f = event.decode().videoFrame;
    const canvas = $('video');
    if (image === null || image.width !== f.width || image.height !== f.height) {
      canvas.width = f.width;
      canvas.height = f.height;
      image = new ImageData(f.width, f.height);
      media.width = f.width;
      media.height = f.height;
    }
    i420ToRgba(f.i420, f.width, f.height, image.data);
    canvas.getContext('2d').putImageData(image, 0, 0);
    media.videoDrawn += 1;
  }
  if (media.lastPcm !== null) drawWave(media.lastPcm);
  const db = media.levelDb;
  $('meter-fill').style.width = `${Math.max(0, Math.min(100, ((db + 60) / 60) * 100))}%`;
  $('level').textContent = Number.isFinite(db) ? db.toFixed(1) : '−∞';
  $('video-frames').textContent = formatCount(media.videoFrames);
  $('video-drawn').textContent = formatCount(media.videoDrawn);
  $('audio-frames').textContent = formatCount(media.audioFrames);
  const o = media.origins;
  $('audio-origins').textContent = `${formatCount(o.DECODED)} · ${formatCount(o.FEC)} · ${formatCount(o.CONCEALED)}`;
  requestAnimationFrame(draw);
}

function drawWave(samples) {
  const canvas = $('wave');
  const ctx = canvas.getContext('2d');
  const { width, height } = canvas;
  ctx.fillStyle = '#10141a';
  ctx.fillRect(0, 0, width, height);
  ctx.strokeStyle = '#6cc4ff';
  ctx.beginPath();
  for (let x = 0; x < width; ++x) {
    const s = samples[Math.floor((x * samples.length) / width)];
    const y = height / 2 - (s / 32768) * (height / 2);
    if (x === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  }
  ctx.stroke();
}

// ---- Media stats panel

function renderStats(s) {
  const num = (v) => v ?? 0;
  const ms = (v) => (v === undefined ? '—' : `${v.toFixed(1)} ms`);
  const { audioStream: as, videoStream: vs, audioSource: asrc, videoSource: vsrc, sessionTx: tx, sessionRx: rx } = s;
  renderTable('stats-rx', [
    ['audio_packets_received', 'audio packets', num(as.packets_received)],
    ['video_packets_received', 'video packets', num(vs.packets_received)],
    ['audio_frames_decoded', 'audio frames decoded', num(as.frames_decoded)],
    ['video_frames_decoded', 'video frames decoded', num(vs.frames_decoded)],
    ['audio_jitter_ms', 'jitter (audio)', num(as.jitter_ms), ms(as.jitter_ms)],
    ['audio_playout_delay_ms', 'playout delay (audio)', num(as.playout_delay_ms), ms(as.playout_delay_ms)],
    ['rtt_ms_sender', 'RTT seen by the sender', num(tx.rtt_ms), ms(tx.rtt_ms)],
    ['rtt_ms_receiver', 'RTT seen by the receiver', num(rx.rtt_ms), ms(rx.rtt_ms)],
  ]);
  const lost = num(tx.impairment_dropped) + num(rx.impairment_dropped);
  renderTable('stats-repair', [
    ['impairment_dropped', 'datagrams lost on the "network"', lost],
    ['audio_packets_lost', 'audio packets lost', num(as.packets_lost)],
    ['nacks_sent', 'NACKs sent (audio + video)', num(as.nacks_sent) + num(vs.nacks_sent)],
    ['nacks_received', 'NACKs received (video)', num(vsrc.nacks_received)],
    ['retransmissions', 'retransmissions', num(asrc.retransmissions) + num(vsrc.retransmissions)],
    ['plis', 'PLIs requested · received', num(vs.plis_requested),
      `${formatCount(num(vs.plis_requested))} · ${formatCount(num(vsrc.plis_received))}`],
    ['audio_concealed', 'audio frames concealed', num(as.frames_concealed)],
    ['audio_fec', 'audio frames from FEC', num(as.frames_fec)],
    ['video_frames_dropped', 'video frames dropped', num(vs.frames_dropped)],
    ['late_packets', 'late packets (audio + video)', num(as.late) + num(vs.late)],
  ]);
  renderTable('stats-tx', [
    ['audio_frames_sent', 'audio frames sent', num(asrc.frames_sent)],
    ['video_frames_sent', 'video frames sent', num(vsrc.frames_sent)],
    ['keyframes_sent', 'keyframes sent', num(vsrc.keyframes_sent)],
    ['packets_sent', 'RTP packets sent', num(asrc.packets_sent) + num(vsrc.packets_sent)],
    ['source_frames_dropped', 'frames dropped at the source', num(asrc.frames_dropped) + num(vsrc.frames_dropped)],
    ['rtcp_sent', 'RTCP sent (sender · receiver)', num(tx.rtcp_sent),
      `${formatCount(num(tx.rtcp_sent))} · ${formatCount(num(rx.rtcp_sent))}`],
  ]);
  $('port-forward').textContent = formatCount(s.portTx.datagramsSent);
  $('port-back').textContent = formatCount(s.portRx.datagramsSent);
  const raw = Object.entries(s).map(([object, values]) => {
    const card = el('div', undefined, { class: 'card' });
    const body = el('tbody');
    for (const [k, v] of Object.entries(values)) {
      const tr = el('tr');
      tr.append(el('td', k), el('td', Number.isInteger(v) ? formatCount(v) : v.toFixed(3)));
      body.append(tr);
    }
    const table = el('table', undefined, { class: 'compact' });
    table.append(body);
    card.append(el('h2', object), table);
    return card;
  });
  $('stats-raw').replaceChildren(...raw);
}

async function statsLoop(link) {
  let frames = media.videoFrames;
  while (state.running) {
    await sleep(1000);
    media.fps = media.videoFrames - frames;
    frames = media.videoFrames;
    $('video-fps').textContent = `${media.fps} /s`;
    const e2ee = link.e2ee ? ' · E2EE' : '';
    $('video-info').textContent = media.width ? `${media.width}×${media.height} VP8${e2ee}` : '—';
    $('cap-audio').textContent = formatCount(link.captured.audio);
    $('cap-video').textContent = formatCount(link.captured.video);
    $('cap-skipped').textContent = `${formatCount(link.captured.audioSkipped)} audio · ` +
      `${formatCount(link.captured.videoSkipped)} video`;
    const s = await link.stats();
    if (s === null) continue;
    state.stats = s;
    renderStats(s);
  }
}

// ---- Ping and the event-bus load (sender core)

function pingStats() {
  const n = Math.min(state.pings, kPingSamples);
  if (n === 0) return { count: 0 };
  const sorted = state.rtts.slice(0, n).sort();
  const at = (q) => sorted[Math.min(n - 1, Math.floor(q * n))];
  return { count: state.pings, p50Ns: at(0.5), p99Ns: at(0.99), maxNs: sorted[n - 1] };
}

async function pingLoop(tandem) {
  while (state.running) {
    for (let i = 0; i < 20; ++i) {
      const { rttNs } = await tandem.ping();
      state.rtts[state.pings % kPingSamples] = rttNs;
      state.pings += 1;
    }
    const s = pingStats();
    $('ping-p50').textContent = formatNs(s.p50Ns);
    $('ping-p99').textContent = formatNs(s.p99Ns);
    $('ping-max').textContent = formatNs(s.maxNs);
    $('ping-count').textContent = formatCount(s.count);
    $('ping-card').dataset.p50 = String(Math.round(s.p50Ns));
    $('ping-card').dataset.count = String(s.count);
    await sleep(250);
  }
}

// Synthetic events on keys 1..4 with handle churn, paced, one run after another, while the box is ticked.
async function loadLoop(tandem) {
  while (state.running && state.load.running) {
    const run = await tandem.loadGenerator({
      events: 4000, keys: [1n, 2n, 3n, 4n], payloadBytes: 64, eventsPerSecond: 4000, handleChurn: 1000, batch: 200,
    });
    state.load.generator = run.generator;
    await run.completion;
    state.load.generator = null;
    state.load.runs += 1;
    $('load-runs').textContent = formatCount(state.load.runs);
    $('page-events').textContent = formatCount(state.load.pageEvents);
  }
}

// Handles created and dropped through the API: unsubscribe, drop_handle as a request, and the direct call.
async function churnLoop(tandem) {
  while (state.running && state.load.running) {
    await tandem.unsubscribe(await tandem.subscribe(['LOG_BATCH'], { key: 99n }));
    await tandem.call({ dropHandle: { handle: await tandem.subscribe(['LOG_BATCH'], { key: 99n }) } });
    await tandem.dropHandle(await tandem.subscribe(['LOG_BATCH'], { key: 99n }));
    await sleep(250);
  }
}

async function setLoad(tandem, on) {
  $('load').checked = on;
  if (on === state.load.running) return;
  state.load.running = on;
  if (!on) {
    const g = state.load.generator;
    if (g !== null) await tandem.dropHandle(g).catch(() => {});  // stops the run early; its loop then ends
    await state.load.loops;
    return;
  }
  // Three views of the synthetic stream: everything, key 1 only (the rest counts as filtered), and a small
  // queue that cannot hold one burst: a paced generator publishes in ~10 ms steps (40 events at 4000/s), so a
  // 16-event queue overflows every step (its overflow counts as dropped).
  if (state.load.subscriptions === null) {
    state.load.subscriptions = [
      await tandem.subscribe(['SYNTHETIC_EVENT'], { queueCapacity: 4096 }),
      await tandem.subscribe(['SYNTHETIC_EVENT'], { key: 1n }),
      await tandem.subscribe(['SYNTHETIC_EVENT'], { queueCapacity: 16, overflow: 'DROP_NEWEST' }),
    ];
    tandem.onEvent((e) => {
      if (state.load.subscriptions.includes(e.subscription)) state.load.pageEvents += 1;
    });
  }
  state.load.loops = Promise.all([loadLoop(tandem), churnLoop(tandem)]).catch(fail);
}

// ---- Start-up

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

async function startCore(name) {
  const tandem = await Tandem.start({
    coreUrl: '/core/tandem_core.mjs',
    options: { metricsReportIntervalMs: kReportIntervalMs, logLevel: 'INFO' },
  });
  // Cumulative figures (no reset on report): counts only grow, and rates come from successive reports.
  await tandem.configureMetrics({ reportIntervalMs: kReportIntervalMs, resetOnReport: false });
  return new CoreView(name, tandem);
}

function wireControls(link, sender) {
  const impairment = () => {
    const lossPercent = Number($('loss').value);
    const jitterMs = Number($('jitter').value);
    $('loss-value').textContent = `${lossPercent} %`;
    $('jitter-value').textContent = `${jitterMs} ms`;
    link.setImpairment({ lossPercent, jitterMs });
  };
  $('loss').addEventListener('input', impairment);
  $('jitter').addEventListener('input', impairment);
  $('e2ee').addEventListener('change', async () => {
    const box = $('e2ee');
    box.disabled = true;
    state.rebuilding = true;
    try {
      await link.build({ e2ee: box.checked });
    } catch (e) {
      fail(e);
    } finally {
      state.rebuilding = false;
      box.disabled = false;
    }
  });
  $('load').addEventListener('change', () => setLoad(sender, $('load').checked).catch(fail));
}

async function main() {
  $('timer-step').textContent = formatNs(timerStepNs());
  $('isolation').textContent =
    crossOriginIsolated ? 'cross-origin isolated: fine timer' : 'not isolated: 100 µs timer';
  const views = await Promise.all([startCore('sender'), startCore('receiver')]);
  const [sender, receiver] = views.map((v) => v.tandem);
  Object.assign(window.tandemDemo, { sender, receiver, views });
  for (const view of views) {
    const metrics = await view.tandem.subscribe(['METRICS_REPORT']);
    const logs = await view.tandem.subscribe(['LOG_BATCH']);
    view.tandem.onEvent((e) => {
      if (e.subscription === metrics) {
        view.render(e.decode().metricsReport);
        renderPipeline(views);
      } else if (e.subscription === logs) {
        renderLogs(view.name, e.decode().logBatch);
      }
    });
  }

  const link = new MediaLink(sender, receiver, { onAudioFrame, onVideoFrame, onError: fail });
  window.tandemDemo.link = link;
  await link.start();
  wireControls(link, sender);

  $('status').textContent = 'running';
  $('status').className = 'status running';
  window.tandemDemo.started = true;
  requestAnimationFrame(draw);
  if (new URLSearchParams(location.search).has('load')) await setLoad(sender, true);
  await Promise.all([pingLoop(sender), statsLoop(link)]);
}

// ---- The test hook. Plain numbers (no bigint) so the test can take them across the page boundary.

async function getMetrics(core = 'sender') {
  const r = await window.tandemDemo[core].getMetrics();
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

window.tandemDemo = {
  started: false,
  error: null,
  sender: null,
  receiver: null,
  getMetrics,
  pingStats,
  reports: (core = 'sender') => window.tandemDemo.views?.find((v) => v.name === core)?.reports ?? 0,
  media: () => ({
    videoFrames: media.videoFrames, videoDrawn: media.videoDrawn, fps: media.fps, width: media.width,
    height: media.height, audioFrames: media.audioFrames, origins: { ...media.origins }, levelDb: media.levelDb,
    captured: { ...window.tandemDemo.link?.captured }, e2ee: window.tandemDemo.link?.e2ee ?? false,
    rebuilding: state.rebuilding, impairment: window.tandemDemo.link?.appliedImpairment ?? null,
  }),
  mediaStats: () => state.stats,
  loadRuns: () => state.load.runs,
};
main().catch(fail);
