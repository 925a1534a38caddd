// tandem's JS host API: runs the wasm core in a worker (a Web Worker in browsers, a worker_threads Worker in
// node) and talks to it with FfiRequest/FfiResponse/FfiEvent bytes. The message schema is read from
// proto/tandem.proto at start-up by protobufjs's parser, so the .proto stays the only definition.
//
// Threading: everything here runs on the caller's thread; the core runs on the worker. Requests are
// answered in order. Events and responses arrive in the order the core produced them.
import protobuf from 'protobufjs';

import { isNode } from './core_loader.mjs';
import { createPeer } from './peer.mjs';

export { DataChannel, Peer } from './peer.mjs';

const kDisposed = 8;
const kInternal = 10;
// Completions nobody waits for yet are kept (for a later waitFor) up to this many, oldest evicted first.
const kUnclaimedLimit = 256;
const kDecodeOptions = { longs: BigInt, enums: String, defaults: true, oneofs: true };

// ---- Errors

export class TandemError extends Error {
  // code: the ErrorCode name ("STALE_HANDLE", ...); value: its number; detail: the core's message, if any.
  constructor(code, value, detail = '') {
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'TandemError';
    this.code = code;
    this.value = value;
    this.detail = detail;
  }
}

// ---- Schema

const protoCache = new Map();

// Parses tandem.proto (camelCase field names, as protobufjs does by default) once per URL.
export function loadProto(protoUrl = defaultProtoUrl()) {
  const key = String(protoUrl);
  if (!protoCache.has(key)) protoCache.set(key, parseProto(new URL(protoUrl)));
  return protoCache.get(key);
}

async function parseProto(url) {
  // Handles are uint64 with the type tag in the top byte: without a Long class they would round to doubles.
  if (!protobuf.util.Long) throw new Error('protobufjs has no Long class: 64-bit handles would lose precision');
  // tandem.proto imports its parts (peer.proto, ...) by relative path; they share one root.
  const root = new protobuf.Root();
  const pending = [url];
  const seen = new Set();
  while (pending.length > 0) {
    const next = pending.shift();
    if (seen.has(next.href)) continue;
    seen.add(next.href);
    const parsed = protobuf.parse(await readText(next), root);
    for (const name of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) pending.push(new URL(name, next));
  }
  root.resolveAll();  // fields may name types from a file parsed later
  const type = (name) => root.lookupType(`tandem.api.${name}`);
  return {
    root,
    InitializeOptions: type('InitializeOptions'),
    FfiRequest: type('FfiRequest'),
    FfiResponse: type('FfiResponse'),
    FfiEvent: type('FfiEvent'),
    ErrorCode: root.lookupEnum('tandem.api.ErrorCode'),
  };
}

