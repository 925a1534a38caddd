// Waiting for work on a real runtime (the C ABI's host). Natively the runtime is its own thread, so this polls;
// in wasm the runtime is this very thread's event loop, which cannot turn while a test runs, so this runs the
// runtime's ready tasks and due timers directly.
#pragma once

#include <cstdint>
#include <functional>

namespace tandem::test {

// Returns true once `done()` holds, false after `timeout_ms` of waiting.
bool pump_until(const std::function<bool()>& done, uint32_t timeout_ms = 5000);

}  // namespace tandem::test
