// usrsctp's timers run on the time we give it (usrsctp_handle_timers), but it also reads the wall clock
// (gettimeofday) for RTT samples, for choosing which chunks a T3 timeout retransmits (only those sent more than
// one RTO ago) and for PR-SCTP lifetimes. In production the runtime's time and the wall clock advance together;
// a simulation that runs faster than real time breaks that: a T3 timeout then finds every chunk "sent just now"
// by the wall clock, retransmits nothing, and the association stalls.
//
// While a UsrsctpTestClock lives, gettimeofday on this thread reports the simulated clock instead (shifted so
// that what it reports never goes backwards across tests), restoring the production invariant. The test binary
// defines gettimeofday for this (usrsctp_test_clock.cpp); without an override it reports the real time (plus
// how far earlier simulations ran ahead of it, so that it never goes backwards either).
#pragma once

#include <cstdint>

namespace tandem::test {

class UsrsctpTestClock {
 public:
  explicit UsrsctpTestClock(const uint64_t* now_ns);  // `now_ns` must outlive this object
  ~UsrsctpTestClock();
  UsrsctpTestClock(const UsrsctpTestClock&) = delete;
  UsrsctpTestClock& operator=(const UsrsctpTestClock&) = delete;

 private:
  const uint64_t* previous_;
  int64_t previous_offset_;
};

}  // namespace tandem::test
