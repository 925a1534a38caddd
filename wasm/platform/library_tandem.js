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

  // --- AES-GCM through WebCrypto (wasm_crypto.cpp is the C++ half) ---
  // keys: key id -> {ready: a promise of the CryptoKey, key: the CryptoKey once imported (else null)}. Made on
  // first use: library objects are serialized into the generated JS, which a Map would not survive.
  $tandemCrypto: {
    keys: null,
    map: function () {
      if (tandemCrypto.keys === null) tandemCrypto.keys = new Map();
      return tandemCrypto.keys;
    },
  },

  tandem_js_crypto_available: function () {
    let forced = globalThis.TANDEM_WASM_CRYPTO;
    if (typeof process === 'object' && process.env && process.env.TANDEM_WASM_CRYPTO) {
      forced = process.env.TANDEM_WASM_CRYPTO;
    }
    if (forced === 'mbedtls') return 0;
    return globalThis.crypto && globalThis.crypto.subtle ? 1 : 0;
  },

  tandem_js_crypto_import__deps: ['$tandemCrypto'],
  tandem_js_crypto_import: function (id, ptr, len) {
    const raw = HEAPU8.slice(ptr, ptr + len);
    const entry = { ready: null, key: null };
    entry.ready = globalThis.crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt'])
      .then((key) => { entry.key = key; return key; });
    entry.ready.catch(() => {});  // a failed import fails the operations that wait for it
    raw.fill(0);  // importKey copied the bytes already
    tandemCrypto.map().set(id, entry);
  },

  tandem_js_crypto_release__deps: ['$tandemCrypto'],
  tandem_js_crypto_release: function (id) {
    tandemCrypto.map().delete(id);
  },

  // Status numbers are platform::CryptoStatus: 0 ok, 1 authentication_failed, 2 unknown_key, 5 failed.
  tandem_js_crypto_aead__deps: ['$tandemCrypto'],
  tandem_js_crypto_aead: function (encrypt, instance, op, id, ivPtr, aadPtr, aadLen, inPtr, inLen) {
    const entry = tandemCrypto.map().get(id);
    const subtle = globalThis.crypto.subtle;
    const finish = (status, bytes) => {
      if (bytes) {
        const dst = _tandem_wasm_crypto_output(instance, op, bytes.length);
        if (dst) HEAPU8.set(bytes, dst);  // HEAPU8 read now: memory may have grown since the call
      }
      _tandem_wasm_crypto_done(instance, op, status, bytes ? bytes.length : 0);
    };
    const settle = (promise) => promise.then(
      (result) => finish(0, new Uint8Array(result)),
      (error) => finish(!encrypt && error && error.name === 'OperationError' ? 1 : 5, null));
    if (!entry) {  // the C++ side checked the key; answer anyway, later, never inside this call
      Promise.resolve().then(() => finish(2, null));
      return;
    }
    // WebCrypto copies its inputs before encrypt()/decrypt() return, so views of wasm memory are enough when
    // the key is ready; otherwise the call happens later and the bytes must be copied now.
    const ready = entry.key !== null;
    const view = (ptr, len) => ready ? HEAPU8.subarray(ptr, ptr + len) : HEAPU8.slice(ptr, ptr + len);
    const params = { name: 'AES-GCM', iv: view(ivPtr, 12), additionalData: view(aadPtr, aadLen), tagLength: 128 };
    const data = view(inPtr, inLen);
    const run = (key) => encrypt ? subtle.encrypt(params, key, data) : subtle.decrypt(params, key, data);
    settle(ready ? run(entry.key) : entry.ready.then(run));
  },
});
