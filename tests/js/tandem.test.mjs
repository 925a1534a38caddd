// The JS package under node: wasm/js/tandem.mjs starting the core in a worker_threads worker.
//
//   node --test tests/js/          (TANDEM_CORE_DIR=<dir of tandem_core.mjs>, default build/wasm/wasm)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Tandem, TandemError } from '../../wasm/js/tandem.mjs';

const withTimeout = (promise, ms, what) => Promise.race([
  promise,
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref()),
]);

// Resolves once `predicate()` holds, checking after every event; rejects after `ms`.
function eventually(tandem, predicate, ms, what) {
  return withTimeout(new Promise((resolve) => {
    if (predicate()) return resolve();
    const off = tandem.onEvent(() => {
      if (predicate()) {
        off();
        resolve();
      }
    });
    return undefined;
  }), ms, what);
}

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof TandemError, `expected a TandemError, got ${e}`);
    assert.equal(e.code, code);
    return true;
  });
}

describe('tandem JS package (node worker)', () => {
  let t;
  before(async () => { t = await Tandem.start({ options: { metricsReportIntervalMs: 100 } }); });
  after(async () => { await t?.dispose(); });

  test('ping round-trips payload and timestamp through the worker and the core', async () => {
    const payload = new Uint8Array([1, 2, 3, 250]);
    const r = await t.ping(payload);
    assert.deepEqual(Array.from(r.payload), [1, 2, 3, 250]);
    assert.ok(r.sentNs > 0n);
    assert.ok(r.coreNowNs > 0n, 'the core stamps its clock');
    assert.ok(r.rttNs > 0 && r.rttNs < 5e9, `rtt ${r.rttNs} ns`);
    // The raw path: caller's bytes are copied, not detached by the transfer.
    const bytes = t.encodeRequest({ ping: { payload: new Uint8Array([7]), sentNs: 99n } });
    const raw = t.decodeResponse(await t.request(bytes));
    assert.equal(bytes.byteLength > 0, true, 'request bytes still usable after request()');
    assert.equal(raw.ping.sentNs, 99n);
  });

  test('subscribed load-generator events arrive, and a keyed filter sees only its key', async () => {
    const all = await t.subscribe(['SYNTHETIC_EVENT']);
    const keyed = await t.subscribe(['SYNTHETIC_EVENT'], { key: 7n });
    assert.notEqual(all, keyed);
    const seen = { all: [], keyed: [] };
    const offAll = t.onEvent((e) => seen.all.push(e.decode()), { subscription: all });
    const offKeyed = t.onEvent((e) => seen.keyed.push(e.decode()), { subscription: keyed });
    const gen = await t.loadGenerator({ events: 300, keys: [7n, 8n, 9n], payloadBytes: 24, handleChurn: 50 });
    const result = await withTimeout(gen.completion, 10000, 'load generator completion');
    assert.equal(result.eventsPublished, 300n);
    assert.equal(result.handlesChurned, 50n);
    assert.equal(result.stoppedEarly, false);
    await eventually(t, () => seen.all.length === 300, 5000, 'all 300 events');
    assert.equal(seen.keyed.length, 100);
    assert.ok(seen.keyed.every((e) => e.key === 7n && e.synthetic.generator === gen.generator));
    assert.deepEqual(seen.all.map((e) => Number(e.synthetic.sequence)), [...Array(300).keys()]);
    assert.equal(seen.all[0].synthetic.payload.length, 24);
    offAll();
    offKeyed();
    await t.unsubscribe(all);
    await t.dropHandle(keyed);
  });

  test('a completion resolves only the waiter of its own request', async () => {
    // Slow: 100 events at 50/s would take 2 s; the fast one finishes within milliseconds.
    const slow = await t.loadGenerator({ events: 100, eventsPerSecond: 50, batch: 1 });
    const fast = await t.loadGenerator({ events: 5 });
    assert.notEqual(slow.asyncId, fast.asyncId);
    let slowSettled = false;
    slow.completion.then(() => { slowSettled = true; }, () => { slowSettled = true; });
    const fastResult = await withTimeout(fast.completion, 5000, 'fast completion');
    assert.equal(fastResult.eventsPublished, 5n);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(slowSettled, false, "the fast run's completion must not settle the slow run's waiter");
    // A waiter added later for the same id gets the same completion.
    const second = t.waitFor(slow.asyncId);
    await t.dropHandle(slow.generator);  // stop early: its completion now follows
    const slowResult = await withTimeout(slow.completion, 5000, 'slow completion');
    assert.equal(slowResult.stoppedEarly, true);
    assert.ok(slowResult.eventsPublished < 100n);
    const event = await second;
    assert.equal(event.asyncId, slow.asyncId);
    assert.equal(event.requestComplete.loadGenerator.stoppedEarly, true);
  });

  test('bad requests answer with error codes', async () => {
    const malformed = t.decodeResponse(await t.request(new Uint8Array([0xff, 0xff, 0xff])));
    assert.equal(malformed.error, 'MALFORMED_REQUEST');
    assert.match(malformed.errorMessage, /not a valid FfiRequest/);
    const empty = t.decodeResponse(await t.request(new Uint8Array(0)));
    assert.equal(empty.error, 'UNKNOWN_REQUEST');
    await rejectsWith(t.subscribe([]), 'INVALID_ARGUMENT');
    await rejectsWith(t.configureMetrics({ reportIntervalMs: 5 }), 'INVALID_ARGUMENT');
    await rejectsWith(t.call({}), 'UNKNOWN_REQUEST');
    const errors = (await t.getMetrics()).counters.find((c) => c.name === 'ffi_request_errors');
    assert.ok(errors.value >= 5n, `ffi_request_errors = ${errors.value}`);
  });

  test('dropHandle gives typed errors for null, unknown, stale and wrong-type handles', async () => {
    const sub = await t.subscribe(['LOG_BATCH']);
    await t.dropHandle(sub);
    await rejectsWith(t.dropHandle(sub), 'STALE_HANDLE');
    await rejectsWith(t.dropHandle(0n), 'NULL_HANDLE');
    await rejectsWith(t.dropHandle((1n << 56n) | 0xfffffn), 'UNKNOWN_HANDLE');
    // Full 64-bit handles survive the trip (type tag in the top byte).
    assert.equal(sub >> 56n, 1n, 'a SUBSCRIPTION handle carries type tag 1');
    const gen = await t.loadGenerator({ events: 1000, eventsPerSecond: 100, batch: 1 });
    assert.equal(gen.generator >> 56n, 3n, 'a LOAD_GENERATOR handle carries type tag 3');
    await rejectsWith(t.unsubscribe(gen.generator), 'WRONG_HANDLE_TYPE');
    const dropped = t.decodeResponse(await t.request(t.encodeRequest({ dropHandle: { handle: gen.generator } })));
    assert.equal(dropped.error, 'OK');
    assert.equal(dropped.dropHandle.type, 'LOAD_GENERATOR');
    assert.equal((await withTimeout(gen.completion, 5000, 'stopped generator')).stoppedEarly, true);
  });

  test('metrics: configure, on-demand snapshot and periodic reports', async () => {
    const applied = await t.configureMetrics({ reportIntervalMs: 100 });
    assert.equal(applied.reportIntervalMs, 100);
    for (let i = 0; i < 10; ++i) await t.ping();
    const report = await t.getMetrics();
    const ping = report.histograms.find((h) => h.name === 'ffi_request' && h.label === 'kind=ping');
    assert.ok(ping.count >= 10n, `ping count ${ping.count}`);
    assert.ok(ping.p50Ns > 0n && ping.p50Ns <= ping.p99Ns && ping.p99Ns <= ping.maxNs);
    const json = JSON.parse(await t.getMetrics({ format: 'JSON' }));
    assert.equal(typeof json, 'object');
    assert.match(await t.getMetrics({ format: 'PROMETHEUS' }), /ffi_request/);
    const sub = await t.subscribe(['METRICS_REPORT']);
    const reports = [];
    const off = t.onEvent((e) => reports.push(e.decode()), { subscription: sub });
    await eventually(t, () => reports.length >= 2, 3000, 'two periodic reports');
    off();
    assert.equal(reports[0].message, 'metricsReport');
    assert.ok(reports[1].metricsReport.timeNs > reports[0].metricsReport.timeNs);
    await t.dropHandle(sub);
  });
});

