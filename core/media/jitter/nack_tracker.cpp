#include "core/media/jitter/nack_tracker.h"

#include <algorithm>

#include "core/media/jitter/unwrap.h"

namespace tandem::media {

Result<NackTracker> NackTracker::create(const NackConfig& config) {
  if (config.window == 0 || config.window > 32768) {
    return Error{Errc::invalid_argument, "nack window must be within 1..32768"};
  }
  if (config.max_retries == 0) return Error{Errc::invalid_argument, "max_retries must be > 0"};
  return NackTracker(config);
}

NackTracker::NackTracker(const NackConfig& config)
    : config_(config), entries_(config.window), rtt_ns_(config.initial_rtt_ns) {}

uint64_t NackTracker::retry_interval() const { return std::max(rtt_ns_, config_.min_retry_interval_ns); }

void NackTracker::give_up(Entry& e) {
  e.missing = false;
  --missing_;
  ++stats_.given_up;
}

void NackTracker::give_up_all() {
  if (missing_ == 0) return;
  for (Entry& e : entries_) {
    if (e.missing) give_up(e);
  }
}

void NackTracker::on_packet(uint16_t seq, uint64_t now_ns) {
  if (!started_) {
    started_ = true;
    newest_ = kFirstExtended + seq;
    entry(newest_) = Entry{newest_, 0, 0, false};
    return;
  }
  const int64_t ext = extend_seq(newest_, seq);
  const auto window = static_cast<int64_t>(entries_.size());
  if (ext > newest_) {
    if (ext - newest_ >= window) {
      ++stats_.discontinuities;
      give_up_all();
    } else {
      for (int64_t s = newest_ + 1; s < ext; ++s) {
        Entry& e = entry(s);
        if (e.missing) give_up(e);  // it was `window` behind: too old now
        e = Entry{s, now_ns + config_.reorder_wait_ns, 0, true};
        ++missing_;
      }
    }
    Entry& e = entry(ext);
    if (e.missing) give_up(e);
    e = Entry{ext, 0, 0, false};
    newest_ = ext;
    return;
  }
  if (newest_ - ext >= window) return;  // older than anything tracked
  Entry& e = entry(ext);
  if (e.seq != ext || !e.missing) return;  // a duplicate, or a number we stopped asking for
  e.missing = false;
  --missing_;
  if (e.retries > 0) {
    ++stats_.recovered;
  } else {
    ++stats_.reordered;
  }
}

size_t NackTracker::collect_nacks(uint64_t now_ns, std::span<uint16_t> out) {
  if (missing_ == 0) return 0;
  size_t n = 0;
  const auto window = static_cast<int64_t>(entries_.size());
  // Oldest first: the numbers closest to their playout or decode deadline matter most when `out` is small.
  for (int64_t s = std::max<int64_t>(newest_ - window + 1, 0); s < newest_ && missing_ > 0; ++s) {
    Entry& e = entry(s);
    if (!e.missing || e.seq != s || e.next_send_ns > now_ns) continue;
    if (e.retries >= config_.max_retries) {
      give_up(e);  // the last NACK had a full interval to be answered
      continue;
    }
    if (n == out.size()) break;
    out[n++] = static_cast<uint16_t>(s);
    ++e.retries;
    e.next_send_ns = now_ns + retry_interval();
    ++stats_.nacks_sent;
  }
  return n;
}

std::optional<uint64_t> NackTracker::next_timeout() const {
  if (missing_ == 0) return std::nullopt;
  uint64_t earliest = UINT64_MAX;
  for (const Entry& e : entries_) {
    if (e.missing) earliest = std::min(earliest, e.next_send_ns);
  }
  return earliest;
}

void NackTracker::forget_before(uint16_t seq) {
  if (!started_ || missing_ == 0) return;
  const int64_t limit = extend_seq(newest_, seq);
  for (Entry& e : entries_) {
    if (e.missing && e.seq < limit) give_up(e);
  }
}

}  // namespace tandem::media
