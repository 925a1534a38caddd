// Peers from JS (wasm/js/peer.mjs) under node: two cores in two worker_threads workers, one peer each on a
// virtual address. There are no sockets: this thread carries each peer's PEER_DATAGRAMS to the other's
// deliverDatagrams through a relay that can drop and reorder (seeded), and does the signalling (offer/answer,
// trickled candidates) as a web page would.
//
//   node --test tests/js/          (TANDEM_CORE_DIR=<dir of tandem_core.mjs>, default build/wasm/wasm)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { DataChannel, Tandem, TandemError } from '../../wasm/js/tandem.mjs';

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// Polls `predicate` (async allowed) every 10 ms until it holds; fails with `what` after `ms`.
async function eventually(predicate, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms: ${typeof what === 'function' ? what() : what}`);
    await sleep(10);
  }
}

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof TandemError, `expected a TandemError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

// mulberry32: a small seeded generator, so a lossy run drops by the same rule every time.
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Carries `from`'s datagrams to `to`: each is dropped with probability `loss`, or held back 10 ms with
// probability `reorder` (later ones overtake it). What leaves from an address arrives at it. The returned
// link's loss and reorder may be changed at any time.
function relay(from, to, { loss = 0, reorder = 0, seed = 1 } = {}) {
  const rng = random(seed);
  const stats = { loss, reorder, carried: 0, dropped: 0, reordered: 0, errors: [] };
  const deliver = (list) => {
    stats.carried += list.length;
    to.deliverDatagrams(list).catch((e) => { if (!to.isClosing) stats.errors.push(e); });
  };
  from.ondatagrams = (list) => {
    const now = [];
    for (const d of list) {
      if (rng() < stats.loss) {
        stats.dropped += 1;
        continue;
      }
      const datagram = { local: d.remote, remote: d.local, data: d.data };
      if (rng() < stats.reorder) {
        stats.reordered += 1;
        setTimeout(() => deliver([datagram]), 10);
        continue;
      }
      now.push(datagram);
    }
    if (now.length > 0) deliver(now);
  };
  return stats;
}

// Two peers joined by relays both ways, candidates trickled (null: end of candidates). Nothing is negotiated yet.
async function pair(a, b, { seeds = [11, 22], ...impairment } = {}) {
  const [pa, pb] = await Promise.all([
    a.createPeer({ localAddresses: ['10.0.0.1:5000'], iceCheckIntervalMs: 20 }),
    b.createPeer({ localAddresses: ['10.0.0.2:6000'], iceCheckIntervalMs: 20 }),
  ]);
  const links = {
    ab: relay(pa, pb, { ...impairment, seed: seeds[0] }),
    ba: relay(pb, pa, { ...impairment, seed: seeds[1] }),
  };
  const candidates = { a: [], b: [] };
  const errors = [];
  pa.onicecandidate = ({ candidate }) => {
    candidates.a.push(candidate);
    pb.addIceCandidate(candidate).catch((e) => errors.push(e));
  };
  pb.onicecandidate = ({ candidate }) => {
    candidates.b.push(candidate);
    pa.addIceCandidate(candidate).catch((e) => errors.push(e));
  };
  return { pa, pb, links, candidates, errors };
}

async function negotiate(pa, pb, beforeAnswer = async () => {}) {
  const offer = await pa.createOffer();
  await pa.setLocalDescription(offer);
  await pb.setRemoteDescription(offer);
  await beforeAnswer();
  const answer = await pb.createAnswer();
  await pb.setLocalDescription(answer);
  await pa.setRemoteDescription(answer);
}

// Remote channels by label, each with the messages it received and whether it opened / closed.
function collectChannels(peer) {
  const channels = new Map();
  peer.ondatachannel = ({ channel }) => {
    const c = { channel, messages: [], opened: false, closed: false };
    channel.onopen = () => { c.opened = true; };
    channel.onclose = () => { c.closed = true; };
    channel.onmessage = ({ data }) => c.messages.push(data);
    channels.set(channel.label, c);
  };
  return channels;
}

function bytes(size, seed) {
  const rng = random(seed);
  return Uint8Array.from({ length: size }, () => Math.floor(rng() * 256));
}

async function liveHandles(t) {
  const gauges = (await t.getMetrics()).gauges.filter((g) => g.name === 'handles_live');
  return Object.fromEntries(gauges.map((g) => [g.label.replace('type=', ''), Number(g.value)]));
}

function rms(pcmBytes) {
  const s = new Int16Array(pcmBytes.buffer.slice(pcmBytes.byteOffset, pcmBytes.byteOffset + pcmBytes.byteLength));
  let energy = 0;
  for (const v of s) energy += v * v;
  return Math.sqrt(energy / s.length);
}

describe('peers: two wasm cores, datagrams carried by a JS relay', () => {
  let a;
  let b;
  before(async () => { [a, b] = await Promise.all([Tandem.start(), Tandem.start()]); });
  after(async () => { await Promise.all([a?.dispose(), b?.dispose()]); });

  test('data channels both ways over 5% loss + reorder: strings, binary up to 256 KiB, unreliable, close', async () => {
    const baseline = await liveHandles(a);
    // Seeds chosen so that each direction loses one of its first handshake datagrams (the 4th a->b, the 5th
    // b->a): the connection has to recover from loss, not just be lucky.
    const { pa, pb, links, candidates, errors } = await pair(a, b, { loss: 0.05, reorder: 0.03, seeds: [6, 10] });
    const remoteA = collectChannels(pa);
    const remoteB = collectChannels(pb);
    const states = { a: [], b: [] };
    pa.onconnectionstatechange = () => states.a.push(pa.connectionState);
    pb.onconnectionstatechange = () => states.b.push(pb.connectionState);
    assert.equal(pa.handle >> 56n, 9n, 'a PEER_CONNECTION handle');
    assert.match(pa.fingerprint, /^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.deepEqual(pa.localAddresses, ['10.0.0.1:5000']);

    // Connect time: createOffer until both channels are open on both sides.
    const chat = await pa.createDataChannel('chat', { protocol: 'text' });
    assert.ok(chat instanceof DataChannel);
    assert.equal(chat.readyState, 'connecting');
    assert.equal(chat.id, null, 'no stream id before the DTLS role is known');
    const start = performance.now();
    let reply;
    await negotiate(pa, pb, async () => { reply = await pb.createDataChannel('reply'); });
    const open = () => chat.readyState === 'open' && reply.readyState === 'open' &&
      remoteA.get('reply')?.opened && remoteB.get('chat')?.opened;
    await eventually(open, 20000, () => `both channels open (a: ${states.a}, b: ${states.b})`);
    const connectMs = performance.now() - start;
    console.log(`connect time (createOffer -> both channels open on both sides, 5% loss + 3% reorder): ` +
      `${connectMs.toFixed(0)} ms; relay dropped ${links.ab.dropped + links.ba.dropped} of ` +
      `${links.ab.carried + links.ba.carried + links.ab.dropped + links.ba.dropped} datagrams so far`);
    assert.deepEqual([pa.connectionState, pb.connectionState], ['connected', 'connected']);
    assert.ok(['connected', 'completed'].includes(pa.iceConnectionState), pa.iceConnectionState);
    assert.equal(pa.dtlsState, 'connected');
    assert.ok(states.a.includes('connecting') && states.a.at(-1) === 'connected', String(states.a));
    assert.match(candidates.a[0].candidate, /^candidate:\S+ 1 udp \d+ 10\.0\.0\.1 5000 typ host/);
    assert.equal(candidates.a[0].sdpMid, '0');
    assert.equal(candidates.a.at(-1), null, 'end of candidates');
    assert.equal(pa.iceGatheringState, 'complete');
    assert.equal(pb.localDescription.type, 'answer');
    assert.match(pb.remoteDescription.sdp, /m=application/);
    const chatB = remoteB.get('chat');
    assert.equal(chatB.channel.protocol, 'text');
    assert.equal(chatB.channel.ordered, true);
    assert.equal(chatB.channel.maxRetransmits, null);
    // Stream ids: the DTLS client (the answerer, setup:active) takes even ones, the server odd ones.
    assert.equal(chatB.channel.id % 2, 1);
    assert.equal(remoteA.get('reply').channel.id % 2, 0);
    // The offerer's channel was created before the answer (no id then); its open event brought the id.
    assert.equal(chat.id, chatB.channel.id);
    assert.equal(reply.id, remoteA.get('reply').channel.id);

    // Messages both ways on the reliable channels: every one arrives, in order, intact.
    const outgoing = [
      'hello', '', 'héllo wörld, ünïcode ✓ 日本語 🎉',
      ...[0, 1, 1000, 16 * 1024, 64 * 1024, 256 * 1024].map((size) => bytes(size, size + 1)),
    ];
    const sends = [];
    for (const m of outgoing) sends.push(chat.send(m), reply.send(m));
    await Promise.all(sends);
    const replyA = remoteA.get('reply');
    await eventually(() => chatB.messages.length === outgoing.length && replyA.messages.length === outgoing.length,
      30000, () => `${outgoing.length} messages each way (have ${chatB.messages.length}, ${replyA.messages.length})`);
    for (const received of [chatB.messages, replyA.messages]) {
      outgoing.forEach((sent, i) => {
        if (typeof sent === 'string') {
          assert.equal(received[i], sent, `message ${i}`);
        } else {
          assert.ok(received[i] instanceof Uint8Array, `message ${i} is binary`);
          assert.equal(received[i].length, sent.length, `message ${i} size`);
          assert.ok(Buffer.from(received[i]).equals(Buffer.from(sent)), `message ${i} content`);
        }
      });
    }
    await rejectsWith(chat.send(new Uint8Array(256 * 1024 + 1)), 'INVALID_ARGUMENT');
    assert.throws(() => chat.send(42), TandemError);

    // An unordered channel without retransmissions, opened after the connection is up: what the relay
    // drops stays lost, the rest arrives intact and once.
    const lossy = await pa.createDataChannel('lossy', { ordered: false, maxRetransmits: 0 });
    await eventually(() => lossy.readyState === 'open' && remoteB.get('lossy')?.opened, 10000, 'lossy channel open');
    const lossyB = remoteB.get('lossy');
    assert.equal(lossyB.channel.ordered, false);
    assert.equal(lossyB.channel.maxRetransmits, 0);
    const count = 200;
    const unreliable = [];
    for (let i = 0; i < count; ++i) unreliable.push(lossy.send(`${i}:${'x'.repeat(900)}`));
    await Promise.all(unreliable);
    await sleep(1500);
    const got = lossyB.messages.map((m) => Number(m.split(':')[0]));
    assert.ok(lossyB.messages.every((m) => /^\d+:x{900}$/.test(m)), 'intact');
    assert.equal(new Set(got).size, got.length, 'no duplicates');
    assert.ok(got.length >= count * 0.8 && got.length < count,
      `maxRetransmits=0 over 5% loss: ${got.length} of ${count} arrived (some lost, most not)`);

    // bufferedAmount: 2 MiB in a burst is more than SCTP's 1 MiB send buffer, so the rest queues in the core;
    // bufferedamountlow fires when the queue drains to the threshold, and everything still arrives.
    let lows = 0;
    let amountAtLow = -1;
    chat.bufferedAmountLowThreshold = 64 * 1024;
    chat.onbufferedamountlow = () => { lows += 1; amountAtLow = chat.bufferedAmount; };
    const burst = Array.from({ length: 32 }, (_, i) => bytes(64 * 1024, 1000 + i));
    const before = chatB.messages.length;
    const amounts = await Promise.all(burst.map((m) => chat.send(m)));
    const most = Math.max(...amounts);
    assert.ok(most > 64 * 1024, `the core queued beyond SCTP: max bufferedAmount ${most}`);
    await eventually(() => lows > 0, 20000, 'bufferedamountlow');
    assert.ok(amountAtLow <= 64 * 1024, `bufferedAmount ${amountAtLow} at bufferedamountlow`);
    await eventually(() => chatB.messages.length === before + burst.length, 30000, 'the burst arrives');
    burst.forEach((m, i) => assert.ok(Buffer.from(chatB.messages[before + i]).equals(Buffer.from(m)), `burst ${i}`));
    // The queue is empty now; the core says so in its next answer (bufferedAmount is its last word).
    assert.equal(await chat.send('after the burst'), 0);
    assert.equal(chat.bufferedAmount, 0);

    // close() on one side: both ends see 'close'; sending on a closed channel is an error.
    let replyClosed = false;
    reply.onclose = () => { replyClosed = true; };
    await reply.close();
    await eventually(() => replyClosed && replyA.closed, 10000, 'reply closed on both sides');
    assert.equal(reply.readyState, 'closed');
    assert.equal(replyA.channel.readyState, 'closed');
    await rejectsWith(reply.send('too late'), 'INVALID_ARGUMENT');
    await rejectsWith(replyA.channel.send('too late'), 'INVALID_ARGUMENT');
    await chat.send('still open');
    await eventually(() => chatB.messages.at(-1) === 'still open', 5000, 'the other channel still works');

    const stats = await pa.getStats();
    assert.ok(stats.dc_messages_received >= outgoing.length, JSON.stringify(stats));
    assert.ok(stats.sctp_retransmitted_chunks > 0, 'the loss made SCTP retransmit');
    assert.deepEqual(errors, []);
    assert.deepEqual([...links.ab.errors, ...links.ba.errors], []);

    // peer.close(): its close_notify and SCTP ABORT reach b (b's channels close, DTLS closes); no events on
    // a's side afterwards; every handle a's peer held (and its subscriptions) is gone. Neither is retransmitted
    // (as in browsers, a lost one leaves the far end to notice by consent timeout), so the link is clean now.
    links.ab.loss = 0;
    links.ab.reorder = 0;
    let eventsAfterClose = 0;
    pa.onconnectionstatechange = () => { eventsAfterClose += 1; };
    chat.onclose = () => { eventsAfterClose += 1; };
    await pa.close();
    assert.equal(pa.connectionState, 'closed');
    assert.equal(chat.readyState, 'closed');
    await eventually(() => pb.dtlsState === 'closed' && chatB.closed && lossyB.closed, 10000,
      () => `b sees the close (dtls ${pb.dtlsState}, chat closed ${chatB.closed}, lossy closed ${lossyB.closed})`);
    assert.equal(eventsAfterClose, 0);
    assert.deepEqual(await liveHandles(a), baseline);
    await rejectsWith(pa.getStats(), 'STALE_HANDLE');
    await rejectsWith(chat.send('x'), 'STALE_HANDLE');
    await pa.close();  // idempotent
    await pb.close();
  });

  test('audio: the offerer\'s Opus track reaches the answerer through DTLS-SRTP', async () => {
    const { pa, pb } = await pair(a, b);
    const src = (await a.call({ createAudioSource: { session: pa.mediaSession, codec: 'OPUS' } })).createAudioSource;
    await pa.addTrack(src.source, 'mic');
    const tracks = [];
    pb.ontrack = (e) => tracks.push(e);
    await negotiate(pa, pb);
    assert.match(pa.localDescription.sdp, /a=rtpmap:111 opus\/48000\/2/);
    await eventually(() => pb.connectionState === 'connected' && tracks.length === 1, 20000, 'connected with a track');
    const { track, streams } = tracks[0];
    assert.equal(track.kind, 'audio');
    assert.equal(track.codec, 'opus');
    assert.equal(track.ssrc, src.ssrc);
    assert.equal(streams[0].id, 'mic');

    const stream = (await b.call({ createAudioStream: {
      session: pb.mediaSession, codec: 'OPUS', payloadType: track.payloadType, remoteSsrc: track.ssrc,
    } })).createAudioStream.stream;
    const sub = await b.subscribe(['AUDIO_FRAME'], { key: stream });
    const frames = [];
    const off = b.onEvent((e) => frames.push(e.decode().audioFrame), { subscription: sub });

    // 2 s of a 440 Hz tone, paced in real time (the core's clocks are real in the workers).
    let phase = 0;
    const startMs = performance.now();
    for (let i = 0; i < 100; ++i) {
      const wait = startMs + i * 20 - performance.now();
      if (wait > 0) await sleep(wait);
      const pcm = new Int16Array(960);
      for (let k = 0; k < pcm.length; ++k, ++phase) {
        pcm[k] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * phase) / 48000));
      }
      await a.call({ captureAudioFrame: { source: src.source, pcm: new Uint8Array(pcm.buffer) } });
    }
    // Every packet arrives (the link is clean). Unloaded, all 100 decode in time; on a busy machine this
    // thread (the relay) can stall long enough for some to miss their playout time, so fewer are required.
    const stats = async () => (await b.getMediaStats(stream)).stats;
    await eventually(async () => (await stats()).packets_received >= 100, 10000, 'all 100 packets');
    const decoded = () => frames.filter((f) => f.origin === 'DECODED');
    await eventually(() => decoded().length >= 30, 5000, () => `30 decoded frames (have ${decoded().length})`);
    const loud = decoded().filter((f) => rms(f.pcm) > 2000).length;
    assert.ok(loud >= 25, `the tone (RMS ~5600) came through in ${loud} of ${decoded().length} decoded frames`);
    const rx = await stats();
    assert.ok(rx.packets_lost === 0 && rx.decode_errors === 0, JSON.stringify(rx));
    assert.ok(frames.every((f) => f.stream === stream && f.sampleRate === 48000 && f.pcm.length === 1920));
    off();
    for (const h of [sub, stream]) await b.dropHandle(h);
    await a.dropHandle(src.source);
    await Promise.all([pa.close(), pb.close()]);
  });

  test('connect time without loss (fresh peers each time)', async () => {
    const times = [];
    for (let run = 0; run < 3; ++run) {
      const { pa, pb } = await pair(a, b);
      const chat = await pa.createDataChannel('chat');
      const remote = collectChannels(pb);
      const start = performance.now();
      await negotiate(pa, pb);
      await eventually(() => chat.readyState === 'open' && remote.get('chat')?.opened, 10000, 'open');
      times.push(performance.now() - start);
      await Promise.all([pa.close(), pb.close()]);
    }
    console.log(`connect time (createOffer -> channel open on both sides, no loss, 20 ms ICE pacing): ` +
      `${times.map((t) => t.toFixed(0)).join(', ')} ms`);
  });

  test('errors: bad arguments, bad SDP and out-of-order calls are TandemErrors with their codes', async () => {
    const baseline = await liveHandles(a);
    await rejectsWith(a.createPeer({ localAddresses: ['10.0.0.1'] }), 'INVALID_ARGUMENT');  // no port
    await rejectsWith(a.createPeer({}), 'INVALID_ARGUMENT');  // no addresses, no sockets
    await rejectsWith(a.createPeer({ usePlatformSockets: true }), 'INVALID_ARGUMENT');  // not in wasm
    const p = await a.createPeer({ localAddresses: ['10.0.0.1:5000'] });
    await rejectsWith(p.createAnswer(), 'INVALID_ARGUMENT');  // no remote offer
    await rejectsWith(p.setRemoteDescription({ type: 'offer', sdp: 'this is not SDP' }), 'MALFORMED_PACKET');
    await rejectsWith(p.setRemoteDescription({ type: 'pranswer', sdp: 'v=0' }), 'INVALID_ARGUMENT');
    await rejectsWith(p.addIceCandidate({ candidate: 'candidate:garbage' }), 'MALFORMED_PACKET');
    await rejectsWith(p.createDataChannel('both', { maxRetransmits: 1, maxPacketLifeTime: 100 }), 'INVALID_ARGUMENT');
    await rejectsWith(p.addTrack(p.handle), 'INVALID_ARGUMENT');  // not a source
    const early = await p.createDataChannel('early');
    await rejectsWith(early.send('not open yet'), 'INVALID_ARGUMENT');
    const garbage = { local: '10.0.0.1:5000', remote: '10.0.0.9:1', data: new Uint8Array([1, 2]) };
    const result = await p.deliverDatagrams([garbage]);
    assert.deepEqual(result, { accepted: 0, rejected: 1 });
    await p.close();
    await rejectsWith(p.createOffer(), 'STALE_HANDLE');
    assert.deepEqual(await liveHandles(a), baseline, 'failed and closed peers leave no handle behind');
  });
});
