// The target's real platform (native: runtime thread, TSC/steady clock, getrandom; wasm: the worker loop,
// performance.now, crypto.getRandomValues), through the same interfaces the core uses.
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <vector>

#include "support/pump.h"
#include "tandem/platform/platform.h"

using namespace tandem;

TEST_CASE("platform clock is monotonic and in nanoseconds", "[platform]") {
  auto host = platform::create_host();
  auto& clock = host->platform().clock;
  uint64_t last = clock.now_ns();
  for (int i = 0; i < 100'000; ++i) {
    const uint64_t now = clock.now_ns();
    REQUIRE(now >= last);
    last = now;
  }
  // 20 ms of waiting reads as 20 ms (within scheduling slack), so the unit really is nanoseconds.
  const uint64_t start = clock.now_ns();
  std::atomic<bool> fired{false};
  host->platform().runner.post_delayed(20'000'000, [&] { fired = true; });
  REQUIRE(test::pump_until([&] { return fired.load(); }));
  const uint64_t waited = clock.now_ns() - start;
  CHECK(waited >= 19'000'000);
  CHECK(waited < 2'000'000'000);
}

TEST_CASE("platform entropy fills buffers with fresh bytes", "[platform]") {
  auto host = platform::create_host();
  std::vector<uint8_t> a(100'000), b(100'000);  // > 65536: the wasm bridge must loop over getRandomValues
  REQUIRE(host->platform().entropy.fill(a));
  REQUIRE(host->platform().entropy.fill(b));
  CHECK(a != b);
  size_t zeros = 0;
  for (uint8_t x : a) zeros += x == 0;
  CHECK(zeros < 1000);  // ~391 expected for uniform bytes
}

TEST_CASE("platform runner: FIFO tasks, timers by deadline, cancellation", "[platform]") {
  auto host = platform::create_host();
  auto& runner = host->platform().runner;
  std::mutex m;
  std::vector<int> order;
  auto note = [&](int v) {
    std::lock_guard lock(m);
    order.push_back(v);
  };
  runner.post_delayed(30'000'000, [&] { note(30); });
  const platform::TimerId cancelled = runner.post_delayed(10'000'000, [&] { note(-1); });
  runner.post_delayed(15'000'000, [&] { note(15); });
  for (int i = 1; i <= 3; ++i) runner.post([&, i] { note(i); });
  CHECK(runner.cancel(cancelled));
  CHECK_FALSE(runner.cancel(cancelled));
  REQUIRE(test::pump_until([&] {
    std::lock_guard lock(m);
    return order.size() == 5;
  }));
  std::lock_guard lock(m);
  CHECK(order == std::vector<int>{1, 2, 3, 15, 30});
}
