// The worker that owns one tandem core (DESIGN: one runtime thread per core; in wasm that thread is this
// worker). It speaks a small message protocol with wasm/js/tandem.mjs and knows nothing of protobuf: requests
// and events are opaque bytes, moved across the boundary as transferable ArrayBuffers.
//
//   in:  {t:'init', coreUrl, options}  {t:'req', id, buf}  {t:'drop', id, hi, lo}  {t:'echo', id, buf}
//        {t:'dispose', id}
//        {t:'port', id, buf, hi, lo, port}  {t:'portStats', id, hi, lo}  {t:'unport', id, hi, lo}
//   out: {t:'hello'}  {t:'ready', rc} | {t:'fatal', message}  {t:'res', id, buf}  {t:'dropped', id, rc}
//        {t:'echo', id, buf}  {t:'disposed', id}  {t:'fail', id, rc}  {t:'events', buf, used, count}
//        {t:'portStats', id, stats}
//
// Media ports ('port', see media_port.mjs): a media session joined to a MessagePort. Its MEDIA_PACKETS events
// go to the port instead of to the host, and batches arriving on the port go into the session with
// deliver_media_packets, here: datagrams move worker to worker and never touch the host's thread.
//
// Ordering: every message leaves in the order the core produced it. Events are batched per macrotask (one
// postMessage for everything the core delivered in one runtime slice), and the batch is flushed before any
// response is posted, so a host never sees a response overtake an event the core emitted before it.
import { isNode, loadCore } from './core_loader.mjs';
import { MediaPortRoutes } from './media_port.mjs';

const port = isNode ? (await import('node:worker_threads')).parentPort : globalThis;
const post = (message, transfer) => port.postMessage(message, transfer ?? []);

let core = null;
const mediaPorts = new MediaPortRoutes(() => core);

// ---- Event batching: [hi u32][lo u32][len u32][bytes] records, little-endian, in one ArrayBuffer.
const kRecordHeader = 12;
const kStagingBytes = 64 * 1024;
// Batches up to this size leave as a right-sized copy (the staging buffer is kept); bigger ones hand over
// the staging buffer itself and a fresh one is allocated, so large bursts are not copied twice.
const kCopyBelow = 16 * 1024;
let staging = new ArrayBuffer(kStagingBytes);
let stagingBytes = new Uint8Array(staging);
let stagingView = new DataView(staging);
let used = 0;
let count = 0;
let flushQueued = false;

function reserve(extra) {
  if (used + extra <= staging.byteLength) return;
  const bigger = new ArrayBuffer(Math.max(staging.byteLength * 2, used + extra));
  new Uint8Array(bigger).set(stagingBytes.subarray(0, used));
  setStaging(bigger);
}

function setStaging(buffer) {
  staging = buffer;
  stagingBytes = new Uint8Array(buffer);
  stagingView = new DataView(buffer);
}

// Called by the core on the worker thread; `view` points into wasm memory and dies when we return.
function onEvent(hi, lo, view) {
  if (mediaPorts.size !== 0 && mediaPorts.forward(hi, lo, view)) return;
  reserve(kRecordHeader + view.length);
  stagingView.setUint32(used, hi, true);
  stagingView.setUint32(used + 4, lo, true);
  stagingView.setUint32(used + 8, view.length, true);
  stagingBytes.set(view, used + kRecordHeader);
  used += kRecordHeader + view.length;
  count += 1;
  if (!flushQueued) {
    flushQueued = true;
    queueMicrotask(flushEvents);  // after the current runtime slice: one message per slice, not per event
  }
}

function flushEvents() {
  flushQueued = false;
  if (used === 0) return;
  let out;
  if (used <= kCopyBelow) {
    out = staging.slice(0, used);
  } else {
    out = staging;
    setStaging(new ArrayBuffer(kStagingBytes));
  }
  post({ t: 'events', buf: out, used, count }, [out]);
  used = 0;
  count = 0;
}

// ---- Requests

function handle(msg) {
  switch (msg.t) {
    case 'init': return init(msg);
    case 'req': {
      if (core === null) {
        post({ t: 'fail', id: msg.id, rc: 8 /* DISPOSED */ });
        return;
      }
      // The view is valid until the next request(); slice() gives the host a buffer of its own.
      const out = core.request(new Uint8Array(msg.buf)).slice().buffer;
      flushEvents();
      post({ t: 'res', id: msg.id, buf: out }, [out]);
      return;
    }
    case 'drop': {
      const rc = core === null ? 8 /* DISPOSED */ : core.dropHandle(msg.hi, msg.lo);
      flushEvents();
      post({ t: 'dropped', id: msg.id, rc });
      return;
    }
    case 'port': {
      if (core === null) {
        msg.port.close();
        post({ t: 'fail', id: msg.id, rc: 8 /* DISPOSED */ });
        return;
      }
      const out = mediaPorts.connect(msg).slice().buffer;
      flushEvents();
      post({ t: 'res', id: msg.id, buf: out }, [out]);
      return;
    }
    case 'portStats':
      post({ t: 'portStats', id: msg.id, stats: mediaPorts.stats(msg.hi, msg.lo) });
      return;
    case 'unport': {
      const stats = mediaPorts.disconnect(msg.hi, msg.lo);
      flushEvents();
      post({ t: 'portStats', id: msg.id, stats });
      return;
    }
    case 'echo':  // the boundary alone, without the core: the benchmark's baseline
      post({ t: 'echo', id: msg.id, buf: msg.buf }, [msg.buf]);
      return;
    case 'dispose':
      if (core !== null) {
        mediaPorts.closeAll();  // the peer's port sees no more batches from us
        core.dispose();  // no callback runs after this returns
        core = null;
      }
      flushEvents();
      post({ t: 'disposed', id: msg.id });
      return;
    default:
      post({ t: 'fatal', message: `worker: unknown message ${String(msg?.t)}` });
  }
}

async function init({ coreUrl, options }) {
  try {
    const module = await loadCore(coreUrl);
    const rc = module.initialize(onEvent, new Uint8Array(options));
    if (rc === 0) core = module;
    flushEvents();
    post({ t: 'ready', rc });
  } catch (e) {
    post({ t: 'fatal', message: `worker: loading the core failed: ${e?.stack ?? e}` });
  }
}

function guarded(msg) {
  try {
    handle(msg);
  } catch (e) {
    // Embind does not throw for valid input; if it ever does, answer the caller instead of hanging it.
    post({ t: 'fail', id: msg?.id, rc: 10 /* INTERNAL */, message: String(e?.stack ?? e) });
  }
}

if (isNode) port.on('message', guarded);
else port.addEventListener('message', (e) => guarded(e.data));
// Sent once the listener is in place, so the host never posts into a worker that is not listening yet.
post({ t: 'hello' });
