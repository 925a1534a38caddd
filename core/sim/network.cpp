#include "core/sim/network.h"

#include <algorithm>
#include <cstring>

namespace tandem::sim {
namespace {

bool is_probability(double p) { return p >= 0.0 && p <= 1.0; }  // false for NaN too

Result<void> validate(const Impairments& m) {
  if (!is_probability(m.loss) || !is_probability(m.burst_enter) || !is_probability(m.burst_exit) ||
      !is_probability(m.burst_loss) || !is_probability(m.reorder) || !is_probability(m.duplicate)) {
    return {Errc::invalid_argument, "impairment probabilities must be within [0, 1]"};
  }
  if (m.burst_enter > 0.0 && m.burst_exit == 0.0) {
    return {Errc::invalid_argument, "burst_exit must be > 0 when bursts are on (a burst would never end)"};
  }
  return {};
}

}  // namespace

Result<NetworkLink> NetworkLink::create(const LinkConfig& config) {
  if (config.capacity == 0 || config.capacity > UINT32_MAX || config.max_datagram == 0 ||
      config.max_datagram > UINT32_MAX) {
    return Error{Errc::invalid_argument, "link capacity and max_datagram must be > 0"};
  }
  if (auto valid = validate(config.impairments); !valid) return valid.error();
  return NetworkLink(config);
}

NetworkLink::NetworkLink(const LinkConfig& config)
    : config_(config),
      rng_(config.seed),
      bytes_(config.capacity * config.max_datagram),
      slots_(config.capacity) {
  free_.reserve(config.capacity);
  heap_.reserve(config.capacity);
  // Highest index first so slots are handed out from 0 up (only for readability when debugging).
  for (size_t i = config.capacity; i-- > 0;) free_.push_back(static_cast<uint32_t>(i));
}

Result<void> NetworkLink::set_impairments(const Impairments& impairments) {
  if (auto valid = validate(impairments); !valid) return valid;
  config_.impairments = impairments;
  if (impairments.burst_enter == 0.0) in_burst_ = false;
  return {};
}

bool NetworkLink::lose_next() {
  const Impairments& m = config_.impairments;
  if (m.burst_enter > 0.0) {
    // The state moves first, then decides this datagram: a burst can start on the datagram that enters it.
    in_burst_ = in_burst_ ? !rng_.chance(m.burst_exit) : rng_.chance(m.burst_enter);
    return rng_.chance(in_burst_ ? m.burst_loss : m.loss);
  }
  return rng_.chance(m.loss);
}

bool NetworkLink::admit_to_bottleneck(size_t size, uint64_t now_ns, uint64_t& departure_ns) {
  const Impairments& m = config_.impairments;
  if (m.bandwidth_bps == 0) {
    departure_ns = now_ns;
    return true;
  }
  const uint64_t start = std::max(now_ns, bottleneck_free_at_);
  // Bytes still waiting to be sent: the backlog in time, at the bottleneck rate.
  const double queued = static_cast<double>(start - now_ns) * static_cast<double>(m.bandwidth_bps) / 8e9;
  if (queued + static_cast<double>(size) > static_cast<double>(m.queue_bytes)) return false;
  const uint64_t serialization_ns = static_cast<uint64_t>(static_cast<double>(size) * 8e9 / m.bandwidth_bps);
  bottleneck_free_at_ = start + serialization_ns;
  departure_ns = bottleneck_free_at_;
  return true;
}

Result<void> NetworkLink::send(std::span<const uint8_t> bytes, uint64_t now_ns) {
  if (bytes.size() > config_.max_datagram) {
    return {Errc::invalid_argument, "datagram larger than the link's max_datagram"};
  }
  const Impairments& m = config_.impairments;
  const uint64_t id = next_id_++;
  ++stats_.sent;
  stats_.bytes_sent += bytes.size();

  uint64_t departure_ns = 0;
  if (!admit_to_bottleneck(bytes.size(), now_ns, departure_ns)) {
    ++stats_.dropped_queue;
    return {};
  }
  if (lose_next()) {
    ++stats_.dropped_loss;
    return {};
  }
  uint64_t arrival = departure_ns + m.delay_ns + rng_.up_to(m.jitter_ns);
  const bool held_back = rng_.chance(m.reorder);
  if (!m.jitter_reorders) arrival = std::max(arrival, last_in_order_arrival_);
  if (held_back) {
    arrival += m.reorder_delay_ns;  // leaves the FIFO floor alone, so later datagrams may pass it
  } else if (!m.jitter_reorders) {
    last_in_order_arrival_ = arrival;
  }
  if (!schedule(bytes, id, now_ns, arrival, false)) {
    ++stats_.dropped_overflow;
    return {};
  }
  if (rng_.chance(m.duplicate)) {
    // A copy is best effort: without a free slot the original still goes alone.
    if (schedule(bytes, id, now_ns, arrival + rng_.up_to(m.jitter_ns), true)) ++stats_.duplicated;
  }
  return {};
}

bool NetworkLink::schedule(std::span<const uint8_t> bytes, uint64_t id, uint64_t sent_ns, uint64_t arrival_ns,
                           bool duplicate) {
  if (free_.empty()) return false;
  const uint32_t index = free_.back();
  free_.pop_back();
  if (!bytes.empty()) std::memcpy(&bytes_[index * config_.max_datagram], bytes.data(), bytes.size());
  slots_[index] = Slot{id, next_order_++, sent_ns, arrival_ns, static_cast<uint32_t>(bytes.size()), duplicate};
  heap_.push_back(index);
  // std::push_heap keeps a max-heap; "greater" ordering makes the earliest arrival the top.
  std::push_heap(heap_.begin(), heap_.end(), [this](uint32_t a, uint32_t b) { return arrives_before(b, a); });
  return true;
}

bool NetworkLink::arrives_before(uint32_t a, uint32_t b) const {
  const Slot& x = slots_[a];
  const Slot& y = slots_[b];
  return x.arrival_ns != y.arrival_ns ? x.arrival_ns < y.arrival_ns : x.order < y.order;
}

std::optional<Datagram> NetworkLink::poll_receive(uint64_t now_ns) {
  if (lent_) {
    free_.push_back(*lent_);
    lent_.reset();
  }
  if (heap_.empty() || slots_[heap_.front()].arrival_ns > now_ns) return std::nullopt;
  std::pop_heap(heap_.begin(), heap_.end(), [this](uint32_t a, uint32_t b) { return arrives_before(b, a); });
  const uint32_t index = heap_.back();
  heap_.pop_back();
  lent_ = index;

  const Slot& s = slots_[index];
  if (!s.duplicate) {
    if (delivered_any_ && s.id < newest_delivered_id_) ++stats_.reordered;
    if (!delivered_any_ || s.id > newest_delivered_id_) newest_delivered_id_ = s.id;
    delivered_any_ = true;
  }
  ++stats_.delivered;
  stats_.bytes_delivered += s.size;
  return Datagram{std::span<const uint8_t>(&bytes_[index * config_.max_datagram], s.size), s.id, s.sent_ns,
                  s.arrival_ns, s.duplicate};
}

std::optional<uint64_t> NetworkLink::next_timeout() const {
  if (heap_.empty()) return std::nullopt;
  return slots_[heap_.front()].arrival_ns;
}

}  // namespace tandem::sim
