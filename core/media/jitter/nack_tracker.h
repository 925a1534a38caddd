// Which packets to ask the sender to retransmit (RTCP generic NACK, RFC 4585 section 6.2.1), sans-IO.
//
// on_packet(seq, now) is told every received sequence number (16-bit, wrapping). A jump forward leaves a gap:
// each skipped number becomes "missing" and is due for a NACK after `reorder_wait_ns`. collect_nacks(now, out)
// writes the numbers due now, in ascending order, into the caller's array and reschedules each one a retry
// interval later: the round-trip time (set_rtt, from RTCP), but never less than min_retry_interval_ns, so
// a retransmission has time to arrive before we ask again. A number stops being missing when it arrives
// (counted as recovered if we had NACKed it), after max_retries NACKs and one more interval without it
// (given up), or when it falls `window` numbers behind the newest (too old to help; given up).
//
// A forward jump of `window` or more is a discontinuity (a sender restart, or a loss too long to repair):
// everything pending is given up and the skipped numbers are not requested.
//
// All state is allocated by create(); nothing allocates afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/common/error.h"

namespace tandem::media {

struct NackConfig {
  size_t window = 512;        // sequence numbers tracked behind the newest one
  uint32_t max_retries = 10;  // NACKs per missing packet
  uint64_t initial_rtt_ns = 100'000'000;  // retry interval until set_rtt() is called
  uint64_t min_retry_interval_ns = 5'000'000;
  uint64_t reorder_wait_ns = 0;  // grace before the first NACK: > 0 saves retransmissions on reordering paths
};

struct NackStats {
  uint64_t nacks_sent = 0;  // sequence numbers written by collect_nacks (each retry counts)
  uint64_t recovered = 0;   // missing numbers that arrived after at least one NACK
  uint64_t reordered = 0;   // missing numbers that arrived before their first NACK
  uint64_t given_up = 0;    // missing numbers abandoned: retries exhausted, too old, or forgotten
  uint64_t discontinuities = 0;
};

class NackTracker {
 public:
  // Errc::invalid_argument for a zero window, a window beyond 32768 (wrap-around would be ambiguous) or zero
  // retries.
  static Result<NackTracker> create(const NackConfig& config = {});

  void on_packet(uint16_t seq, uint64_t now_ns);
  void set_rtt(uint64_t rtt_ns) { rtt_ns_ = rtt_ns; }

  // Writes the numbers to NACK now into `out` and returns how many. When `out` is too small the rest stay due
  // and come out on the next call.
  size_t collect_nacks(uint64_t now_ns, std::span<uint16_t> out);
  // The earliest time collect_nacks() has something to do; nothing when no packet is missing.
  std::optional<uint64_t> next_timeout() const;

  // Stops asking for numbers older than `seq`: after a keyframe request, older packets cannot help.
  void forget_before(uint16_t seq);

  size_t missing() const { return missing_; }
  const NackStats& stats() const { return stats_; }

 private:
  struct Entry {
    int64_t seq = -1;  // extended sequence number this entry is about
    uint64_t next_send_ns = 0;
    uint32_t retries = 0;
    bool missing = false;
  };

  explicit NackTracker(const NackConfig& config);
  Entry& entry(int64_t seq) { return entries_[static_cast<size_t>(seq % static_cast<int64_t>(entries_.size()))]; }
  void give_up(Entry& e);
  void give_up_all();
  uint64_t retry_interval() const;

  NackConfig config_;
  std::vector<Entry> entries_;  // `window` entries, indexed by extended seq modulo window
  NackStats stats_;
  int64_t newest_ = 0;  // extended sequence number of the newest packet seen
  bool started_ = false;
  size_t missing_ = 0;
  uint64_t rtt_ns_;
};

}  // namespace tandem::media
