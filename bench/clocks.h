// Clocks the benchmarks hand to core objects (core/ has no clock of its own: it is given a platform::Clock).
#pragma once

#include <cstdint>

#include "harness.h"
#include "tandem/platform/platform.h"

namespace tandem::bench {

// The real thing: std::chrono::steady_clock, as the native platform uses (in wasm it reads performance.now(),
// like the wasm platform). Used for "instrumented" variants, to show what always-on timing costs.
class SteadyClock final : public platform::Clock {
 public:
  uint64_t now_ns() override { return tandem::bench::now_ns(); }
};

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
