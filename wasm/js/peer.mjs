// Peer connections from JS (proto/peer.proto), shaped like the browser's RTCPeerConnection / RTCDataChannel
// so that WebRTC code reads the same, but honest about what runs underneath: tandem's own ICE (host
// candidates only), DTLS-SRTP and SCTP in the wasm core, with datagrams the application carries itself. There
// are no UDP sockets in wasm: what a peer wants sent arrives at `ondatagrams(list)`, and what arrives for it
// goes in with `deliverDatagrams(list)`.
//
// Events: each peer has two subscriptions keyed by its PEER_CONNECTION handle (PEER_EVENT, PEER_DATAGRAMS),
// so the core never copies another peer's events for it. Channel events (DATA_CHANNEL_STATE / _MESSAGE) are
// keyed by the DATA_CHANNEL handle, and a channel the remote side opens gets its handle inside the core, in
// the same runtime task that may already publish its first messages: a keyed subscription made after we hear
// of the handle would miss them. So each Tandem holds one unkeyed subscription per channel event kind, shared
// by all its peers and routed here by the event's key (a map lookup, before any decoding). Events that
// overtake the PEER_EVENT announcing their channel (the core drains subscribers round robin) wait in a small
// bounded buffer until it arrives.
//
// Threading: everything runs on the caller's thread; handlers are called from Tandem's event delivery.
import { kMessage, kState, routerOf } from './peer_router.mjs';
import { TandemError, quiet } from './tandem.mjs';

const kInvalidArgument = 3;
const kProtocolError = 15;
const kDatagramQueue = 4096;  // events, not datagrams: one PEER_DATAGRAMS event per runtime task and peer
const kNoStreamId = 65535;
const kCloseWaitMs = 2000;

// The proto's state names without their prefix, lower case: ICE_CHECKING -> 'checking' (as in browsers).
const stateName = (protoName) => protoName?.replace(/^[A-Z]+_/, '').toLowerCase();
const kSdpTypes = { offer: 'OFFER', answer: 'ANSWER' };

// Module-private entry points of the classes below (users see only the documented surface).
const kCreate = Symbol('create');
const kStart = Symbol('start');
const kAbandon = Symbol('abandon');

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

// Calls the `on<type>` handler, then the addEventListener ones. A throwing handler is reported as uncaught
// without stopping delivery (as in browsers).
function fire(target, type, fields) {
  const event = new Event(type);
  Object.assign(event, fields);
  const handler = target[`on${type}`];
  if (typeof handler === 'function') {
    try {
      handler.call(target, event);
    } catch (e) {
      queueMicrotask(() => { throw e; });
    }
  }
  target.dispatchEvent(event);
}

function toBytes(data) {
  if (typeof data === 'string') return { bytes: utf8.encode(data), binary: false };
  if (data instanceof Uint8Array) return { bytes: data, binary: true };
  if (data instanceof ArrayBuffer) return { bytes: new Uint8Array(data), binary: true };
  if (ArrayBuffer.isView(data)) {
    return { bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), binary: true };
  }
  throw new TandemError('INVALID_ARGUMENT', kInvalidArgument, 'send() takes a string, an ArrayBuffer or a typed array');
}

function firstMid(sdp) {
  return /^a=mid:(\S+)/m.exec(sdp)?.[1] ?? '0';
}

// ---- Data channels

export class DataChannel extends EventTarget {
  #tandem;
  #peer;
  #coreBuffered = 0;  // the core's last word: bytes queued above SCTP's send buffer
  #inFlight = 0;  // bytes of sends the core has not answered yet
  #threshold = 0;
  #closing = null;

  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;
  onbufferedamountlow = null;

