// The wasm platform: performance.now() as the clock, crypto.getRandomValues() as entropy, and a runner on the
// worker's own event loop. Tasks wait in a TaskQueue; the JS side (library_tandem.js) schedules one macrotask
// (MessageChannel in browsers, setImmediate in node: no 4 ms clamping as with nested setTimeout(0)) or one
// timeout for the earliest timer, and calls tandem_wasm_run(), which runs a time slice and re-arms.
// AES-GCM is WebCrypto's, or mbedTLS in the module when crypto.subtle is missing (wasm_crypto.cpp).
#include "wasm/platform/wasm_host.h"

#include <emscripten.h>

#include <optional>
#include <string>
#include <vector>

#include "tandem/platform/platform.h"
#include "tandem/platform/task_queue.h"
#include "wasm/platform/wasm_crypto.h"

extern "C" {
// Implemented in library_tandem.js.
void tandem_js_random_fill(uint8_t* out, size_t len);
void tandem_js_wake_soon();
void tandem_js_wake_at(double delay_ms);
void tandem_js_cancel_wake();
void tandem_js_log(int level, const char* line);
}

namespace tandem::platform {
namespace {

class PerformanceClock final : public Clock {
 public:
  uint64_t now_ns() override { return static_cast<uint64_t>(emscripten_get_now() * 1e6); }
};

class WebEntropy final : public Entropy {
 public:
  bool fill(std::span<uint8_t> out) override {
    tandem_js_random_fill(out.data(), out.size());
    return true;
  }
};

class ConsoleSink final : public LogSink {
 public:
  void write(LogLevel level, std::string_view target, std::string_view message) override {
    line_.assign("[tandem ").append(target).append("] ").append(message);
    tandem_js_log(static_cast<int>(level), line_.c_str());
  }

 private:
  std::string line_;
};

// One per core. All loops of the module share the worker's single JS wake-up (see arm_wakeup).
class WorkerLoop final : public TaskRunner {
 public:
  explicit WorkerLoop(Clock& clock) : clock_(clock) {}
  void post(Task task) override;
  TimerId post_delayed(uint64_t delay_ns, Task task) override;
  bool cancel(TimerId id) override { return queue_.cancel(id); }
  bool on_runtime() const override { return true; }  // one thread: the worker
  bool invoke(const Task& task) override {
    task();
    return true;
  }

  // Runs ready work until none is left or `deadline_ns` passes.
  void run_until(uint64_t deadline_ns) {
    while (auto task = queue_.pop_ready(clock_.now_ns())) {
      (*task)();
      if (clock_.now_ns() > deadline_ns) break;
    }
  }
  bool ready_now() const {
    auto d = queue_.next_deadline();
    return queue_.has_immediate() || (d && *d <= clock_.now_ns());
  }
  std::optional<uint64_t> next_deadline() const { return queue_.next_deadline(); }
  void clear() { queue_.clear(); }

 private:
  Clock& clock_;
  TaskQueue queue_;
};

struct Scheduler {
  std::vector<WorkerLoop*> loops;
  bool soon_armed = false;
  uint64_t timer_deadline = 0;  // deadline the JS timeout is armed for (0: none)
  PerformanceClock clock;
};

Scheduler& scheduler() {
  static Scheduler s;
  return s;
}

// Arms one macrotask if anything is ready, else one timeout for the earliest timer of any loop.
void arm_wakeup() {
  auto& s = scheduler();
  std::optional<uint64_t> earliest;
  for (auto* loop : s.loops) {
    if (loop->ready_now()) {
      if (!s.soon_armed) {
        s.soon_armed = true;
        tandem_js_wake_soon();
      }
      return;
    }
    if (auto d = loop->next_deadline(); d && (!earliest || *d < *earliest)) earliest = d;
  }
  if (earliest && *earliest != s.timer_deadline) {
    s.timer_deadline = *earliest;
    tandem_js_wake_at(static_cast<double>(*earliest - s.clock.now_ns()) / 1e6);
  }
}

void run_loops(uint64_t budget_ns) {
  auto& s = scheduler();
  s.soon_armed = false;
  s.timer_deadline = 0;  // whatever woke us, re-arm from scratch (the JS side keeps one timeout)
  const uint64_t deadline = budget_ns == UINT64_MAX ? UINT64_MAX : s.clock.now_ns() + budget_ns;
  for (size_t i = 0; i < s.loops.size(); ++i) s.loops[i]->run_until(deadline);
  arm_wakeup();
}

void WorkerLoop::post(Task task) {
  queue_.push(std::move(task));
  arm_wakeup();
}

TimerId WorkerLoop::post_delayed(uint64_t delay_ns, Task task) {
  const TimerId id = queue_.push_at(clock_.now_ns() + delay_ns, std::move(task));
  arm_wakeup();
  return id;
}

class WasmHost final : public Host {
 public:
  WasmHost()
      : loop_(clock_), crypto_(create_wasm_crypto(loop_)), platform_{clock_, entropy_, loop_, sink_, *crypto_} {
    scheduler().loops.push_back(&loop_);
  }
  ~WasmHost() override {
    loop_.clear();  // queued tasks of this core never run (crypto completions included)
    std::erase(scheduler().loops, &loop_);
    if (scheduler().loops.empty()) {
      // Nothing left to run: an armed timeout would only keep a node process alive.
      scheduler().timer_deadline = 0;
      tandem_js_cancel_wake();
    }
  }
  Platform& platform() override { return platform_; }

 private:
  PerformanceClock clock_;
  WebEntropy entropy_;
  ConsoleSink sink_;
  WorkerLoop loop_;
  std::unique_ptr<AsyncCrypto> crypto_;
  Platform platform_;
};

}  // namespace

std::unique_ptr<Host> create_host() { return std::make_unique<WasmHost>(); }

void wasm_run_pending() { run_loops(UINT64_MAX); }

}  // namespace tandem::platform

// Called by library_tandem.js when the armed macrotask or timeout fires. 8 ms slices keep the worker
// responsive to incoming requests while a load generator runs flat out.
extern "C" EMSCRIPTEN_KEEPALIVE void tandem_wasm_run() { tandem::platform::run_loops(8'000'000); }
