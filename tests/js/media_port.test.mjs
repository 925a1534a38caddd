// Tandem.connectMediaPort under node: two cores in two worker_threads workers, their media sessions joined by
// the two ports of one MessageChannel, so datagrams go worker to worker; the test thread only captures frames
// and watches what comes out of the receiving core.
//
//   node --test tests/js/          (TANDEM_CORE_DIR=<dir of tandem_core.mjs>, default build/wasm/wasm)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { kFields } from '../../wasm/js/media_port.mjs';
import { Tandem, TandemError, loadProto } from '../../wasm/js/tandem.mjs';

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// Polls `predicate` (async allowed) every 50 ms until it holds; fails with `what` after `ms`.
async function eventually(predicate, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms: ${what}`);
    await sleep(50);
  }
}

const keyBytes = (seed, n) => Uint8Array.from({ length: n }, (_, i) => (seed * 13 + i * 7) & 0xff);

// Mirrored SRTP keys: what one side sends with, the other verifies with.
async function createSession(t, local, remote, extra = {}) {
  const r = await t.call({
    createMediaSession: {
      localKey: keyBytes(local, 16), localSalt: keyBytes(local + 10, 14),
      remoteKey: keyBytes(remote, 16), remoteSalt: keyBytes(remote + 10, 14), rtcpIntervalMs: 200, ...extra,
    },
  });
  return r.createMediaSession.session;
}

// 20 ms of a 440 Hz tone, 48 kHz mono s16le, continuing from `state.phase`.
function tone(state) {
  const pcm = new Int16Array(960);
  for (let i = 0; i < pcm.length; ++i, ++state.phase) {
    pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * state.phase) / 48000));
  }
  return new Uint8Array(pcm.buffer);
}

function rms(pcmBytes) {
  const s = new Int16Array(pcmBytes.buffer.slice(pcmBytes.byteOffset, pcmBytes.byteOffset + pcmBytes.byteLength));
  let energy = 0;
  for (const v of s) energy += v * v;
  return Math.sqrt(energy / s.length);
}

function testPattern(w, h, frame) {
  const i420 = new Uint8Array(w * h + 2 * ((w + 1) >> 1) * ((h + 1) >> 1)).fill(128);
  for (let y = 0; y < h; ++y) for (let x = 0; x < w; ++x) i420[y * w + x] = (x + y + 4 * frame) & 0xff;
  return i420;
}

// Calls `capture(i)` for i = 0..count-1, one every `periodMs` of wall time (catching up if the loop is late).
async function paced(count, periodMs, capture) {
  const start = performance.now();
  for (let i = 0; i < count; ++i) {
    const wait = start + i * periodMs - performance.now();
    if (wait > 0) await sleep(wait);
    await capture(i);
  }
}

test('the worker\'s hand-written wire code numbers its fields as proto/tandem.proto does', async () => {
  const { root } = await loadProto();
  for (const [path, id] of Object.entries(kFields)) {
    const [message, field] = path.split('.');
    const camel = field.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
    assert.equal(root.lookupType(`tandem.api.${message}`).fields[camel]?.id, id, path);
  }
  assert.equal(kFields['MediaPacketsEvent.packets'], kFields['DeliverMediaPacketsRequest.packets']);
});

describe('connectMediaPort (two node workers, one MessageChannel)', () => {
  let a;
  let b;
  before(async () => { [a, b] = await Promise.all([Tandem.start(), Tandem.start()]); });
  after(async () => { await Promise.all([a?.dispose(), b?.dispose()]); });

  test('audio goes from a source on one core to a stream on the other; datagrams bypass this thread', async () => {
    const sa = await createSession(a, 1, 2);
    const sb = await createSession(b, 2, 1);
    // Anything reaching this thread is counted: MEDIA_PACKETS must not (they go through the port).
    const onThisThread = { a: 0, b: 0 };
    const offA = a.onEvent((e) => { if (e.decode().message === 'mediaPackets') onThisThread.a += 1; });
    const offB = b.onEvent((e) => { if (e.decode().message === 'mediaPackets') onThisThread.b += 1; });

    const channel = new MessageChannel();
    const pa = await a.connectMediaPort(sa, channel.port1);
    const pb = await b.connectMediaPort(sb, channel.port2);
    assert.equal(pa.session, sa);
    assert.equal(pa.subscription >> 56n, 1n, 'the route is a SUBSCRIPTION handle');

    const src = (await a.call({ createAudioSource: { session: sa, codec: 'OPUS' } })).createAudioSource;
    const stream = (await b.call({ createAudioStream: { session: sb, codec: 'OPUS', remoteSsrc: src.ssrc } }))
      .createAudioStream.stream;
    const sub = await b.subscribe(['AUDIO_FRAME'], { key: stream });
    const frames = [];
    b.onEvent((e) => frames.push(e.decode().audioFrame), { subscription: sub });

    // 2 s of audio. The first few hundred ms may be concealed while the workers warm up (the first encodes
    // and decodes run before wasm tiers up, so early packets can arrive after their playout time).
    const state = { phase: 0 };
    await paced(100, 20, () => a.call({ captureAudioFrame: { source: src.source, pcm: tone(state) } }));
    const decoded = () => frames.filter((f) => f.origin === 'DECODED');
    await eventually(() => decoded().length >= 60, 10000, `60 decoded frames (have ${decoded().length})`);
    const loud = decoded().filter((f) => rms(f.pcm) > 2000).length;
    assert.ok(loud >= 50, `the tone (RMS ~5600) came through in ${loud} of ${decoded().length} frames`);
    assert.ok(frames.every((f) => f.stream === stream && f.sampleRate === 48000 && f.pcm.length === 1920));

    // RTCP flows back the other way (200 ms interval) through the same channel.
    await eventually(async () => (await pa.stats()).datagramsAccepted > 0, 5000, 'RTCP from b reaches a');
    const [ta, tb] = [await pa.stats(), await pb.stats()];
    assert.ok(ta.datagramsSent >= 100, `a sent ${ta.datagramsSent} datagrams through the port`);
    assert.ok(tb.datagramsAccepted >= 100 && tb.datagramsRejected === 0 && tb.deliverErrors === 0,
      JSON.stringify(tb));
    assert.ok(tb.datagramsSent > 0, 'b sent RTCP through the port');
    const rx = (await b.getMediaStats(stream)).stats;
    assert.ok(rx.packets_received >= 100 && rx.packets_lost === 0, JSON.stringify(rx));
    const session = (await a.getMediaStats(sa)).stats;
    assert.ok(session.rtcp_received > 0, `a's session verified ${session.rtcp_received} RTCP packets`);
    assert.deepEqual(onThisThread, { a: 0, b: 0 }, 'no MEDIA_PACKETS event reached the test thread');

    // close(): the subscription is dropped and nothing more crosses.
    const finalA = await pa.close();
    assert.ok(finalA.datagramsSent >= ta.datagramsSent);
    await assert.rejects(a.dropHandle(pa.subscription), (e) => e instanceof TandemError && e.code === 'STALE_HANDLE');
    await pb.close();
    assert.deepEqual(await pa.close(), finalA, 'close() is idempotent');
    const before = (await b.getMediaStats(stream)).stats.packets_received;
    await paced(5, 20, () => a.call({ captureAudioFrame: { source: src.source, pcm: tone(state) } }));
    await sleep(200);
    assert.equal((await b.getMediaStats(stream)).stats.packets_received, before);
    offA();
    offB();
    for (const h of [sub, stream]) await b.dropHandle(h);
    await a.dropHandle(src.source);
    await a.dropHandle(sa);
    await b.dropHandle(sb);
  });

  test('video through a lossy session: NACKs go back through the port and frames keep arriving', async () => {
    const impairment = { loss: 0.1, seed: 7 };
    const sa = await createSession(a, 3, 4, { outboundImpairment: impairment });
    const sb = await createSession(b, 4, 3);
    const channel = new MessageChannel();
    const pa = await a.connectMediaPort(sa, channel.port1);
    const pb = await b.connectMediaPort(sb, channel.port2);
    const src = (await a.call({ createVideoSource: { session: sa, bitrateKbps: 300 } })).createVideoSource;
    const stream = (await b.call({ createVideoStream: { session: sb, remoteSsrc: src.ssrc } }))
      .createVideoStream.stream;
    const sub = await b.subscribe(['VIDEO_FRAME'], { key: stream });
    const frames = [];
    b.onEvent((e) => frames.push(e.decode().videoFrame), { subscription: sub });

    await paced(60, 33, (i) => a.call({ captureVideoFrame: { source: src.source, width: 160, height: 120,
      i420: testPattern(160, 120, i) } }));
    await eventually(() => frames.length >= 30, 10000, `30 video frames (have ${frames.length})`);
    assert.ok(frames.every((f) => f.width === 160 && f.height === 120 && f.i420.length === 160 * 120 * 3 / 2));
    await eventually(async () => (await a.getMediaStats(src.source)).stats.retransmissions > 0, 5000,
      'retransmissions answer the NACKs');
    const rx = (await b.getMediaStats(stream)).stats;
    assert.ok(rx.nacks_sent > 0, `the stream asked for ${rx.nacks_sent} lost packets`);
    const tx = (await a.getMediaStats(sa)).stats;
    assert.ok(tx.impairment_dropped > 0, `the impairment dropped ${tx.impairment_dropped} datagrams`);
    await Promise.all([pa.close(), pb.close()]);
    for (const h of [sub, stream, sb]) await b.dropHandle(h);
    for (const h of [src.source, sa]) await a.dropHandle(h);
  });

  test('only a live MEDIA_SESSION can be connected', async () => {
    const isError = (code) => (e) => e instanceof TandemError && e.code === code;
    const sub = await a.subscribe(['LOG_BATCH']);
    await assert.rejects(a.connectMediaPort(sub, new MessageChannel().port1), isError('WRONG_HANDLE_TYPE'));
    await assert.rejects(a.connectMediaPort(0n, new MessageChannel().port1), isError('NULL_HANDLE'));
    const s = await createSession(a, 5, 6);
    await a.dropHandle(s);
    await assert.rejects(a.connectMediaPort(s, new MessageChannel().port1), isError('STALE_HANDLE'));
    await a.dropHandle(sub);
    // The rest of the API is untouched by all this.
    assert.ok((await a.ping()).rttNs > 0);
  });
});
