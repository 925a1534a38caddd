#include "core/transport/sctp/usrsctp_runtime.h"

#include "core/transport/sctp/crc32c.h"

#include <usrsctp.h>

#include <algorithm>
#include <cstring>

namespace tandem::transport::detail {
namespace {

constexpr uint64_t kNsPerMs = 1'000'000;
// A time this much earlier than the newest one is a stale reading (two threads read the same clock and the
// later reader got here first), not a clock that started over: it is ignored rather than restarting the count.
constexpr uint64_t kStaleReadingNs = 50 * kNsPerMs;
// A step of the clock smaller than this, within the wheel's current millisecond, is left for a later call
// (see advance()).
constexpr uint64_t kClockGrainNs = 20'000;
// clock_us() starts here rather than at 0, which usrsctp could take for "never" in a timestamp.
constexpr uint64_t kClockOriginUs = 1'000'000'000;
constexpr uint8_t kChunkData = 0, kChunkIData = 64;

uint16_t read_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

void Outbox::push(const uint8_t* p, size_t n) {
  if (count == slots.size()) grow();
  std::vector<uint8_t>& slot = slots[(head + count) % slots.size()];
  slot.assign(p, p + n);
  // usrsctp leaves the checksum to us ("CRC32c offload", see UsrsctpStack::attach): computed here, over the
  // copy we make anyway, with the field still zero as usrsctp left it.
  if (n >= kSctpCommonHeaderSize) {
    const uint32_t crc = sctp_checksum(slot);
    std::memcpy(slot.data() + 8, &crc, sizeof(crc));
  }
  ++count;
  observe(p, n);
}

// Doubles the ring, oldest first; moving a vector keeps its heap buffer, so a lent view stays valid.
void Outbox::grow() {
  std::vector<std::vector<uint8_t>> bigger(std::max<size_t>(16, slots.size() * 2));
  for (size_t i = 0; i < slots.size(); ++i) bigger[i] = std::move(slots[(head + i) % slots.size()]);
  slots = std::move(bigger);
  head = 0;
}

// Counts DATA chunks and those whose TSN was already sent once (retransmissions). TSNs only grow in
// serial-number order (RFC 1982), so "not newer than the newest seen" means "seen before".
void Outbox::observe(const uint8_t* p, size_t n) {
  ++packets;
  bytes += n;
  for (size_t off = kSctpCommonHeaderSize; off + 4 <= n;) {
    const uint8_t type = p[off];
    const uint16_t len = read_be16(p + off + 2);
    if (len < 4) break;
    if ((type == kChunkData || type == kChunkIData) && len >= 8 && off + 8 <= n) {
      const uint32_t tsn = read_be32(p + off + 4);
      ++data_chunks;
      if (any_tsn && static_cast<int32_t>(tsn - highest_tsn) <= 0) {
        ++retransmitted;
      } else {
        highest_tsn = tsn;
        any_tsn = true;
      }
    }
    off += (size_t{len} + 3) & ~size_t{3};
  }
}

UsrsctpStack& UsrsctpStack::get() {
  static UsrsctpStack* stack = new UsrsctpStack;  // never destroyed: callbacks may run during exit
  return *stack;
}

uintptr_t UsrsctpStack::attach(Outbox* outbox, const SctpTuning& tuning) {
  {
    std::lock_guard lock(lifetime_mutex_);
    if (users_++ == 0 && !initialized_) {
      usrsctp_tandem_set_clock(&UsrsctpStack::clock_us);
      usrsctp_init_nothreads(0, &UsrsctpStack::on_output, nullptr);
      // usrsctp neither computes checksums on output nor verifies them on input: Outbox::push fills them in
      // (one pass over the copy we make anyway, instead of one over usrsctp's mbuf chain) and SctpEndpoint
      // verifies input itself, or not at all under DTLS (SctpOptions::verify_checksum).
      usrsctp_enable_crc32c_offload();
      // Packets travel inside DTLS over UDP, which does not carry ECN marks back to SCTP.
      usrsctp_sysctl_set_sctp_ecn_enable(0);
      default_initial_cwnd_ = usrsctp_sysctl_get_sctp_initial_cwnd();
      default_max_chunks_ = usrsctp_sysctl_get_sctp_max_chunks_on_queue();
      initialized_ = true;
    }
    usrsctp_sysctl_set_sctp_max_chunks_on_queue(tuning.max_chunks_on_queue ? tuning.max_chunks_on_queue
                                                                           : default_max_chunks_);
  }
  std::lock_guard lock(routes_mutex_);
  const uintptr_t token = next_token_++;
  routes_[token] = outbox;
  return token;
}

void UsrsctpStack::detach(uintptr_t token) {
  {
    std::lock_guard lock(routes_mutex_);
    routes_.erase(token);
  }
  std::lock_guard lock(lifetime_mutex_);
  // usrsctp_finish() refuses (-1) while a closed association still lingers in its tables; then the stack
  // stays up and the next detach (or process exit) tries again.
  if (--users_ == 0 && usrsctp_finish() == 0) {
    initialized_ = false;
    have_time_ = false;
    fast_next_tick_ns_.store(0, std::memory_order_relaxed);
  }
}

void UsrsctpStack::set_initial_cwnd(uint32_t mtus) {
  std::lock_guard lock(lifetime_mutex_);
  usrsctp_sysctl_set_sctp_initial_cwnd(mtus ? mtus : default_initial_cwnd_);
}

// Endpoints share one wheel and one clock, so both follow the newest time any of them was given. A time much
// earlier than that (another clock, e.g. a test's fake time starting over) restarts the count from there
// instead of firing timers for a jump that never happened; a slightly earlier one (another thread's older
// reading of the same clock) is ignored.
//
// Most calls (every send and every received packet) change nothing but the clock by a few microseconds: they
// return on two relaxed loads, without the mutex that every thread driving an endpoint would otherwise take
// (and bounce between cores) per packet. usrsctp's clock then trails the newest time by less than
// kClockGrainNs, which its RTT samples (microseconds, against a 200 ms minimum RTO) do not notice.
void UsrsctpStack::advance(uint64_t now_ns) {
  const uint64_t seen = fast_seen_ns_.load(std::memory_order_relaxed);
  const uint64_t tick = fast_next_tick_ns_.load(std::memory_order_relaxed);  // 0: no time yet
  if (tick != 0 && now_ns < tick &&
      (now_ns < seen ? seen - now_ns <= kStaleReadingNs : now_ns - seen < kClockGrainNs)) {
    return;
  }
  uint32_t elapsed_ms = 0;
  {
    std::lock_guard lock(lifetime_mutex_);
    elapsed_ms = step_locked(now_ns);
    fast_seen_ns_.store(seen_ns_, std::memory_order_relaxed);
    fast_next_tick_ns_.store(have_time_ ? wheel_ns_ + kNsPerMs : 0, std::memory_order_relaxed);
  }
  if (elapsed_ms > 0) usrsctp_handle_timers(elapsed_ms);  // outside our locks: it calls back into on_output
}

// advance()'s bookkeeping under lifetime_mutex_: the whole milliseconds the timer wheel has to move.
uint32_t UsrsctpStack::step_locked(uint64_t now_ns) {
  if (have_time_ && now_ns < seen_ns_ && seen_ns_ - now_ns <= kStaleReadingNs) return 0;
  if (!have_time_ || now_ns < seen_ns_) {
    seen_ns_ = wheel_ns_ = now_ns;
    have_time_ = true;
    return 0;
  }
  elapsed_ns_.fetch_add(now_ns - seen_ns_, std::memory_order_relaxed);
  seen_ns_ = now_ns;
  const uint64_t ms = (now_ns - wheel_ns_) / kNsPerMs;
  if (ms == 0) return 0;
  wheel_ns_ += ms * kNsPerMs;
  return ms > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(ms);
}

uint64_t UsrsctpStack::clock_us() {
  return kClockOriginUs + get().elapsed_ns_.load(std::memory_order_relaxed) / 1000;
}

int UsrsctpStack::on_output(void* addr, void* buffer, size_t length, uint8_t /*tos*/, uint8_t /*set_df*/) {
  UsrsctpStack& self = get();
  std::lock_guard lock(self.routes_mutex_);
  // Unknown tokens (an endpoint already gone, whose association usrsctp is still tearing down) are ignored.
  auto it = self.routes_.find(reinterpret_cast<uintptr_t>(addr));
  if (it == self.routes_.end()) return 0;
  std::lock_guard outbox_lock(it->second->mutex);
  it->second->push(static_cast<const uint8_t*>(buffer), length);
  return 0;
}

}  // namespace tandem::transport::detail