describe('dispose', () => {
  test('delivers a final report, then every call fails with DISPOSED', async () => {
    const t = await Tandem.start({ options: { metricsReportDisabled: true } });
    const sub = await t.subscribe(['METRICS_REPORT']);
    const reports = [];
    t.onEvent((e) => reports.push(e.decode()), { subscription: sub });
    const gen = await t.loadGenerator({ events: 1000, eventsPerSecond: 10, batch: 1 });
    const settled = gen.completion.then((result) => ({ result }), (error) => ({ error }));
    await withTimeout(t.dispose(), 5000, 'dispose');
    assert.equal(reports.length, 1, 'the final METRICS_REPORT reaches subscribers before dispose resolves');
    // The run was stopped by the shutdown: its waiter settles either with the early stop (if the run's next
    // step came before the core was freed) or with DISPOSED, never stays pending.
    const outcome = await withTimeout(settled, 1000, 'generator waiter settles');
    if (outcome.error) assert.equal(outcome.error.code, 'DISPOSED');
    else assert.equal(outcome.result.stoppedEarly, true);
    await rejectsWith(t.ping(), 'DISPOSED');
    await rejectsWith(t.dropHandle(sub), 'DISPOSED');
    await t.dispose();  // idempotent
  });

  test('bad initialize options fail start() with a typed error', async () => {
    await rejectsWith(Tandem.start({ options: { metricsReportIntervalMs: 3 } }), 'INVALID_ARGUMENT');
  });
});
