// The JS half of the wasm platform (an Emscripten JS library: linked with --js-library).
mergeInto(LibraryManager.library, {
  tandem_js_random_fill: function (ptr, len) {
    // getRandomValues takes at most 65536 bytes per call.
    for (let at = 0; at < len; at += 65536) {
      const n = Math.min(65536, len - at);
      globalThis.crypto.getRandomValues(HEAPU8.subarray(ptr + at, ptr + at + n));
    }
  },

  $tandemWake: {
    soon: null,
    timer: null,
  },

  tandem_js_wake_soon__deps: ['$tandemWake'],
  tandem_js_wake_soon: function () {
    if (!tandemWake.soon) {
      if (typeof setImmediate === 'function') {
        tandemWake.soon = (fn) => setImmediate(fn);
      } else {
        // A MessageChannel task is a macrotask without setTimeout's 4 ms clamping.
        const channel = new MessageChannel();
        const queue = [];
        channel.port1.onmessage = () => queue.shift()();
        tandemWake.soon = (fn) => { queue.push(fn); channel.port2.postMessage(0); };
      }
    }
    tandemWake.soon(() => _tandem_wasm_run());
  },

  tandem_js_wake_at__deps: ['$tandemWake'],
  tandem_js_wake_at: function (delayMs) {
    if (tandemWake.timer !== null) clearTimeout(tandemWake.timer);
    tandemWake.timer = setTimeout(() => { tandemWake.timer = null; _tandem_wasm_run(); }, Math.max(0, delayMs));
  },

  tandem_js_cancel_wake__deps: ['$tandemWake'],
  tandem_js_cancel_wake: function () {
    if (tandemWake.timer !== null) clearTimeout(tandemWake.timer);
    tandemWake.timer = null;
  },

  tandem_js_log: function (level, line) {
    const text = UTF8ToString(line);
    if (level >= 5) console.error(text);
    else if (level === 4) console.warn(text);
    else console.log(text);
  },
});
