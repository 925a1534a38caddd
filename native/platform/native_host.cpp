// The native platform: a monotonic clock (the CPU's invariant TSC calibrated against std::chrono's steady
// clock, or the steady clock itself), getrandom(2), one runtime thread with a timer queue and UDP sockets
// (an epoll loop), stderr for logs, and AES-GCM from mbedTLS (AES-NI) completing on the runtime thread (see mbedtls_crypto.h).
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include <array>
#include <cerrno>
#include <utility>
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
#include "udp_sockets.h"

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

// One thread runs every task and serves the UDP sockets: it sleeps in epoll until a socket is readable, a
// timer is due or post() from another thread wakes it through an eventfd. The eventfd is written only when
// the loop sleeps (or is about to), so posting from the runtime itself, or to a busy runtime, costs no
// system call.
class RuntimeThread final : public TaskRunner {
 public:
  explicit RuntimeThread(Clock& clock)
      : clock_(clock),
        epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
        wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        sockets_(epoll_fd_),
        thread_([this] { run(); }) {}
  ~RuntimeThread() override {
    stop();
    ::close(wake_fd_);
    ::close(epoll_fd_);
  }

  // Joins the thread; queued tasks are discarded and sockets closed. Idempotent; not callable from the
  // runtime itself.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      queue_.clear();
    }
    wake();
    if (thread_.joinable()) thread_.join();
    sockets_.close_all();
  }

  UdpSockets& sockets() { return sockets_; }

  void post(Task task) override {
    bool sleeping;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      queue_.push(std::move(task));
      sleeping = std::exchange(sleeping_, false);
    }
    if (sleeping) wake();
  }

  TimerId post_delayed(uint64_t delay_ns, Task task) override {
    TimerId id;
    bool sleeping;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return 0;
      id = queue_.push_at(clock_.now_ns() + delay_ns, std::move(task));
      sleeping = std::exchange(sleeping_, false);
    }
    if (sleeping) wake();
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
  void wake() {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }

  void run() {
    epoll_event wake_event{};
    wake_event.events = EPOLLIN;
    wake_event.data.u64 = 0;  // socket ids start at 1
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake_event);
    std::array<epoll_event, 16> events;
    std::unique_lock lock(mutex_);
    unsigned tasks_since_poll = 0;
    while (!stopping_) {
      // Between tasks the sockets are looked at every 32 tasks too, so a busy runtime cannot starve them.
      if (tasks_since_poll < 32) {
        if (auto task = queue_.pop_ready(clock_.now_ns())) {
          lock.unlock();
          (*task)();
          task.reset();  // destroy captures outside the lock too
          lock.lock();
          ++tasks_since_poll;
          continue;
        }
      }
      tasks_since_poll = 0;
      // Nothing runnable (or time to poll): sleep until a socket, a post() or the next timer.
      int64_t timeout_ns = -1;
      if (queue_.has_immediate()) {
        timeout_ns = 0;  // only polling
      } else if (auto deadline = queue_.next_deadline()) {
        const uint64_t now = clock_.now_ns();
        timeout_ns = *deadline > now ? static_cast<int64_t>(*deadline - now) : 0;
      }
      sleeping_ = timeout_ns != 0;
      lock.unlock();
      const int n = wait_events(events, timeout_ns);
      for (int i = 0; i < n; ++i) {
        const uint64_t id = events[static_cast<size_t>(i)].data.u64;
        if (id == 0) {
          uint64_t count;
          [[maybe_unused]] const ssize_t r = ::read(wake_fd_, &count, sizeof(count));
        } else {
          sockets_.on_readable(static_cast<SocketId>(id));
        }
      }
      lock.lock();
      sleeping_ = false;
    }
  }

  // epoll_pwait2 takes a nanosecond timeout (Linux 5.11); older kernels get epoll_wait's milliseconds,
  // rounded up so a timer never fires early.
  int wait_events(std::array<epoll_event, 16>& events, int64_t timeout_ns) {
    static bool have_pwait2 = true;
    if (have_pwait2) {
      timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
      const int n = static_cast<int>(::syscall(SYS_epoll_pwait2, epoll_fd_, events.data(), events.size(),
                                               timeout_ns < 0 ? nullptr : &ts, nullptr, 0));
      if (n >= 0 || errno != ENOSYS) return n < 0 ? 0 : n;
      have_pwait2 = false;
    }
    const int timeout_ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    return n < 0 ? 0 : n;
  }

  Clock& clock_;
  std::mutex mutex_;
  TaskQueue queue_;
  bool stopping_ = false;
  bool sleeping_ = false;  // the loop is (about to be) in epoll: post() must write the eventfd
  int epoll_fd_;
  int wake_fd_;
  UdpSockets sockets_;
  std::thread thread_;  // last: starts after everything it uses exists
};

class NativeHost final : public Host {
 public:
  NativeHost()
      : runtime_(process_clock()),
        crypto_(runtime_),
        platform_{process_clock(), entropy_, runtime_, sink_, crypto_, &runtime_.sockets()} {}
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