  constructor(token, tandem, peer, handle, info) {
    super();
    if (token !== kCreate) throw new TypeError('data channels come from Peer.createDataChannel or ondatachannel');
    this.#tandem = tandem;
    this.#peer = peer;
    this.handle = handle;
    this.label = info.label;
    this.protocol = info.protocol;
    this.ordered = info.ordered;
    this.maxRetransmits = info.maxRetransmits;
    this.maxPacketLifeTime = info.maxPacketLifeTime;
    this.negotiated = info.negotiated;
    // The SCTP stream id: null until the DTLS role decides its parity (channels created before the answer).
    this.id = info.id === kNoStreamId ? null : info.id;
    this.readyState = info.readyState;
  }

  // Bytes sent but not yet handed to SCTP: those queued in the core beyond SCTP's send buffer (1 MiB shared by
  // the peer's channels) plus those of send() calls the core has not answered yet. Unlike a browser's, bytes
  // inside SCTP's buffer are not counted.
  get bufferedAmount() { return this.#coreBuffered + this.#inFlight; }

  get bufferedAmountLowThreshold() { return this.#threshold; }

  // A request to the core; a failure is reported as an 'error' event (use setBufferedAmountLowThreshold to await).
  set bufferedAmountLowThreshold(bytes) {
    this.setBufferedAmountLowThreshold(bytes).catch((error) => fire(this, 'error', { error }));
  }

  async setBufferedAmountLowThreshold(bytes) {
    const threshold = Math.max(0, Math.floor(Number(bytes)));
    this.#threshold = threshold;
    await this.#tandem.call({ setBufferedAmountLowThreshold: { channel: this.handle, threshold: BigInt(threshold) } });
  }

  // Sends a string (a UTF-8 text message) or bytes (ArrayBuffer, typed array: a binary message), up to
  // 256 KiB. Unlike the browser's, it returns a promise: the buffered amount after the send, or a TandemError
  // (INVALID_ARGUMENT for a channel that is not open or a message too large, STALE_HANDLE once the peer is
  // closed). Not awaiting it is fine: a failure then also fires an 'error' event.
  send(data) {
    const { bytes, binary } = toBytes(data);
    const size = bytes.byteLength;
    this.#inFlight += size;
    const sent = this.#tandem.call({ sendData: { channel: this.handle, data: bytes, binary } }).then((r) => {
      this.#inFlight -= size;
      this.#coreBuffered = Number(r.sendData.bufferedAmount);
      return this.bufferedAmount;
    }, (error) => {
      this.#inFlight -= size;
      fire(this, 'error', { error });
      throw error;
    });
    return quiet(sent);
  }

  // Closes the channel (queued messages are sent first); 'close' fires on both sides when the stream is reset.
  close() {
    if (this.readyState === 'closed') return Promise.resolve();
    if (this.#closing === null) {
      this.readyState = 'closing';
      this.#closing = quiet(this.#tandem.call({ closeDataChannel: { channel: this.handle } }).then(() => {}));
    }
    return this.#closing;
  }

