// Leveled logging, batched for the host.
//
// Records at or above the level are buffered; the first pending record asks (via `wakeup`) for a flush on
// the runtime, and flush() hands the whole batch to `deliver` at once (the core turns it into one LOG_BATCH
// event), so a burst of records costs one event. The buffer is bounded: past `batch_size * 16` pending records
// new ones are counted as dropped and the count travels with the next batch. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tandem/platform/platform.h"

namespace tandem::log {

using platform::LogLevel;

struct Record {
  LogLevel level = LogLevel::info;
  uint64_t time_ns = 0;
  std::string target;
  std::string message;
};

class Logger {
 public:
  using Deliver = std::function<void(std::span<const Record> records, uint64_t dropped)>;
  using Wakeup = std::function<void()>;

  Logger(platform::Clock& clock, platform::LogSink* platform_sink, Deliver deliver, Wakeup wakeup);

  void set_level(LogLevel level) { level_ = level; }
  LogLevel level() const { return level_; }
  void set_batch_size(size_t n) { batch_size_ = n == 0 ? 64 : n; }
  void set_platform_echo(bool on) { echo_ = on; }
  bool enabled(LogLevel level) const { return level >= level_ && level_ != LogLevel::off; }

  void write(LogLevel level, std::string_view target, std::string_view message);
  // Delivers pending records in batches of batch_size. Call on the runtime.
  void flush();

 private:
  platform::Clock& clock_;
  platform::LogSink* platform_sink_;
  Deliver deliver_;
  Wakeup wakeup_;
  LogLevel level_ = LogLevel::info;
  size_t batch_size_ = 64;
  bool echo_ = false;

  std::mutex mutex_;
  std::vector<Record> pending_;
  std::vector<Record> flushing_;  // swapped with pending_ so delivery runs without the lock
  uint64_t dropped_ = 0;
  bool wakeup_pending_ = false;
};

}  // namespace tandem::log
