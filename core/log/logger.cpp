#include "core/log/logger.h"

#include <algorithm>

namespace tandem::log {

Logger::Logger(platform::Clock& clock, platform::LogSink* platform_sink, Deliver deliver, Wakeup wakeup)
    : clock_(clock), platform_sink_(platform_sink), deliver_(std::move(deliver)), wakeup_(std::move(wakeup)) {}

void Logger::write(LogLevel level, std::string_view target, std::string_view message) {
  if (!enabled(level)) return;
  if (echo_ && platform_sink_ != nullptr) platform_sink_->write(level, target, message);
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() >= batch_size_ * 16) {
      ++dropped_;
      return;
    }
    pending_.push_back(Record{level, clock_.now_ns(), std::string(target), std::string(message)});
    wake = !wakeup_pending_;
    wakeup_pending_ = true;
  }
  if (wake && wakeup_) wakeup_();
}

void Logger::flush() {
  uint64_t dropped = 0;
  {
    std::lock_guard lock(mutex_);
    flushing_.clear();
    std::swap(flushing_, pending_);
    dropped = dropped_;
    dropped_ = 0;
    wakeup_pending_ = false;
  }
  if (flushing_.empty() && dropped == 0) return;
  const std::span<const Record> all(flushing_);
  for (size_t at = 0; at < all.size() || (at == 0 && dropped != 0); at += batch_size_) {
    const size_t n = std::min(batch_size_, all.size() - at);
    deliver_(all.subspan(at, n), at == 0 ? dropped : 0);
    if (all.empty()) break;
  }
}

}  // namespace tandem::log
