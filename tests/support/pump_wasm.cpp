#include <emscripten.h>

#include "support/pump.h"
#include "wasm/platform/wasm_host.h"

namespace tandem::test {

bool pump_until(const std::function<bool()>& done, uint32_t timeout_ms) {
  const double end = emscripten_get_now() + timeout_ms;
  while (!done()) {
    if (emscripten_get_now() > end) return false;
    platform::wasm_run_pending();
  }
  return true;
}

}  // namespace tandem::test
