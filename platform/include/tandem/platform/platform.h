// The one seam between tandem's core and the machine it runs on.
//
// core/ calls only these interfaces; native/ (POSIX threads, clock_gettime, getrandom, mbedTLS with AES-NI) and
// wasm/ (a worker, performance.now, crypto.getRandomValues, crypto.subtle, emscripten timers) implement them.
// The asynchronous AEAD interface lives in crypto.h, UDP in datagram.h; nothing else in core/ may know what it
// runs on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "tandem/platform/crypto.h"
#include "tandem/platform/datagram.h"

namespace tandem::platform {

// A monotonic clock in nanoseconds. now_ns() must be callable from any thread and never go backwards.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t now_ns() = 0;
};

// Cryptographically secure random bytes. Returns false only if the platform source failed.
class Entropy {
 public:
  virtual ~Entropy() = default;
  virtual bool fill(std::span<uint8_t> out) = 0;
};

using Task = std::function<void()>;
using TimerId = uint64_t;  // 0 is never a valid timer

// The runtime that owns the core's objects: one thread natively, the worker's event loop in wasm.
// post() and post_delayed() may be called from any thread; tasks run on the runtime in FIFO order (timers
// in deadline order, FIFO among equal deadlines). Tasks must not block.
class TaskRunner {
 public:
  virtual ~TaskRunner() = default;
  virtual void post(Task task) = 0;
  virtual TimerId post_delayed(uint64_t delay_ns, Task task) = 0;
  // Cancels a timer that has not run yet; returns false if it already ran, was cancelled or is unknown.
  virtual bool cancel(TimerId id) = 0;
  // True when called from the runtime itself (the place where core objects may be touched).
  virtual bool on_runtime() const = 0;
  // Runs `task` on the runtime and returns once it has run: at once when called on the runtime, otherwise the
  // calling thread waits for the runtime (natively a thread hop; the wasm worker is always on its runtime).
  // Returns false, without running `task`, if the runtime is stopping. Do not hold a lock the runtime's
  // tasks take while calling it.
  virtual bool invoke(const Task& task) = 0;
};

enum class LogLevel : uint8_t { trace = 1, debug = 2, info = 3, warn = 4, error = 5, off = 6 };

// Where log lines go when the host asked for them on the platform too (stderr, console).
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void write(LogLevel level, std::string_view target, std::string_view message) = 0;
};

// What the core is given when it is created. The platform outlives the core.
struct Platform {
  Clock& clock;
  Entropy& entropy;
  TaskRunner& runner;
  LogSink& log_sink;
  AsyncCrypto& crypto;  // completes on `runner`
  DatagramTransport* net = nullptr;  // null where there is no UDP (browsers): the application carries datagrams
};

}  // namespace tandem::platform

namespace tandem::platform {

// A platform together with what drives it: natively a runtime thread, in wasm the worker's event loop.
// Destroying the host stops the runtime; tasks still queued are discarded without running.
class Host {
 public:
  virtual ~Host() = default;
  virtual Platform& platform() = 0;
};

// Implemented once per target (native/ and wasm/); the C ABI creates each core's host through it.
std::unique_ptr<Host> create_host();

}  // namespace tandem::platform
