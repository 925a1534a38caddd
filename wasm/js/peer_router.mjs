// Per-Tandem routing of peer events (see peer.mjs, "Events"): one onEvent listener per Tandem, subscriptions
// mapped to handlers, and the shared, unkeyed data channel feed routed by the event's key, with a bounded
// buffer for channel events that overtake the announcement of their channel.

// A DataChannel's entry points for the two channel event kinds.
export const kState = Symbol('state');
export const kMessage = Symbol('message');

// Channel events waiting for their channel's announcement, all keys together: at most this many, and bytes.
const kMaxOrphans = 1024;
const kMaxOrphanBytes = 4 * 1024 * 1024;
const kChannelQueue = 8192;

// FfiEvent.key (field 1, a varint: tag byte 0x08) without decoding the event. The core writes it first.
function peekKey(bytes) {
  if (bytes.length < 2 || bytes[0] !== 0x08) return 0n;
  let value = 0n;
  let shift = 0n;
  for (let i = 1; i < bytes.length && i < 11; ++i) {
    value |= BigInt(bytes[i] & 0x7f) << shift;
    if ((bytes[i] & 0x80) === 0) return value;
    shift += 7n;
  }
  return 0n;
}

// ---- Per-Tandem routing: one onEvent listener, subscriptions mapped to handlers, the shared channel feed.

const routers = new WeakMap();

export function routerOf(tandem) {
  let router = routers.get(tandem);
  if (router === undefined) {
    router = new Router(tandem);
    routers.set(tandem, router);
  }
  return router;
}

class Router {
  #tandem;
  #users = 0;  // live peers
  #off = null;  // removes our onEvent listener
  #shared = null;  // Promise<{state, message}>: the channel subscriptions
  #handlers = new Map();  // subscription -> (TandemEvent) => void
  #channels = new Map();  // DATA_CHANNEL handle -> DataChannel
  #orphans = new Map();  // DATA_CHANNEL handle -> [[kState | kMessage, TandemEvent], ...]
  #orphanCount = 0;
  #orphanBytes = 0;

  constructor(tandem) { this.#tandem = tandem; }

  // A peer is about to be created: make sure channel events are being collected before the core can emit any.
  async acquire() {
    this.#users += 1;
    this.#off ??= this.#tandem.onEvent((e) => this.#handlers.get(e.subscription)?.(e));
    this.#shared ??= this.#subscribeShared();
    const shared = this.#shared;
    try {
      await shared;
    } catch (e) {
      if (this.#shared === shared) this.#shared = null;
      await this.release();
      throw e;
    }
  }

  async release() {
    this.#users -= 1;
    if (this.#users > 0) return;
    const shared = this.#shared;
    this.#shared = null;
    this.#off?.();
    this.#off = null;
    this.#orphans.clear();
    this.#orphanCount = 0;
    this.#orphanBytes = 0;
    const subs = await shared?.catch(() => null);
    if (!subs) return;
    this.#handlers.delete(subs.state);
    this.#handlers.delete(subs.message);
    await Promise.all([subs.state, subs.message].map((s) => this.#tandem.unsubscribe(s).catch(() => {})));
  }

  async #subscribeShared() {
    const t = this.#tandem;
    const [state, message] = await Promise.all([
      t.subscribe(['DATA_CHANNEL_STATE'], { queueCapacity: kChannelQueue }),
      t.subscribe(['DATA_CHANNEL_MESSAGE'], { queueCapacity: kChannelQueue }),
    ]);
    this.#handlers.set(state, (e) => this.#channelEvent(kState, e));
    this.#handlers.set(message, (e) => this.#channelEvent(kMessage, e));
    return { state, message };
  }

  listen(subscription, handler) { this.#handlers.set(subscription, handler); }
  unlisten(subscription) { this.#handlers.delete(subscription); }

  // From now on the channel's events go to it.
  adopt(channel) { this.#channels.set(channel.handle, channel); }

  // Hands the channel the events that arrived before it was adopted (once its owner has seen it).
  replay(channel) {
    const waiting = this.#orphans.get(channel.handle);
    if (waiting === undefined) return;
    this.#orphans.delete(channel.handle);
    for (const [which, event] of waiting) {
      this.#orphanCount -= 1;
      this.#orphanBytes -= event.bytes.length;
      channel[which](event);
    }
  }

  forget(channel) { this.#channels.delete(channel.handle); }

  #channelEvent(which, event) {
    const key = peekKey(event.bytes);
    const channel = this.#channels.get(key);
    if (channel !== undefined) {
      channel[which](event);
      return;
    }
    // Not announced yet, or a channel no Peer of ours made (raw call()): keep a bounded few, oldest out first.
    let list = this.#orphans.get(key);
    if (list === undefined) this.#orphans.set(key, (list = []));
    list.push([which, event]);
    this.#orphanCount += 1;
    this.#orphanBytes += event.bytes.length;
    while (this.#orphanCount > kMaxOrphans || this.#orphanBytes > kMaxOrphanBytes) {
      const [oldestKey, oldest] = this.#orphans.entries().next().value;
      const [, dropped] = oldest.shift();
      this.#orphanCount -= 1;
      this.#orphanBytes -= dropped.bytes.length;
      if (oldest.length === 0) this.#orphans.delete(oldestKey);
    }
  }
}
