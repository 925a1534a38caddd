// Worker side of Tandem.connectMediaPort: joins a media session to a MessagePort so datagrams go worker to
// worker. The worker stays protobuf-free, so the few fields involved are read and written here by hand
// (proto/tandem.proto numbers them; the wire format is plain protobuf):
//
//   out: FfiEvent{1 key, 14 MediaPacketsEvent{1 session, 2 packets...}}  -> the packets' records (tag, length,
//        bytes — exactly as they were encoded) are copied into one ArrayBuffer and transferred to the port.
//   in:  that ArrayBuffer -> FfiRequest{10 DeliverMediaPacketsRequest{1 session = ours, 2 packets...}}: the
//        records go in unchanged behind our own session's field, so a batch is copied once on each side.
//
// One port message per MEDIA_PACKETS event (the core already batches per session and runtime slice).

// The field numbers this file relies on (tests/js/media_port.test.mjs checks them against the .proto).
export const kFields = Object.freeze({
  'FfiEvent.media_packets': 14,
  'MediaPacketsEvent.packets': 2,
  'FfiRequest.deliver_media_packets': 10,
  'DeliverMediaPacketsRequest.session': 1,
  'DeliverMediaPacketsRequest.packets': 2,
  'FfiResponse.error': 1,
  'FfiResponse.subscribe': 13,
  'SubscribeResponse.subscription': 1,
  'FfiResponse.deliver_media_packets': 19,
  'DeliverMediaPacketsResponse.accepted': 1,
  'DeliverMediaPacketsResponse.rejected': 2,
});
const kEventMediaPackets = kFields['FfiEvent.media_packets'];
// The records move unchanged from one message to the other, so both must number `packets` alike.
const kMediaPacketsPackets = kFields['MediaPacketsEvent.packets'];
const kRequestDeliverTag = (kFields['FfiRequest.deliver_media_packets'] << 3) | 2;  // length-delimited
const kSessionTag = kFields['DeliverMediaPacketsRequest.session'] << 3;           // varint
const kResponseError = kFields['FfiResponse.error'];
const kResponseSubscribe = kFields['FfiResponse.subscribe'];
const kSubscription = kFields['SubscribeResponse.subscription'];
const kResponseDeliver = kFields['FfiResponse.deliver_media_packets'];
const kAccepted = kFields['DeliverMediaPacketsResponse.accepted'];
const kRejected = kFields['DeliverMediaPacketsResponse.rejected'];

// ---- A minimal protobuf reader over a Uint8Array. Positions are kept in `pos` (module state: the reader is
// never re-entered, since nothing here calls back into the core while parsing).

let pos = 0;

// Returns the varint at `pos` as a Number (exact below 2^53: lengths, tags, counts), or -1 past the end.
function varint(bytes) {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; ++i) {
    if (pos >= bytes.length) return -1;
    const b = bytes[pos++];
    result += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return result;
    scale *= 128;
  }
  return -1;
}

// A uint64 varint as {hi, lo} u32 halves (handles use all 64 bits), or null.
function varint64(bytes) {
  let v = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos >= bytes.length) return null;
    const b = bytes[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      v = BigInt.asUintN(64, v);
      return { hi: Number(v >> 32n), lo: Number(v & 0xffffffffn) };
    }
  }
  return null;
}

// Skips one field's value of wire type `wire`; false if malformed.
function skip(bytes, wire) {
  switch (wire) {
    case 0: return varint(bytes) >= 0;
    case 1: pos += 8; return pos <= bytes.length;
    case 2: {
      const len = varint(bytes);
      if (len < 0) return false;
      pos += len;
      return pos <= bytes.length;
    }
    case 5: pos += 4; return pos <= bytes.length;
    default: return false;
  }
}

// Finds length-delimited field `field` in bytes[from, to); returns its [start, end) or null. Leaves `pos`.
function findMessage(bytes, field, from = 0, to = bytes.length) {
  pos = from;
  while (pos < to) {
    const tag = varint(bytes);
    if (tag < 0) return null;
    if (tag === ((field << 3) | 2)) {
      const len = varint(bytes);
      if (len < 0 || pos + len > to) return null;
      return [pos, pos + len];
    }
    if (!skip(bytes, tag & 7)) return null;
  }
  return null;
}

// The varint field `field` in bytes[from, to) as a Number (0 if absent, proto3's default), or -1 if malformed.
function findUint(bytes, field, from, to) {
  pos = from;
  while (pos < to) {
    const tag = varint(bytes);
    if (tag < 0) return -1;
    if (tag === field << 3) return varint(bytes);
    if (!skip(bytes, tag & 7)) return -1;
  }
  return 0;
}

// The uint64 varint field `field` in bytes[from, to) as {hi, lo}, or null if absent or malformed.
function findUint64(bytes, field, from, to) {
  pos = from;
  while (pos < to) {
    const tag = varint(bytes);
    if (tag < 0) return null;
    if (tag === field << 3) return varint64(bytes);
    if (!skip(bytes, tag & 7)) return null;
  }
  return null;
}

