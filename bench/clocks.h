// Clocks the benchmarks hand to core objects (core/ has no clock of its own: it is given a platform::Clock).
#pragma once

#include <cstdint>
#include <memory>

#include "harness.h"
#include "tandem/platform/platform.h"

namespace tandem::bench {

// std::chrono::steady_clock (in wasm it reads performance.now()), for comparison with the platform's clock.
class SteadyClock final : public platform::Clock {
 public:
  uint64_t now_ns() override { return tandem::bench::now_ns(); }
};

// The clock a core really runs with on this target (platform::create_host(): the calibrated TSC or the
// steady clock natively, performance.now() in wasm). "Instrumented" variants use it, to show what always-on
// timing costs in production.
inline platform::Clock& platform_clock() {
  static std::unique_ptr<platform::Host> host = platform::create_host();
  return host->platform().clock;
}

// Nearly free: each call returns the previous value + 1. Used where we want the cost of the component itself
// (the event bus always times publish) without the platform clock's ~20-100 ns read on top. Single-threaded
// use only, which is all the benches that take it do.
class CheapClock final : public platform::Clock {
 public:
  uint64_t now_ns() override { return ++now_; }

 private:
  uint64_t now_ = 0;
};

}  // namespace tandem::bench