async function readText(url) {
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return readFile(url, 'utf8');
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetching ${url} failed: HTTP ${res.status}`);
  return res.text();
}

function defaultProtoUrl() {
  return new URL('../../proto/tandem.proto', import.meta.url);
}

// The in-tree build output; in node TANDEM_CORE_DIR (the directory holding tandem_core.mjs) overrides it.
async function defaultCoreUrl() {
  if (isNode && process.env.TANDEM_CORE_DIR) {
    const { pathToFileURL } = await import('node:url');
    const { resolve } = await import('node:path');
    return pathToFileURL(resolve(process.env.TANDEM_CORE_DIR, 'tandem_core.mjs'));
  }
  return new URL('../../build/wasm/wasm/tandem_core.mjs', import.meta.url);
}

// Relative URLs mean: relative to the page in browsers, to the working directory in node.
async function absoluteUrl(value) {
  if (value instanceof URL) return value;
  if (globalThis.location?.href) return new URL(value, globalThis.location.href);
  const { pathToFileURL } = await import('node:url');
  return new URL(value, pathToFileURL(`${process.cwd()}/`));
}

// ---- Worker plumbing: one shape for both kinds of worker.

async function spawnWorker(url, onMessage, onFailure) {
  if (isNode) {
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(url);
    worker.on('message', onMessage);
    worker.on('error', onFailure);
    worker.on('exit', (code) => onFailure(new Error(`the tandem worker exited (code ${code})`)));
    return { post: (m, transfer) => worker.postMessage(m, transfer), terminate: () => worker.terminate() };
  }
  const worker = new Worker(url, { type: 'module' });
  worker.addEventListener('message', (e) => onMessage(e.data));
  worker.addEventListener('error', (e) => onFailure(new Error(`the tandem worker failed: ${e.message ?? e}`)));
  return { post: (m, transfer) => worker.postMessage(m, transfer), terminate: () => worker.terminate() };
}

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

// A copy the worker can take ownership of: callers keep their bytes, and pooled buffers (node's Buffer pool,
// protobufjs's writer) are never detached by the transfer.
function ownedCopy(bytes) {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

// Completions a caller ignores must not turn into unhandled rejections (fatal in node) when dispose() rejects
// them; callers that do attach handlers still see the rejection.
export function quiet(promise) {
  promise.catch(() => {});
  return promise;
}

function splitHandle(handle) {
  const h = BigInt.asUintN(64, BigInt(handle));
  return { hi: Number(h >> 32n), lo: Number(h & 0xffffffffn) };
}

// ---- Events

// One delivered event. `bytes` is an encoded FfiEvent owned by the receiver; it may share its ArrayBuffer with
// the other events of the same batch, so copy it (slice()) before transferring it elsewhere.
export class TandemEvent {
  #decoded;
  #decode;
  constructor(subscription, bytes, decode) {
    this.subscription = subscription;
    this.bytes = bytes;
    this.#decode = decode;
  }

  // The FfiEvent as a plain object (decoded on first use; uint64 fields are bigint).
  decode() {
    this.#decoded ??= this.#decode(this.bytes);
    return this.#decoded;
  }
}

// ---- The host API

export class Tandem {
  #proto;
  #worker = null;
  #nextId = 1;
  #pending = new Map();    // message id -> deferred
  #listeners = new Set();  // {callback, subscription?: bigint}
  #waiters = new Map();    // async id (bigint) -> deferred of the decoded completion FfiEvent
  #unclaimed = new Map();  // async id -> decoded completion that arrived before anyone waited for it
  #ready = deferred();
  #closedError = null;
  #disposing = null;
  #init;

  constructor(proto, init) {
    this.#proto = proto;
    this.#init = init;
    this.#ready.promise.catch(() => {});  // a failure after start-up is reported through #closedError
  }

  // Starts a worker, loads the core into it and initializes it. `options` is an InitializeOptions as a plain
  // object (camelCase fields), e.g. {metricsReportIntervalMs: 1000}.
  static async start({ options = {}, coreUrl, protoUrl, workerUrl } = {}) {
    const proto = await loadProto(protoUrl === undefined ? undefined : await absoluteUrl(protoUrl));
    const initOptions = proto.InitializeOptions.encode(proto.InitializeOptions.fromObject(options)).finish();
    const core = coreUrl === undefined ? await defaultCoreUrl() : await absoluteUrl(coreUrl);
    const tandem = new Tandem(proto, { coreUrl: core.href, options: ownedCopy(initOptions) });
    const url = workerUrl === undefined ? new URL('./worker.mjs', import.meta.url) : await absoluteUrl(workerUrl);
    tandem.#worker = await spawnWorker(url, (m) => tandem.#onMessage(m), (e) => tandem.#fail(e));
    try {
      await tandem.#ready.promise;
    } catch (e) {
      await tandem.#worker.terminate();
      throw e;
    }
    return tandem;
  }

  // The parsed schema: {root, FfiRequest, FfiResponse, FfiEvent, InitializeOptions, ErrorCode}.
  get types() { return this.#proto; }

  // ---- The four calls

  // Sends encoded FfiRequest bytes; resolves with the encoded FfiResponse (a buffer the caller owns). The
  // caller's bytes are copied, never taken.
  request(bytes) {
    const buf = ownedCopy(bytes);
    return this.#send({ t: 'req', buf }, [buf]);
  }

  // Drops a handle (bigint). Resolves when dropped; rejects with a TandemError (NULL_HANDLE, UNKNOWN_HANDLE,
  // STALE_HANDLE, DISPOSED).
  async dropHandle(handle) {
    const rc = await this.#send({ t: 'drop', ...splitHandle(handle) });
    if (rc !== 0) throw this.#error(rc, `dropHandle(${handle})`);
  }

  // Graceful: a DisposeRequest (stops generators, flushes queued events, emits a final METRICS_REPORT to
  // subscribers), then frees the core and ends the worker. Pending calls reject with DISPOSED. Idempotent.
  dispose({ timeoutMs = 5000 } = {}) {
    this.#disposing ??= this.#dispose(timeoutMs);
    return this.#disposing;
  }

  async #dispose(timeoutMs) {
    if (this.#closedError === null) {
      try {
        const { completion } = await this.requestAsync({ dispose: {} });
        let timer;
        const timeout = new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); });
        await Promise.race([completion, timeout]);
        clearTimeout(timer);
      } catch {
        // Already disposed by a request: free it all the same.
      }
      try {
        await this.#send({ t: 'dispose' });
      } catch {
        // The worker is gone already: nothing left to free.
      }
    }
    this.#close(new TandemError('DISPOSED', kDisposed, 'the core was disposed'));
    await this.#worker.terminate();
  }

  // ---- Events and completions

  // Calls `callback(event: TandemEvent)` for every subscription event, or only those of `subscription`.
  // Returns a function that removes the listener.
  onEvent(callback, { subscription } = {}) {
    const listener = { callback, subscription: subscription === undefined ? undefined : BigInt(subscription) };
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // Resolves with the REQUEST_COMPLETE FfiEvent (decoded) of the request that answered with `asyncId`.
  waitFor(asyncId) {
    const id = BigInt(asyncId);
    if (this.#unclaimed.has(id)) {
      const event = this.#unclaimed.get(id);
      this.#unclaimed.delete(id);
      return Promise.resolve(event);
    }
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    if (!this.#waiters.has(id)) this.#waiters.set(id, deferred());
    return this.#waiters.get(id).promise;
  }

  decodeEvent(bytes) {
    return this.#proto.FfiEvent.toObject(this.#proto.FfiEvent.decode(bytes), kDecodeOptions);
  }

  // ---- Requests as objects

  encodeRequest(request) {
    return this.#proto.FfiRequest.encode(this.#proto.FfiRequest.fromObject(request)).finish();
  }

  decodeResponse(bytes) {
    return this.#proto.FfiResponse.toObject(this.#proto.FfiResponse.decode(bytes), kDecodeOptions);
  }

  // Encodes `request` (an FfiRequest as a plain object, e.g. {ping: {}}), sends it and decodes the response.
  // Rejects with a TandemError if the response carries an error.
  async call(request) {
    const response = this.decodeResponse(await this.request(this.encodeRequest(request)));
    if (response.error !== 'OK') {
      throw new TandemError(response.error, this.#proto.ErrorCode.values[response.error], response.errorMessage);
    }
    return response;
  }

  // For requests answered later: {response, completion} where completion resolves with the decoded
  // REQUEST_COMPLETE event of this request only.
  async requestAsync(request) {
    const response = await this.call(request);
    if (response.asyncId === 0n) throw new TandemError('INTERNAL', kInternal, 'the response carries no async_id');
    return { response, completion: quiet(this.waitFor(response.asyncId)) };
  }

  // ---- Typed helpers for the common requests

  // kinds: EventKind names or numbers. Resolves with the SUBSCRIPTION handle (bigint).
  async subscribe(kinds, { key, queueCapacity = 0, overflow = 'DROP_OLDEST' } = {}) {
    const filter = { kinds, hasKey: key !== undefined, key: key === undefined ? 0n : BigInt(key) };
    const r = await this.call({ subscribe: { filter, queueCapacity, overflow } });
    return r.subscribe.subscription;
  }

  async unsubscribe(subscription) {
    await this.call({ unsubscribe: { subscription: BigInt(subscription) } });
  }

  // Round trip through the worker and the core. rttNs is measured here with performance.now(), so it includes
  // encoding, both postMessage hops and decoding.
  async ping(payload = new Uint8Array(0)) {
    const start = performance.now();
    const sentNs = BigInt(Math.round(start * 1e6));
    const r = await this.call({ ping: { payload, sentNs } });
    const rttNs = Math.round((performance.now() - start) * 1e6);
    return { rttNs, payload: r.ping.payload, sentNs: r.ping.sentNs, coreNowNs: r.ping.coreNowNs };
  }

  // format 'STRUCTURED' resolves with the MetricsReport object; 'JSON' and 'PROMETHEUS' with the text.
  async getMetrics({ format = 'STRUCTURED', reset = false } = {}) {
    const r = await this.call({ getMetrics: { format, reset } });
    return format === 'STRUCTURED' ? r.getMetrics.report : r.getMetrics.text;
  }

  // {reportIntervalMs, reportDisabled, resetOnReport}; resolves with the settings now in effect.
  async configureMetrics(settings) {
    const r = await this.call({ configureMetrics: settings });
    return r.configureMetrics;
  }

  // params: a LoadGeneratorRequest object. Resolves with {generator, asyncId, completion}; completion resolves
  // with the LoadGeneratorResult or rejects with the run's TandemError.
  async loadGenerator(params) {
    const { response, completion } = await this.requestAsync({ loadGenerator: params });
    const result = completion.then((event) => {
      const done = event.requestComplete;
      if (done.error !== 'OK') {
        throw new TandemError(done.error, this.#proto.ErrorCode.values[done.error], done.errorMessage);
      }
      return done.loadGenerator;
    });
    return { generator: response.loadGenerator.generator, asyncId: response.asyncId, completion: quiet(result) };
  }

  // The statistics of a media object (session, source or stream): {type, stats: {name: number}}.
  async getMediaStats(handle) {
    const r = await this.call({ getMediaStats: { handle: BigInt(handle) } });
    const stats = {};
    for (const s of r.getMediaStats.stats) stats[s.name] = s.value;
    return { type: r.getMediaStats.type, stats };
  }

  // Joins media session `session` to a MessagePort, inside the worker: the session's MEDIA_PACKETS go to the
  // port (never to this thread), and batches arriving on the port are delivered to the session. Give the two
  // ports of one MessageChannel to two cores' sessions and they are connected directly, worker to worker.
  // The port is transferred (it is the worker's from now on). Resolves with a MediaPort:
  //   {session, subscription, stats(): Promise<counters>, close(): Promise<final counters>}
  // close() drops the subscription and closes the port. Rejects with a TandemError for a null, stale, unknown
  // or non-session handle.
  async connectMediaPort(session, port, { queueCapacity = 4096 } = {}) {
    const handle = BigInt(session);
    const { type } = await this.getMediaStats(handle);
    if (type !== 'MEDIA_SESSION') {
      throw new TandemError('WRONG_HANDLE_TYPE', this.#proto.ErrorCode.values.WRONG_HANDLE_TYPE,
        `connectMediaPort: ${handle} names a ${type}, not a MEDIA_SESSION`);
    }
    const filter = { kinds: ['MEDIA_PACKETS'], hasKey: true, key: handle };
    const buf = ownedCopy(this.encodeRequest({ subscribe: { filter, queueCapacity, overflow: 'DROP_OLDEST' } }));
    const bytes = await this.#send({ t: 'port', buf, port, ...splitHandle(handle) }, [buf, port]);
    const response = this.decodeResponse(bytes);
    if (response.error !== 'OK') {
      throw new TandemError(response.error, this.#proto.ErrorCode.values[response.error], response.errorMessage);
    }
    const subscription = response.subscribe.subscription;
    const where = splitHandle(subscription);
    let closing = null;
    return {
      session: handle,
      subscription,
      stats: () => this.#send({ t: 'portStats', ...where }),
      close: () => {
        closing ??= this.#send({ t: 'unport', ...where });
        return closing;
      },
    };
  }

  // A peer connection (ICE, DTLS-SRTP, SCTP data channels) shaped like RTCPeerConnection; see peer.mjs.
  // options: CreatePeerRequest fields, e.g. {localAddresses: ['10.0.0.1:5000'], iceCheckIntervalMs: 20}.
  createPeer(options) {
    return createPeer(this, options);
  }

  // The worker boundary alone (no core): echoes the bytes back. For benchmarks.
  async echo(bytes) {
    const buf = ownedCopy(bytes);
    return new Uint8Array(await this.#send({ t: 'echo', buf }, [buf]));
  }

  // ---- Internals

  #send(message, transfer = []) {
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    const id = this.#nextId++;
    const d = deferred();
    this.#pending.set(id, d);
    this.#worker.post({ ...message, id }, transfer);
    return d.promise;
  }

  #settle(id, value) {
    const d = this.#pending.get(id);
    if (d === undefined) return;
    this.#pending.delete(id);
    d.resolve(value);
  }

  #onMessage(m) {
    switch (m.t) {
      case 'events': return this.#deliver(m.buf, m.used);
      case 'res': return this.#settle(m.id, new Uint8Array(m.buf));
      case 'dropped': return this.#settle(m.id, m.rc);
      case 'portStats': return this.#settle(m.id, m.stats);
      case 'echo': return this.#settle(m.id, m.buf);
      case 'disposed': return this.#settle(m.id, undefined);
      case 'fail': {
        const d = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        d?.reject(this.#error(m.rc, m.message ?? ''));
        return;
      }
      case 'hello': return this.#worker.post({ t: 'init', ...this.#init }, [this.#init.options]);
      case 'ready':
        if (m.rc === 0) this.#ready.resolve();
        else this.#fail(this.#error(m.rc, 'initialize'));
        return;
      case 'fatal': return this.#fail(new TandemError('INTERNAL', kInternal, m.message));
      default: return undefined;
    }
  }

  // Unpacks one batch ([hi u32][lo u32][len u32][bytes] records, see worker.mjs) without copying.
  #deliver(buffer, used) {
    const view = new DataView(buffer);
    const bytes = new Uint8Array(buffer);
    const decode = (b) => this.decodeEvent(b);
    for (let at = 0; at < used;) {
      const hi = view.getUint32(at, true);
      const lo = view.getUint32(at + 4, true);
      const len = view.getUint32(at + 8, true);
      const event = bytes.subarray(at + 12, at + 12 + len);
      at += 12 + len;
      if (hi === 0 && lo === 0) {
        this.#complete(this.decodeEvent(event));
        continue;
      }
      if (this.#listeners.size === 0) continue;
      const subscription = (BigInt(hi) << 32n) | BigInt(lo);
      const delivered = new TandemEvent(subscription, event, decode);
      for (const l of this.#listeners) {
        if (l.subscription !== undefined && l.subscription !== subscription) continue;
        try {
          l.callback(delivered);
        } catch (e) {
          queueMicrotask(() => { throw e; });  // surface it as uncaught, but keep delivering to the others
        }
      }
    }
  }

  #complete(event) {
    const d = this.#waiters.get(event.asyncId);
    if (d !== undefined) {
      this.#waiters.delete(event.asyncId);
      d.resolve(event);
      return;
    }
    this.#unclaimed.set(event.asyncId, event);
    if (this.#unclaimed.size > kUnclaimedLimit) this.#unclaimed.delete(this.#unclaimed.keys().next().value);
  }

  #error(rc, context) {
    const name = this.#proto.ErrorCode.valuesById[rc] ?? `ERROR_${rc}`;
    return new TandemError(name, rc, context);
  }

  // The worker died or failed to start: nothing pending will be answered.
  #fail(error) {
    if (this.#closedError !== null) return;
    this.#ready.reject(error);
    this.#close(error instanceof TandemError ? error : new TandemError('INTERNAL', kInternal, String(error)));
  }

  #close(error) {
    if (this.#closedError !== null) return;
    this.#closedError = error;
    for (const d of this.#pending.values()) d.reject(error);
    for (const d of this.#waiters.values()) d.reject(error);
    this.#pending.clear();
    this.#waiters.clear();
  }
}
