// The native platform: a monotonic clock (the CPU's invariant TSC calibrated against std::chrono's steady
// clock, or the steady clock itself), getrandom(2), one runtime thread with a timer queue, stderr for logs,
// and AES-GCM from mbedTLS (AES-NI) completing on the runtime thread (see mbedtls_crypto.h).
#include <sys/random.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include <cerrno>
#include <cstdlib>
#include <string_view>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "tandem/platform/mbedtls_crypto.h"
#include "tandem/platform/platform.h"
#include "tandem/platform/task_queue.h"

namespace tandem::platform {
namespace {

class SteadyClock final : public Clock {
 public:
  uint64_t now_ns() override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }
};

#if defined(__x86_64__)
// Every timed operation reads the clock twice, so its cost is the floor of what measuring costs: on the
// reference VM rdtsc takes ~11 ns and clock_gettime (vDSO) ~29 ns. Used only with an invariant TSC (constant
// rate, runs in every power state), calibrated once per process over 5 ms against the steady clock, whose
// epoch it continues. Calibration error is a few ppm: fine for latencies and timers, and the clock never
// goes backwards on one core. Set TANDEM_CLOCK=steady to use the steady clock instead.
class TscClock final : public Clock {
 public:
  static bool usable() {
    if (const char* forced = std::getenv("TANDEM_CLOCK"); forced != nullptr && std::string_view(forced) == "steady") {
      return false;
    }
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(0x80000007, &a, &b, &c, &d) != 0 && (d & (1u << 8)) != 0;
  }
  TscClock() {
    SteadyClock steady;
    const uint64_t t0 = steady.now_ns(), c0 = __rdtsc();
    uint64_t t1 = t0, c1 = c0;
    while (t1 - t0 < 5'000'000) {
      t1 = steady.now_ns();
      c1 = __rdtsc();
    }
    mult_ = static_cast<uint64_t>((static_cast<unsigned __int128>(t1 - t0) << 32) / (c1 - c0));
    base_ns_ = t1;
    base_tsc_ = c1;
  }
  uint64_t now_ns() override {
    const uint64_t ticks = __rdtsc() - base_tsc_;
    return base_ns_ + static_cast<uint64_t>((static_cast<unsigned __int128>(ticks) * mult_) >> 32);
  }

 private:
  uint64_t mult_ = 0;  // ns per tick, 32.32 fixed point
  uint64_t base_ns_ = 0;
  uint64_t base_tsc_ = 0;
};
#endif

// One clock per process (the TSC calibration costs 5 ms; every core shares the result).
Clock& process_clock() {
#if defined(__x86_64__)
  if (TscClock::usable()) {
    static TscClock tsc;
    return tsc;
  }
#endif
  static SteadyClock steady;
  return steady;
}

class GetrandomEntropy final : public Entropy {
 public:
  bool fill(std::span<uint8_t> out) override {
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }
};

class StderrSink final : public LogSink {
 public:
  void write(LogLevel level, std::string_view target, std::string_view message) override {
    static constexpr const char* kNames[] = {"", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};
    std::fprintf(stderr, "[tandem %s %.*s] %.*s\n", kNames[static_cast<int>(level)],
                 static_cast<int>(target.size()), target.data(), static_cast<int>(message.size()),
                 message.data());
  }
};

// One thread runs every task; post() from any thread wakes it.
class RuntimeThread final : public TaskRunner {
 public:
  explicit RuntimeThread(Clock& clock) : clock_(clock), thread_([this] { run(); }) {}
  ~RuntimeThread() override { stop(); }

  // Joins the thread; queued tasks are discarded. Idempotent; not callable from the runtime itself.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      queue_.clear();
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  void post(Task task) override {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      queue_.push(std::move(task));
    }
    wake_.notify_one();
  }

  TimerId post_delayed(uint64_t delay_ns, Task task) override {
    TimerId id;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return 0;
      id = queue_.push_at(clock_.now_ns() + delay_ns, std::move(task));
    }
    wake_.notify_one();
    return id;
  }

  bool cancel(TimerId id) override {
    std::lock_guard lock(mutex_);
    return queue_.cancel(id);
  }

  bool on_runtime() const override { return std::this_thread::get_id() == thread_.get_id(); }

  bool invoke(const Task& task) override {
    if (on_runtime()) {
      task();
      return true;
    }
    // The waiter learns that the task is finished when the posted closure is destroyed: after it ran, or
    // when stop() discarded it unrun (then `ran` stays false), so a stopping runtime never strands a caller.
    struct Done {
      std::mutex mutex;
      std::condition_variable cv;
      bool finished = false;
      bool ran = false;
    };
    struct Signal {
      explicit Signal(Done* d) : done(d) {}
      Signal(const Signal&) = delete;
      Signal& operator=(const Signal&) = delete;
      Done* done;
      ~Signal() {
        std::lock_guard lock(done->mutex);
        done->finished = true;
        done->cv.notify_one();
      }
    };
    Done done;
    {
      auto signal = std::make_shared<Signal>(&done);
      post([signal, &task, &done] {
        task();
        done.ran = true;  // read by the waiter only after `finished`, under the mutex
      });
    }
    std::unique_lock lock(done.mutex);
    done.cv.wait(lock, [&] { return done.finished; });
    return done.ran;
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (auto task = queue_.pop_ready(clock_.now_ns())) {
        lock.unlock();
        (*task)();
        task.reset();  // destroy captures outside the lock too
        lock.lock();
        continue;
      }
      if (auto deadline = queue_.next_deadline()) {
        const uint64_t now = clock_.now_ns();
        if (*deadline > now) wake_.wait_for(lock, std::chrono::nanoseconds(*deadline - now));
      } else {
        wake_.wait(lock);
      }
    }
  }

  Clock& clock_;
  std::mutex mutex_;
  std::condition_variable wake_;
  TaskQueue queue_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after everything it uses exists
};

class NativeHost final : public Host {
 public:
  NativeHost()
      : runtime_(process_clock()),
        crypto_(runtime_),
        platform_{process_clock(), entropy_, runtime_, sink_, crypto_} {}
  // The runtime stops first: a crypto completion task must not run while crypto_ is being destroyed.
  ~NativeHost() override { runtime_.stop(); }
  Platform& platform() override { return platform_; }

 private:
  GetrandomEntropy entropy_;
  StderrSink sink_;
  RuntimeThread runtime_;
  MbedtlsCrypto crypto_;
  Platform platform_;
};

}  // namespace

std::unique_ptr<Host> create_host() { return std::make_unique<NativeHost>(); }

}  // namespace tandem::platform
