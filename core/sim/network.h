// A deterministic simulated network link, sans-IO: one direction of a path between two cores in tests.
//
// send(bytes, now) hands a datagram to the link; poll_receive(now) yields the datagrams that have arrived by
// `now`, in arrival order; next_timeout() says when the next one arrives. Nothing happens between calls: the
// link has no clock or thread of its own, so a whole session over it runs as fast as the CPU allows and
// replays exactly. Every random choice comes from the caller's seed, drawn in send() order.
//
// What happens to a datagram on send, in this order (each step uses its own settings in Impairments):
//   1. bottleneck: with a bandwidth cap it waits behind the datagrams already queued; a full queue drops it
//      (drop-tail). Without a cap it leaves at once.
//   2. loss: independent with probability `loss`, or Gilbert-Elliott bursts when `burst_enter` > 0.
//   3. delay: `delay_ns` plus a uniform extra in [0, jitter_ns]. Unless `jitter_reorders`, a datagram never
//      arrives before one sent earlier (jitter then behaves like a varying queue, as on most real paths).
//   4. reorder: with probability `reorder` it is held back a further `reorder_delay_ns` and later datagrams
//      may overtake it.
//   5. duplication: with probability `duplicate` a copy arrives too, up to `jitter_ns` after the original.
//
// Buffers: `capacity` datagram slots of `max_datagram` bytes are allocated by create(); send() copies into a
// free slot and never allocates. A datagram that finds no free slot is dropped and counted (dropped_overflow).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/common/error.h"
#include "core/sim/rng.h"

namespace tandem::sim {

struct Impairments {
  double loss = 0.0;  // loss probability per datagram (in the "good" state when bursts are on)
  // Gilbert-Elliott bursts: per datagram, good -> bad with `burst_enter`, bad -> good with `burst_exit`;
  // in the bad state a datagram is lost with `burst_loss`. Mean burst length is 1 / burst_exit datagrams.
  double burst_enter = 0.0;  // 0: no bursts
  double burst_exit = 0.25;
  double burst_loss = 1.0;
  uint64_t delay_ns = 0;        // one-way base delay
  uint64_t jitter_ns = 0;       // extra delay, uniform in [0, jitter_ns]
  bool jitter_reorders = false;  // let jitter alone reorder datagrams
  double reorder = 0.0;          // probability a datagram is held back so later ones overtake it
  uint64_t reorder_delay_ns = 20'000'000;
  double duplicate = 0.0;     // probability a datagram arrives twice
  uint64_t bandwidth_bps = 0;  // bottleneck rate; 0 = unlimited
  size_t queue_bytes = 64 * 1024;  // bottleneck queue size when bandwidth_bps > 0
};

struct LinkConfig {
  uint64_t seed = 1;
  size_t capacity = 1024;     // datagrams in flight at once, duplicates included
  size_t max_datagram = 1500;  // larger sends are rejected with Errc::invalid_argument
  Impairments impairments;
};

// What the link did, per datagram given to send().
struct LinkStats {
  uint64_t sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t dropped_loss = 0;      // random or burst loss
  uint64_t dropped_queue = 0;     // the bandwidth queue was full
  uint64_t dropped_overflow = 0;  // no free slot (capacity)
  uint64_t duplicated = 0;        // extra copies scheduled
  uint64_t reordered = 0;         // originals delivered after a datagram sent later than them
  uint64_t delivered = 0;         // deliveries, duplicate copies included
  uint64_t bytes_delivered = 0;
  uint64_t dropped() const { return dropped_loss + dropped_queue + dropped_overflow; }
};

struct Datagram {
  std::span<const uint8_t> bytes;  // valid until the next poll_receive() on this link
  uint64_t id = 0;                 // send order, from 0; a duplicate has its original's id
  uint64_t sent_ns = 0;
  uint64_t arrival_ns = 0;  // when it became due (poll_receive may be called later)
  bool duplicate = false;
};

class NetworkLink {
 public:
  // Errc::invalid_argument for probabilities outside [0, 1], zero capacity or datagram size, or bursts that
  // could never end (burst_enter > 0 with burst_exit == 0).
  static Result<NetworkLink> create(const LinkConfig& config);

  // Queues a datagram. Dropping is the link's business (counted in stats), not an error; only a datagram
  // larger than max_datagram is refused.
  Result<void> send(std::span<const uint8_t> bytes, uint64_t now_ns);
  // The next datagram that has arrived by `now_ns`, or nothing.
  std::optional<Datagram> poll_receive(uint64_t now_ns);
  // When the earliest queued datagram arrives; nothing if the link is empty.
  std::optional<uint64_t> next_timeout() const;

  // Changes the impairments from now on; datagrams already in flight keep their schedule, and the random
  // sequence continues (no reseed), so a run with a mid-way change still replays exactly.
  Result<void> set_impairments(const Impairments& impairments);
  const Impairments& impairments() const { return config_.impairments; }

  const LinkStats& stats() const { return stats_; }
  size_t in_flight() const { return heap_.size(); }

 private:
  struct Slot {
    uint64_t id = 0;
    uint64_t order = 0;  // enqueue order: breaks ties between equal arrival times, first in first out
    uint64_t sent_ns = 0;
    uint64_t arrival_ns = 0;
    uint32_t size = 0;
    bool duplicate = false;
  };

  explicit NetworkLink(const LinkConfig& config);
  bool lose_next();  // advances the loss model by one datagram
  bool admit_to_bottleneck(size_t size, uint64_t now_ns, uint64_t& departure_ns);
  bool schedule(std::span<const uint8_t> bytes, uint64_t id, uint64_t sent_ns, uint64_t arrival_ns,
                bool duplicate);
  bool arrives_before(uint32_t a, uint32_t b) const;

  LinkConfig config_;
  Rng rng_;
  LinkStats stats_;
  std::vector<uint8_t> bytes_;  // capacity * max_datagram
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;  // indices of free slots
  std::vector<uint32_t> heap_;  // in-flight slot indices, a min-heap by (arrival_ns, order)
  std::optional<uint32_t> lent_;  // the slot poll_receive last returned; freed on the next call
  uint64_t next_id_ = 0;
  uint64_t next_order_ = 0;
  uint64_t last_in_order_arrival_ = 0;  // the FIFO floor when jitter must not reorder
  uint64_t bottleneck_free_at_ = 0;     // when the bottleneck finishes sending what is queued
  uint64_t newest_delivered_id_ = 0;
  bool delivered_any_ = false;
  bool in_burst_ = false;
};

}  // namespace tandem::sim