  [kState](event) {
    if (this.#peer.isClosing) return;  // like a browser: no channel events after RTCPeerConnection.close()
    const s = event.decode().dataChannelState;
    this.#coreBuffered = Number(s.bufferedAmount);
    switch (s.state) {
      case 'CHANNEL_OPEN':
        if (this.readyState === 'closing' || this.readyState === 'closed') return;
        this.id = s.id;  // known by now even for a channel created before the answer
        this.readyState = 'open';
        fire(this, 'open', {});
        return;
      case 'BUFFERED_AMOUNT_LOW':
        fire(this, 'bufferedamountlow', {});
        return;
      case 'CHANNEL_CLOSED':
        if (this.readyState === 'closed') return;
        this.readyState = 'closed';
        if (s.error) fire(this, 'error', { error: new TandemError('PROTOCOL_ERROR', kProtocolError, s.error) });
        fire(this, 'close', {});
        return;
      default:
        return;
    }
  }

  [kMessage](event) {
    if (this.#peer.isClosing || this.readyState === 'closed') return;
    const m = event.decode().dataChannelMessage;
    // Binary data is a view into the event batch's buffer: slice() it before transferring it elsewhere.
    fire(this, 'message', { data: m.binary ? m.data : utf8Decoder.decode(m.data) });
  }

  // The peer was closed: no events, no sending (the handle is dropped).
  [kAbandon]() {
    this.readyState = 'closed';
    this.#coreBuffered = 0;
  }
}

function channelInfo(init, id, readyState) {
  return {
    label: init.label,
    protocol: init.protocol,
    ordered: !init.unordered,
    maxRetransmits: init.hasMaxRetransmits ? init.maxRetransmits : null,
    maxPacketLifeTime: init.hasMaxPacketLifetime ? init.maxPacketLifetimeMs : null,
    negotiated: init.negotiated,
    id,
    readyState,
  };
}

// ---- Peers

export class Peer extends EventTarget {
  #tandem;
  #router;
  #subscriptions = [];
  #channels = new Set();
  #mid = '0';
  #closing = null;
  #closedSeen = null;  // resolves close()'s wait for the core's PEER_CLOSED

  onicecandidate = null;
  onicegatheringstatechange = null;
  oniceconnectionstatechange = null;
  onconnectionstatechange = null;
  ondtlsstatechange = null;
  ondatachannel = null;
  ontrack = null;
  onerror = null;
  // Not an Event: called with the datagrams to carry, [{local, remote, data: Uint8Array}] (data is a view into
  // the event batch: copy it to keep it past the call's consumer).
  ondatagrams = null;

  connectionState = 'new';
  iceConnectionState = 'new';
  iceGatheringState = 'new';
  dtlsState = 'new';
  localDescription = null;
  remoteDescription = null;
  // Why the connection failed (PeerEvent.error), if it did.
  error = null;

  constructor(token, tandem, router, created) {
    super();
    if (token !== kCreate) throw new TypeError('peers come from Tandem.createPeer');
    this.#tandem = tandem;
    this.#router = router;
    this.handle = created.peer;
    this.mediaSession = created.mediaSession;  // MEDIA_SESSION: create sources and streams on it with call()
    this.fingerprint = created.fingerprint;
    this.localAddresses = created.localAddresses;
  }

  // True from close() on.
  get isClosing() { return this.#closing !== null; }

  async [kStart](withDatagrams) {
    const t = this.#tandem;
    const key = this.handle;
    const events = await t.subscribe(['PEER_EVENT'], { key });
    this.#subscriptions.push(events);
    this.#router.listen(events, (e) => this.#onPeerEvent(e.decode().peerEvent));
    if (!withDatagrams) return;
    const datagrams = await t.subscribe(['PEER_DATAGRAMS'], { key, queueCapacity: kDatagramQueue });
    this.#subscriptions.push(datagrams);
    this.#router.listen(datagrams, (e) => this.ondatagrams?.(e.decode().peerDatagrams.datagrams));
  }

  // The core applies what it creates as the local description at once; setLocalDescription is a no-op kept
  // for code written for browsers.
  async createOffer() {
    const r = await this.#tandem.call({ createOffer: { peer: this.handle } });
    return this.#described({ type: 'offer', sdp: r.createOffer.sdp });
  }

  async createAnswer() {
    const r = await this.#tandem.call({ createAnswer: { peer: this.handle } });
    return this.#described({ type: 'answer', sdp: r.createAnswer.sdp });
  }

  async setLocalDescription() {}

  #described(description) {
    this.localDescription = description;
    this.#mid = firstMid(description.sdp);
    return description;
  }

  async setRemoteDescription({ type, sdp }) {
    await this.#tandem.call({
      setRemoteDescription: { peer: this.handle, type: kSdpTypes[type] ?? 'SDP_TYPE_UNSPECIFIED', sdp: sdp ?? '' },
    });
    this.remoteDescription = { type, sdp };
  }

  // An RTCIceCandidateInit ({candidate, sdpMid, ...}), a candidate line, or null / '' for end-of-candidates.
  async addIceCandidate(candidate) {
    const line = typeof candidate === 'string' ? candidate : (candidate?.candidate ?? '');
    const mid = typeof candidate === 'object' && candidate?.sdpMid ? candidate.sdpMid : '';
    await this.#tandem.call({ addIceCandidate: { peer: this.handle, candidate: line, mid } });
  }

