// Internal to core/transport/sctp: the process-global side of usrsctp, which every SctpEndpoint shares.
//
// usrsctp has one stack, one timer wheel and one output callback per process. UsrsctpStack owns them: it
// initialises usrsctp (usrsctp_init_nothreads) when the first endpoint attaches and finishes it after the last
// one detaches, advances the timer wheel to the newest time any endpoint was given (and usrsctp's clock with
// it: see clock_us), and routes each packet
// usrsctp emits to the Outbox of the endpoint whose AF_CONN address (a token) it names. The output callback
// can run on any thread that drives usrsctp (another endpoint's timers), hence the locks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/transport/sctp/sctp_stack.h"

namespace tandem::transport::detail {

constexpr size_t kSctpCommonHeaderSize = 12;  // ports, verification tag, CRC32c (RFC 4960 section 3.1)

// Packets usrsctp produced for one endpoint, guarded by `mutex`. Slots keep their buffers, so once the ring
// has grown to the largest burst, queueing a packet is a memcpy.
struct Outbox {
  std::mutex mutex;
  std::vector<std::vector<uint8_t>> slots;
  size_t head = 0;
  size_t count = 0;
  bool lent = false;  // slots[head] is the view poll_transmit() last returned
  // What went out, observed on the wire.
  uint64_t packets = 0, bytes = 0, data_chunks = 0, retransmitted = 0;
  uint32_t highest_tsn = 0;
  bool any_tsn = false;

  void push(const uint8_t* p, size_t n);

 private:
  void grow();
  void observe(const uint8_t* p, size_t n);
};

class UsrsctpStack {
 public:
  static UsrsctpStack& get();

  // Registers an endpoint's outbox and returns its AF_CONN token. Applies the process-wide part of `tuning`
  // (max_chunks_on_queue: the newest endpoint's choice wins).
  uintptr_t attach(Outbox* outbox, const SctpTuning& tuning);
  void detach(uintptr_t token);  // after this no callback reaches the outbox
  // The sysctl usrsctp reads when an association's path is created (0: usrsctp's default).
  void set_initial_cwnd(uint32_t mtus);
  // Brings usrsctp's timer wheel and clock up to `now_ns`; runs due timers (outside our locks).
  void advance(uint64_t now_ns);

 private:
  static int on_output(void* addr, void* buffer, size_t length, uint8_t tos, uint8_t set_df);
  // The clock usrsctp reads (usrsctp_tandem_set_clock, scripts/patches/usrsctp-clock-hook.patch) for RTT
  // samples, T3 retransmission marking and timestamps: the time the endpoints were given, summed over the
  // steps advance() took, so it runs exactly as the timer wheel does — on simulated time as on real time.
  static uint64_t clock_us();
  uint32_t step_locked(uint64_t now_ns);

  std::mutex lifetime_mutex_;  // users_, initialized_, the sysctls and the timer wheel's time
  int users_ = 0;
  bool initialized_ = false;
  bool have_time_ = false;
  uint64_t seen_ns_ = 0;   // the newest time an endpoint gave
  uint64_t wheel_ns_ = 0;  // how far the timer wheel has been moved, on seen_ns_'s scale (whole ms steps)
  // Copies of seen_ns_ and of the end of the wheel's current millisecond (0 without a time), written under
  // lifetime_mutex_ and read without it by advance()'s fast path.
  std::atomic<uint64_t> fast_seen_ns_{0};
  std::atomic<uint64_t> fast_next_tick_ns_{0};
  std::atomic<uint64_t> elapsed_ns_{0};  // clock_us()'s source; never goes back, also across re-initialisation
  uint32_t default_initial_cwnd_ = 0;
  uint32_t default_max_chunks_ = 0;

  std::mutex routes_mutex_;  // taken before an outbox's mutex, never the other way round
  std::unordered_map<uintptr_t, Outbox*> routes_;
  uintptr_t next_token_ = 1;
};

}  // namespace tandem::transport::detail
