#include "core/media/jitter/nack_tracker.h"

#include <array>
#include <catch2/catch.hpp>
#include <vector>

#include "support/alloc_counter.h"

using namespace tandem;
using namespace tandem::media;

namespace {

constexpr uint64_t kMs = 1'000'000;

NackTracker make_tracker(NackConfig config = {}) {
  auto t = NackTracker::create(config);
  REQUIRE(t.ok());
  return std::move(t).value();
}

std::vector<uint16_t> collect(NackTracker& t, uint64_t now, size_t room = 64) {
  std::array<uint16_t, 64> out{};
  const size_t n = t.collect_nacks(now, std::span<uint16_t>(out.data(), room));
  return {out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n)};
}

}  // namespace

TEST_CASE("NACK tracker rejects invalid settings", "[jitter]") {
  NackConfig c;
  c.window = 0;
  CHECK(NackTracker::create(c).code() == Errc::invalid_argument);
  c.window = 40000;
  CHECK(NackTracker::create(c).code() == Errc::invalid_argument);
  c = {};
  c.max_retries = 0;
  CHECK(NackTracker::create(c).code() == Errc::invalid_argument);
}

TEST_CASE("NACK tracker requests a gap, retries every RTT and stops when the packet arrives", "[jitter]") {
  auto t = make_tracker();
  t.set_rtt(50 * kMs);
  t.on_packet(100, 0);
  t.on_packet(101, 1 * kMs);
  CHECK_FALSE(t.next_timeout());
  t.on_packet(104, 2 * kMs);  // 102 and 103 missing
  CHECK(t.missing() == 2);
  CHECK(t.next_timeout() == 2 * kMs);
  CHECK(collect(t, 2 * kMs) == std::vector<uint16_t>{102, 103});
  CHECK(collect(t, 2 * kMs).empty());  // not again before the retry interval
  CHECK(t.next_timeout() == 52 * kMs);
  CHECK(collect(t, 51 * kMs).empty());
  CHECK(collect(t, 52 * kMs) == std::vector<uint16_t>{102, 103});
  t.on_packet(103, 60 * kMs);  // the retransmission
  CHECK(t.stats().recovered == 1);
  CHECK(collect(t, 200 * kMs) == std::vector<uint16_t>{102});
  CHECK(t.stats().nacks_sent == 5);
  t.on_packet(103, 201 * kMs);  // a duplicate changes nothing
  CHECK(t.stats().recovered == 1);
}

TEST_CASE("NACK tracker never retries faster than its minimum interval", "[jitter]") {
  NackConfig c;
  c.min_retry_interval_ns = 20 * kMs;
  auto t = make_tracker(c);
  t.set_rtt(1 * kMs);
  t.on_packet(1, 0);
  t.on_packet(3, 0);
  CHECK(collect(t, 0).size() == 1);
  CHECK(collect(t, 19 * kMs).empty());
  CHECK(collect(t, 20 * kMs).size() == 1);
}

TEST_CASE("NACK tracker gives up after its retries", "[jitter]") {
  NackConfig c;
  c.max_retries = 3;
  c.initial_rtt_ns = 10 * kMs;
  auto t = make_tracker(c);
  t.on_packet(7, 0);
  t.on_packet(9, 0);
  uint64_t now = 0;
  for (int i = 0; i < 3; ++i, now += 10 * kMs) CHECK(collect(t, now) == std::vector<uint16_t>{8});
  CHECK(t.missing() == 1);  // the last NACK still gets an interval to be answered
  CHECK(collect(t, now).empty());
  CHECK(t.missing() == 0);
  CHECK(t.stats().given_up == 1);
  CHECK(t.stats().nacks_sent == 3);
  CHECK_FALSE(t.next_timeout());
  t.on_packet(8, now);  // too late to count as recovered
  CHECK(t.stats().recovered == 0);
}

TEST_CASE("NACK tracker handles sequence number wrap-around", "[jitter]") {
  auto t = make_tracker();
  t.on_packet(65533, 0);
  t.on_packet(2, 0);  // 65534, 65535, 0, 1 missing across the wrap
  CHECK(collect(t, 0) == std::vector<uint16_t>{65534, 65535, 0, 1});
  t.on_packet(65535, 1 * kMs);
  t.on_packet(0, 1 * kMs);
  CHECK(t.stats().recovered == 2);
  CHECK(t.missing() == 2);
  CHECK(collect(t, 1000 * kMs) == std::vector<uint16_t>{65534, 1});
}

TEST_CASE("NACK tracker waits for reordering before the first NACK when asked to", "[jitter]") {
  NackConfig c;
  c.reorder_wait_ns = 10 * kMs;
  auto t = make_tracker(c);
  t.on_packet(1, 0);
  t.on_packet(4, 0);
  t.on_packet(2, 5 * kMs);  // just reordered: never NACKed
  CHECK(collect(t, 9 * kMs).empty());
  CHECK(collect(t, 10 * kMs) == std::vector<uint16_t>{3});
  CHECK(t.stats().reordered == 1);
  CHECK(t.stats().recovered == 0);
}

TEST_CASE("NACK tracker fills a small output buffer oldest first and keeps the rest due", "[jitter]") {
  auto t = make_tracker();
  t.on_packet(0, 0);
  t.on_packet(11, 0);  // 1..10 missing
  CHECK(collect(t, 0, 4) == std::vector<uint16_t>{1, 2, 3, 4});
  CHECK(collect(t, 0, 4) == std::vector<uint16_t>{5, 6, 7, 8});
  CHECK(collect(t, 0, 4) == std::vector<uint16_t>{9, 10});
}

TEST_CASE("NACK tracker forgets numbers that fall out of its window or are abandoned", "[jitter]") {
  NackConfig c;
  c.window = 16;
  auto t = make_tracker(c);
  t.on_packet(0, 0);
  t.on_packet(2, 0);  // 1 missing
  t.on_packet(10, 0);  // 3..9 missing
  CHECK(t.missing() == 8);
  t.on_packet(17, 0);  // 1 is now 16 behind: too old; 11..16 missing
  CHECK(t.stats().given_up == 1);
  CHECK(t.missing() == 13);
  t.forget_before(12);  // e.g. a keyframe was requested
  CHECK(collect(t, 0) == std::vector<uint16_t>{12, 13, 14, 15, 16});
  t.on_packet(1000, 0);  // a discontinuity: nothing in between is requested
  CHECK(t.stats().discontinuities == 1);
  CHECK(t.missing() == 0);
  CHECK(t.stats().given_up == 14);
  t.on_packet(5, 0);  // far older than the window: ignored
  CHECK(t.missing() == 0);
}

TEST_CASE("NACK tracker does not allocate per packet", "[jitter]") {
  auto t = make_tracker();
  std::array<uint16_t, 32> out{};
  uint64_t sent = 0;
  uint16_t seq = 60000;  // crosses the wrap
  test::AllocationScope scope;
  for (uint64_t i = 0; i < 20000; ++i) {
    const uint64_t now = i * kMs;
    if (i % 50 != 7) t.on_packet(seq, now);  // a steady 2% loss
    ++seq;
    sent += t.collect_nacks(now, out);
    (void)t.next_timeout();
  }
  CHECK(scope.count() == 0);
  CHECK(sent > 0);
}