  // init: {ordered, maxRetransmits, maxPacketLifeTime, protocol, negotiated, id} as in RTCDataChannelInit.
  // Asynchronous, unlike the browser's: the channel is a handle in the core.
  async createDataChannel(label, init = {}) {
    const request = {
      label: String(label),
      protocol: init.protocol ?? '',
      unordered: init.ordered === false,
      hasMaxRetransmits: init.maxRetransmits != null,
      maxRetransmits: init.maxRetransmits ?? 0,
      hasMaxPacketLifetime: init.maxPacketLifeTime != null,
      maxPacketLifetimeMs: init.maxPacketLifeTime ?? 0,
      negotiated: Boolean(init.negotiated),
      id: init.id ?? 0,
    };
    const r = (await this.#tandem.call({ createDataChannel: { peer: this.handle, init: request } })).createDataChannel;
    // Its events are drained after this response, so none can be waiting: replay() is only a safeguard.
    const channel = this.#adopt(r.channel, channelInfo(request, r.id, 'connecting'));
    this.#router.replay(channel);
    return channel;
  }

  #adopt(handle, info) {
    const channel = new DataChannel(kCreate, this.#tandem, this, handle, info);
    this.#channels.add(channel);
    this.#router.adopt(channel);
    return channel;
  }

  // Sends an AUDIO_SOURCE or VIDEO_SOURCE created on this.mediaSession; call it before createOffer /
  // createAnswer so the description carries the track. Resolves with {mid}.
  async addTrack(source, streamId = '') {
    const r = await this.#tandem.call({ addTrack: { peer: this.handle, source: BigInt(source), streamId } });
    return { mid: r.addTrack.mid };
  }

  // Datagrams received for this peer: [{local: 'our address', remote: 'the sender', data}]. Resolves with
  // {accepted, rejected}; rejected ones (unknown address, bytes no protocol recognised) are counted in stats.
  async deliverDatagrams(datagrams) {
    const r = await this.#tandem.call({ deliverPeerDatagrams: { peer: this.handle, datagrams } });
    return r.deliverPeerDatagrams;
  }

  // get_peer_stats as {name: number} (datagrams_sent, ice_checks_sent, dc_messages_received, ...).
  async getStats() {
    const r = await this.#tandem.call({ getPeerStats: { peer: this.handle } });
    const stats = {};
    for (const s of r.getPeerStats.stats) stats[s.name] = s.value;
    return stats;
  }

  // Closes the connection (DTLS close_notify goes out through ondatagrams first), then drops what the peer
  // owns in the core: its channels, subscriptions, the peer and its media session (sources and streams still
  // on it keep it alive until they are dropped). As in browsers, no further events fire on this side.
  // Idempotent.
  close() {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close() {
    const t = this.#tandem;
    for (const channel of this.#channels) channel[kAbandon]();
    this.connectionState = 'closed';
    this.iceConnectionState = 'closed';
    // The close's events (its last datagrams: SCTP ABORT, DTLS close_notify) are delivered by a runtime task
    // after the response, possibly after the answers to requests sent meanwhile, so a later response is no
    // barrier. The core's PEER_CLOSED state is: it is published with them, and delivered in the same batch.
    let timer;
    const closed = new Promise((resolve) => {
      this.#closedSeen = resolve;
      timer = setTimeout(resolve, kCloseWaitMs);  // never hang on a core that cannot answer
    });
    try {
      await t.call({ closePeer: { peer: this.handle } });
      await closed;
    } catch {
      // Already dropped or the core is disposed: what is left to free is freed below either way.
    }
    clearTimeout(timer);
    for (const channel of this.#channels) this.#router.forget(channel);
    for (const s of this.#subscriptions) this.#router.unlisten(s);
    const channels = [...this.#channels].map((c) => c.handle);
    const handles = [...channels, ...this.#subscriptions, this.handle, this.mediaSession];
    this.#channels.clear();
    this.#subscriptions = [];
    await Promise.all(handles.map((h) => t.dropHandle(h).catch(() => {})));
    await this.#router.release();
  }

  #onPeerEvent(e) {
    if (this.isClosing) {
      if (e.event === 'connectionState' && e.connectionState === 'PEER_CLOSED') this.#closedSeen?.();
      return;
    }
    switch (e.event) {
      case 'localCandidate': {
        if (this.iceGatheringState === 'new') this.#setGathering('gathering');
        const candidate = e.localCandidate.replace(/^a=/, '');
        const init = { candidate, sdpMid: this.#mid, sdpMLineIndex: 0, usernameFragment: null };
        fire(this, 'icecandidate', { candidate: init });
        return;
      }
      case 'gatheringComplete':
        this.#setGathering('complete');
        fire(this, 'icecandidate', { candidate: null });
        return;
      case 'iceState':
        return this.#set('iceConnectionState', 'iceconnectionstatechange', stateName(e.iceState));
      case 'dtlsState':
        return this.#set('dtlsState', 'dtlsstatechange', stateName(e.dtlsState));
      case 'connectionState':
        return this.#set('connectionState', 'connectionstatechange', stateName(e.connectionState));
      case 'remoteTrack': {
        const r = e.remoteTrack;
        // Information, not a MediaStreamTrack: receive it with create_audio_stream / create_video_stream on
        // this.mediaSession, remoteSsrc = track.ssrc, payloadType = track.payloadType.
        const track = {
          kind: r.kind, id: r.trackId, mid: r.mid, ssrc: r.ssrc, payloadType: r.payloadType, codec: r.codec,
        };
        fire(this, 'track', { track, streams: [{ id: r.streamId }] });
        return;
      }
      case 'dataChannel': {
        // Announced open, as in browsers; its CHANNEL_OPEN state event then fires 'open'.
        // Events that overtook this announcement follow it, once ondatachannel could attach handlers.
        const channel = this.#adopt(e.dataChannel.channel, channelInfo(e.dataChannel, e.dataChannel.id, 'open'));
        fire(this, 'datachannel', { channel });
        this.#router.replay(channel);
        return;
      }
      case 'error':
        this.error = e.error;
        fire(this, 'error', { error: new TandemError('PROTOCOL_ERROR', kProtocolError, e.error) });
        return;
      default:
        return;
    }
  }

  #setGathering(state) {
    this.iceGatheringState = state;
    fire(this, 'icegatheringstatechange', {});
  }

  #set(property, type, value) {
    if (value === undefined || this[property] === value) return;
    this[property] = value;
    fire(this, type, {});
  }
}

// Tandem.createPeer: options are CreatePeerRequest fields (camelCase). In wasm give localAddresses (virtual
// "ip:port" addresses, one host candidate each) and carry the datagrams; usePlatformSockets is native only.
export async function createPeer(tandem, options = {}) {
  const request = {
    localAddresses: options.localAddresses ?? [],
    iceCheckIntervalMs: options.iceCheckIntervalMs ?? 0,
    certificatePem: options.certificatePem ?? '',
    privateKeyPem: options.privateKeyPem ?? '',
    cname: options.cname ?? '',
    usePlatformSockets: Boolean(options.usePlatformSockets),
    includeLoopback: Boolean(options.includeLoopback),
    loopbackOnly: Boolean(options.loopbackOnly),
  };
  const router = routerOf(tandem);
  await router.acquire();
  let created;
  try {
    created = (await tandem.call({ createPeer: request })).createPeer;
  } catch (e) {
    await router.release();
    throw e;
  }
  const peer = new Peer(kCreate, tandem, router, created);
  try {
    await peer[kStart](!request.usePlatformSockets);
  } catch (e) {
    await peer.close();
    throw e;
  }
  return peer;
}
