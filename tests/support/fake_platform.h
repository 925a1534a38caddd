// A deterministic platform for core tests: a clock the test moves, seeded entropy, a runner whose tasks
// run only when the test says so, on the test's own thread, and mbedTLS AES-GCM whose completions are tasks
// of that runner (optionally delivered in reverse, to prove callers cope with out-of-order completions).
#pragma once

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "tandem/platform/mbedtls_crypto.h"
#include "tandem/platform/platform.h"
#include "tandem/platform/task_queue.h"

namespace tandem::test {

class FakeClock final : public platform::Clock {
 public:
  uint64_t now_ns() override { return now_.load(); }
  void advance(uint64_t ns) { now_ += ns; }
  void set(uint64_t ns) { now_ = ns; }

 private:
  std::atomic<uint64_t> now_{1'000'000'000};
};

class FakeEntropy final : public platform::Entropy {
 public:
  bool fill(std::span<uint8_t> out) override {
    for (auto& b : out) b = static_cast<uint8_t>((state_ = state_ * 6364136223846793005ull + 1) >> 56);
    return true;
  }

 private:
  uint64_t state_ = 42;
};

class ManualRunner final : public platform::TaskRunner {
 public:
  explicit ManualRunner(FakeClock& clock) : clock_(clock) {}
  void post(platform::Task task) override { queue_.push(std::move(task)); }
  platform::TimerId post_delayed(uint64_t delay_ns, platform::Task task) override {
    return queue_.push_at(clock_.now_ns() + delay_ns, std::move(task));
  }
  bool cancel(platform::TimerId id) override { return queue_.cancel(id); }
  bool on_runtime() const override { return true; }
  bool invoke(const platform::Task& task) override {
    task();
    return true;
  }

  // Runs every task that is ready now, including ones they post. Returns how many ran.
  size_t run_ready() {
    size_t n = 0;
    while (auto t = queue_.pop_ready(clock_.now_ns())) {
      (*t)();
      ++n;
    }
    return n;
  }
  // Moves the clock forward by `ns` in steps that stop at each timer deadline, running what becomes due.
  void advance(uint64_t ns) {
    const uint64_t end = clock_.now_ns() + ns;
    run_ready();
    while (auto d = queue_.next_deadline()) {
      if (*d > end) break;
      clock_.set(std::max(*d, clock_.now_ns()));
      run_ready();
    }
    clock_.set(end);
    run_ready();
  }
  size_t pending() const { return queue_.size(); }

 private:
  FakeClock& clock_;
  platform::TaskQueue queue_;
};

struct CapturedLog {
  platform::LogLevel level;
  std::string target, message;
};

class CollectingSink final : public platform::LogSink {
 public:
  void write(platform::LogLevel level, std::string_view target, std::string_view message) override {
    lines.push_back({level, std::string(target), std::string(message)});
  }
  std::vector<CapturedLog> lines;
};

struct FakePlatform {
  FakeClock clock;
  FakeEntropy entropy;
  ManualRunner runner{clock};
  CollectingSink sink;
  platform::MbedtlsCrypto crypto{runner};
  platform::Platform platform{clock, entropy, runner, sink, crypto};

  // Every batch of crypto completions that runner.run_ready() delivers arrives last-first.
  void complete_crypto_in_reverse(bool reverse = true) {
    crypto.set_completion_order(reverse ? platform::CryptoCompletionQueue::Order::reverse
                                        : platform::CryptoCompletionQueue::Order::fifo);
  }
};

}  // namespace tandem::test