function putVarint(bytes, at, value) {
  let v = value;
  while (v >= 0x80) {
    bytes[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  bytes[at++] = v;
  return at;
}

function varintSize(value) {
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) n += 1;
  return n;
}

// DeliverMediaPacketsRequest's `session = 1` field, encoded once per route.
function sessionField(hi, lo) {
  const out = [kSessionTag];
  let v = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

function newStats() {
  return {
    batchesSent: 0, datagramsSent: 0, bytesSent: 0,
    batchesReceived: 0, datagramsAccepted: 0, datagramsRejected: 0, deliverErrors: 0, ignoredMessages: 0,
  };
}

// ---- The routes of one worker

export class MediaPortRoutes {
  #routes = [];       // {hi, lo (the subscription), sessionField, port, stats}
  #getCore;
  #scratch = new Uint8Array(64 * 1024);  // the DeliverMediaPacketsRequest being built (the core copies it)

  constructor(getCore) {
    this.#getCore = getCore;
  }

  get size() { return this.#routes.length; }

  // msg: {buf: an encoded FfiRequest{subscribe MEDIA_PACKETS, key = session}, hi, lo: the session, port}.
  // Runs the subscription and, if it succeeded, routes it to the port. Returns the core's response view
  // (valid until the next request), which the host decodes as usual.
  connect({ buf, hi, lo, port }) {
    const core = this.#getCore();
    const response = core.request(new Uint8Array(buf));
    const sub = findMessage(response, kResponseSubscribe);
    const subscription = sub === null ? null : findUint64(response, kSubscription, sub[0], sub[1]);
    if (findUint(response, kResponseError, 0, response.length) !== 0 || subscription === null) {
      port.close();  // the host gets the error from the response
      return response;
    }
    const route = { ...subscription, sessionField: sessionField(hi, lo), port, stats: newStats(), open: true };
    this.#routes.push(route);
    const receive = (data) => this.#deliver(route, data);
    if (typeof port.on === 'function') {
      port.on('message', receive);  // node's worker_threads MessagePort (starts it)
    } else {
      port.addEventListener('message', (e) => receive(e.data));
      port.start();
    }
    return response;
  }

  // Called for every event the core delivers; true if it belonged to a media port (and was sent there).
  forward(hi, lo, view) {
    const route = this.#routes.find((r) => r.hi === hi && r.lo === lo);
    if (route === undefined) return false;
    const body = findMessage(view, kEventMediaPackets);
    if (body === null) return false;  // not MEDIA_PACKETS after all: let the host have it
    // The packets' records, as contiguous runs of [start, end) (the core writes them back to back: one run).
    const runs = [];
    let datagrams = 0;
    let payload = 0;
    pos = body[0];
    while (pos < body[1]) {
      const start = pos;
      const tag = varint(view);
      if (tag === ((kMediaPacketsPackets << 3) | 2)) {
        const len = varint(view);
        if (len < 0 || pos + len > body[1]) return false;
        pos += len;
        datagrams += 1;
        payload += len;
        const last = runs[runs.length - 1];
        if (last !== undefined && last[1] === start) last[1] = pos;
        else runs.push([start, pos]);
      } else if (tag < 0 || !skip(view, tag & 7)) {
        return false;
      }
    }
    if (!route.open || datagrams === 0) return true;
    const out = new Uint8Array(runs.reduce((n, [s, e]) => n + e - s, 0));
    let at = 0;
    for (const [s, e] of runs) {
      out.set(view.subarray(s, e), at);
      at += e - s;
    }
    route.port.postMessage(out.buffer, [out.buffer]);
    route.stats.batchesSent += 1;
    route.stats.datagramsSent += datagrams;
    route.stats.bytesSent += payload;
    return true;
  }

  // A batch from the peer's port: hand it to our session.
  #deliver(route, data) {
    const core = this.#getCore();
    if (!route.open || core === null) return;
    if (!(data instanceof ArrayBuffer)) {
      route.stats.ignoredMessages += 1;
      return;
    }
    const records = new Uint8Array(data);
    const inner = route.sessionField.length + records.length;
    const total = 1 + varintSize(inner) + inner;
    if (this.#scratch.length < total) this.#scratch = new Uint8Array(Math.max(total, this.#scratch.length * 2));
    const req = this.#scratch;
    req[0] = kRequestDeliverTag;
    const at = putVarint(req, 1, inner);
    req.set(route.sessionField, at);
    req.set(records, at + route.sessionField.length);
    const response = core.request(req.subarray(0, total));
    route.stats.batchesReceived += 1;
    if (findUint(response, kResponseError, 0, response.length) !== 0) {
      route.stats.deliverErrors += 1;  // e.g. the session was dropped: the core counts it in its metrics too
      return;
    }
    const result = findMessage(response, kResponseDeliver);
    if (result === null) return;
    route.stats.datagramsAccepted += Math.max(0, findUint(response, kAccepted, result[0], result[1]));
    route.stats.datagramsRejected += Math.max(0, findUint(response, kRejected, result[0], result[1]));
  }

  stats(hi, lo) {
    const route = this.#routes.find((r) => r.hi === hi && r.lo === lo);
    return route === undefined ? null : { ...route.stats };
  }

  // Drops the subscription (so the session's datagrams stop), closes the port. Returns the final stats.
  disconnect(hi, lo) {
    const index = this.#routes.findIndex((r) => r.hi === hi && r.lo === lo);
    if (index < 0) return null;
    const [route] = this.#routes.splice(index, 1);
    this.#getCore()?.dropHandle(hi, lo);
    this.#close(route);
    return { ...route.stats };
  }

  closeAll() {
    for (const route of this.#routes) this.#close(route);
    this.#routes = [];
  }

  #close(route) {
    route.open = false;
    route.port.close();
  }
}
