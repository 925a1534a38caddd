// Embind: the same four calls as the C ABI, for JavaScript. One core per module instance (one per worker).
//
//   initialize(onEvent, options: Uint8Array) -> number        (0 = ok, else an ErrorCode)
//       onEvent(subscriptionHi: number, subscriptionLo: number, event: Uint8Array) — the view is into wasm
//       memory and valid only during the call: copy (slice) it to keep it.
//   request(bytes: Uint8Array) -> Uint8Array                   a view valid until the next request(): copy it
//   dropHandle(hi: number, lo: number) -> number               ErrorCode
//   dispose()
// Handles are 64-bit; JS passes them as two 32-bit halves so no BigInt glue is needed in the module.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include "tandem/tandem.h"

namespace {

using emscripten::val;

tandem_core* g_core = nullptr;
val* g_on_event = nullptr;

void on_event(void*, uint64_t subscription, const uint8_t* bytes, size_t len) {
  if (g_on_event == nullptr) return;
  (*g_on_event)(static_cast<double>(subscription >> 32), static_cast<double>(subscription & 0xffffffffu),
                val(emscripten::typed_memory_view(len, bytes)));
}

int initialize(val callback, const std::string& options) {
  if (g_core != nullptr) return TANDEM_INVALID_ARGUMENT;  // one core per module instance
  g_on_event = new val(std::move(callback));
  const int rc = tandem_initialize(on_event, nullptr, reinterpret_cast<const uint8_t*>(options.data()),
                                   options.size(), &g_core);
  if (rc != TANDEM_OK) {
    delete g_on_event;
    g_on_event = nullptr;
  }
  return rc;
}

val request(const std::string& bytes) {
  if (g_core == nullptr) return val::null();
  const uint8_t* out = nullptr;
  size_t len = 0;
  tandem_request(g_core, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &out, &len);
  return val(emscripten::typed_memory_view(len, out));
}

int drop_handle(double hi, double lo) {
  if (g_core == nullptr) return TANDEM_DISPOSED;
  const uint64_t h = (static_cast<uint64_t>(hi) << 32) | static_cast<uint32_t>(lo);
  return tandem_drop_handle(g_core, h);
}

void dispose() {
  tandem_dispose(g_core);
  g_core = nullptr;
  delete g_on_event;
  g_on_event = nullptr;
}

}  // namespace

EMSCRIPTEN_BINDINGS(tandem) {
  emscripten::function("initialize", &initialize);
  emscripten::function("request", &request);
  emscripten::function("dropHandle", &drop_handle);
  emscripten::function("dispose", &dispose);
}
