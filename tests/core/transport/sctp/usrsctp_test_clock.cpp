#include "tests/core/transport/sctp/usrsctp_test_clock.h"

#include <sys/time.h>
#include <time.h>

#include <algorithm>

// glibc declares gettimeofday noexcept in C++; musl (wasm) does not. A definition must match.
#if defined(__GLIBC__)
#define TANDEM_GETTIMEOFDAY_NOEXCEPT noexcept
#else
#define TANDEM_GETTIMEOFDAY_NOEXCEPT
#endif

namespace {

thread_local const uint64_t* g_now = nullptr;  // the simulated clock, while overridden
thread_local int64_t g_offset = 0;             // simulated -> reported
thread_local uint64_t g_last_reported = 0;
thread_local uint64_t g_ahead = 0;  // without an override: real time plus how far simulations ran ahead of it

uint64_t real_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t reported_ns() {
  const uint64_t ns = g_now ? static_cast<uint64_t>(static_cast<int64_t>(*g_now) + g_offset) : real_ns() + g_ahead;
  g_last_reported = std::max(g_last_reported, ns);
  return ns;
}

}  // namespace

// Interposes on the C library's gettimeofday for the whole test binary (usrsctp is a shared library natively
// and a static one in wasm; both resolve to this definition).
extern "C" int gettimeofday(struct timeval* __restrict tv, void* __restrict /*tz*/) TANDEM_GETTIMEOFDAY_NOEXCEPT {
  if (tv) {
    const uint64_t ns = reported_ns();
    tv->tv_sec = static_cast<time_t>(ns / 1'000'000'000u);
    tv->tv_usec = static_cast<suseconds_t>(ns % 1'000'000'000u / 1000u);
  }
  return 0;
}

namespace tandem::test {

UsrsctpTestClock::UsrsctpTestClock(const uint64_t* now_ns) : previous_(g_now), previous_offset_(g_offset) {
  // Continue from the later of the real time and anything reported before, one millisecond on.
  const uint64_t start = std::max(real_ns() + g_ahead, g_last_reported) + 1'000'000;
  g_offset = static_cast<int64_t>(start) - static_cast<int64_t>(*now_ns);
  g_now = now_ns;
}

UsrsctpTestClock::~UsrsctpTestClock() {
  const uint64_t real = real_ns();
  if (g_last_reported > real) g_ahead = std::max(g_ahead, g_last_reported - real);
  g_now = previous_;
  g_offset = previous_offset_;
}

}  // namespace tandem::test
