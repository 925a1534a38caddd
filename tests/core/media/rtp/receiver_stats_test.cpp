#include "core/media/rtp/receiver_stats.h"

#include <array>
#include <catch2/catch.hpp>

#include "support/alloc_counter.h"

using namespace tandem;
using namespace tandem::media::rtp;

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSecond = 1'000'000'000;

}  // namespace

TEST_CASE("Receiver stats: a hand-computed scenario with loss, reordering and jitter", "[rtp]") {
  // 8 kHz audio, 20 ms packets: timestamps step by 160. Arrival times in ms; in RTP ticks they are ms * 8.
  //   seq  ts    arrival  transit (arrival*8 - ts)  D vs previous in-order packet
  //   0    0     100      800
  //   1    160   120      800                       0
  //   2    320   150      880                       80   (10 ms late)
  //   3    -     -        lost
  //   4    640   180      800                      -80
  //   5    800   200      800                       0
  //   7    1120  240      800                       0
  //   6    960   241      reordered: counted as received, not used for jitter
  //   8    1280  260      800                       0
  //   9    1440  280      800                       0
  // Jitter, J += (|D| - J) / 16 in real numbers: 0, 5, 9.6875, 9.0820, 8.5144, 7.9822, 7.4834 -> reported 7.
  ReceiverStats stats(0xFEED, 8000);
  struct Arrival {
    uint16_t seq;
    uint32_t ts;
    uint64_t ms;
  };
  const Arrival arrivals[] = {{0, 0, 100},    {1, 160, 120},  {2, 320, 150},  {4, 640, 180}, {5, 800, 200},
                              {7, 1120, 240}, {6, 960, 241}, {8, 1280, 260}, {9, 1440, 280}};
  for (const Arrival& a : arrivals) stats.on_packet(a.seq, a.ts, a.ms * kMs);

  CHECK(stats.received() == 9);
  CHECK(stats.expected() == 10);
  CHECK(stats.cumulative_lost() == 1);
  CHECK(stats.extended_highest_sequence() == 9);
  CHECK(stats.jitter() == 7);

  ReportBlock block = stats.make_report_block(300 * kMs);
  CHECK(block.ssrc == 0xFEED);
  CHECK(block.fraction_lost == 25);  // 1 of 10: 256 / 10 = 25.6, truncated
  CHECK(block.cumulative_lost == 1);
  CHECK(block.extended_highest_sequence == 9);
  CHECK(block.jitter == 7);
  CHECK(block.last_sr == 0);  // no SR received yet
  CHECK(block.delay_since_last_sr == 0);

  // Second interval: 10 and 11 lost, 12..19 arrive on time. Interval: 10 expected, 8 received.
  for (uint16_t seq = 12; seq < 20; ++seq) stats.on_packet(seq, seq * 160u, (100 + seq * 20ull) * kMs);
  block = stats.make_report_block(500 * kMs);
  CHECK(block.fraction_lost == 51);  // 2 * 256 / 10 = 51.2
  CHECK(block.cumulative_lost == 3);
  CHECK(block.extended_highest_sequence == 19);

  // Third interval: 20 arrives, then 19 and 20 again (duplicates). RFC 3550 counts duplicates as received, so
  // the interval shows no loss and the cumulative loss drops by two. Duplicates do not feed the jitter.
  stats.on_packet(20, 3200, 500 * kMs);
  const uint32_t jitter_before = stats.jitter();
  stats.on_packet(19, 3040, 501 * kMs);  // 21 ms late: would add |D| = 168 ticks if it counted for jitter
  stats.on_packet(20, 3200, 510 * kMs);  // 20 again, 10 ms later: a duplicate of the newest
  CHECK(stats.jitter() == jitter_before);
  block = stats.make_report_block(600 * kMs);
  CHECK(block.fraction_lost == 0);
  CHECK(block.cumulative_lost == 1);
  CHECK(stats.received() == 20);
  CHECK(stats.expected() == 21);

  // An interval with nothing received reports no loss (nothing expected either).
  block = stats.make_report_block(700 * kMs);
  CHECK(block.fraction_lost == 0);
}

TEST_CASE("Receiver stats: steady jitter converges to the delay variation", "[rtp]") {
  // Transit alternates between +0 and +4 ms (32 ticks at 8 kHz): |D| = 32 every packet; J converges to 32.
  ReceiverStats stats(1, 8000);
  for (uint16_t seq = 0; seq < 400; ++seq) stats.on_packet(seq, seq * 160u, (seq * 20ull + (seq % 2) * 4) * kMs);
  CHECK(stats.jitter() >= 31);
  CHECK(stats.jitter() <= 32);
  CHECK(stats.make_report_block(0).fraction_lost == 0);
}

TEST_CASE("Receiver stats: the sequence number wraps into the extended highest sequence", "[rtp]") {
  ReceiverStats stats(1, 90000);
  for (uint32_t i = 65530; i <= 65536 + 5; ++i) stats.on_packet(static_cast<uint16_t>(i), i * 3000, i * kMs);
  CHECK(stats.extended_highest_sequence() == 65536 + 5);
  CHECK(stats.expected() == 12);
  CHECK(stats.received() == 12);
  CHECK(stats.cumulative_lost() == 0);
  // A packet from before the wrap arriving late is reordering, not a new cycle.
  stats.on_packet(65534, 0, 65600 * kMs);
  CHECK(stats.extended_highest_sequence() == 65536 + 5);
  CHECK(stats.received() == 13);
  const ReportBlock block = stats.make_report_block(0);
  CHECK(block.extended_highest_sequence == 0x00010005);
  CHECK(block.cumulative_lost == -1);
}

TEST_CASE("Receiver stats: a large jump counts only once the next packet confirms it", "[rtp]") {
  ReceiverStats stats(1, 90000);
  for (uint16_t seq = 100; seq <= 110; ++seq) stats.on_packet(seq, 0, 0);
  stats.on_packet(9000, 0, 0);  // 8890 ahead: ignored for now
  CHECK(stats.received() == 11);
  CHECK(stats.extended_highest_sequence() == 110);
  stats.on_packet(111, 0, 0);  // the stream goes on: 9000 was a stray
  CHECK(stats.received() == 12);
  CHECK(stats.extended_highest_sequence() == 111);

  stats.on_packet(40000, 0, 0);
  stats.on_packet(40001, 0, 0);  // confirmed: the sender restarted its sequence; statistics start over
  CHECK(stats.extended_highest_sequence() == 40001);
  CHECK(stats.received() == 1);
  CHECK(stats.expected() == 1);
  CHECK(stats.cumulative_lost() == 0);
}

TEST_CASE("Receiver stats: LSR and DLSR echo the last sender report", "[rtp]") {
  ReceiverStats stats(1, 48000);
  stats.on_packet(1, 0, 0);
  stats.on_sender_report(0x0000ABCD12345678ull, 1 * kSecond);
  ReportBlock block = stats.make_report_block(1 * kSecond + 500 * kMs);
  CHECK(block.last_sr == 0xABCD1234);
  CHECK(block.delay_since_last_sr == 32768);  // 0.5 s in 1/65536 s
  stats.on_sender_report(0x0000111122223333ull, 2 * kSecond);
  block = stats.make_report_block(2 * kSecond);
  CHECK(block.last_sr == 0x11112222);
  CHECK(block.delay_since_last_sr == 0);
}

TEST_CASE("Sender stats: counts, SR timestamps and the round trip back from a report block", "[rtcp]") {
  CHECK(ntp_from_ns(1'500'000'000) == 0x0000000180000000ull);
  CHECK(ns_to_rtp_ticks(20 * kMs, 90000) == 1800);
  CHECK(ns_to_rtp_ticks(10'000 * kSecond + 1, 48000) == 480'000'000);

  SenderStats sender(0x5EED, 90000);
  // The caller's wall clock said NTP 3'900'000'000.5 s when the monotonic clock said 0.
  const uint64_t ntp_offset = 3'900'000'000ull * kSecond + 500 * kMs;
  SenderInfo info = sender.sender_info(0, ntp_offset);
  CHECK(info.packet_count == 0);
  CHECK(info.rtp_timestamp == 0);
  CHECK(info.ntp_timestamp == (3'900'000'000ull << 32 | 0x80000000ull));

  sender.on_packet_sent(100, 1000, 10 * kMs);
  sender.on_packet_sent(200, 1900, 20 * kMs);
  info = sender.sender_info(30 * kMs, ntp_offset);
  CHECK(info.packet_count == 2);
  CHECK(info.octet_count == 300);
  CHECK(info.rtp_timestamp == 1900 + 900);  // 10 ms after the last packet at 90 kHz
  CHECK(info.ntp_timestamp == ntp_from_ns(30 * kMs + ntp_offset));

  // The remote side gets our SR, holds it 250 ms, and reports back; 100 ms of network on top: RTT 100 ms.
  ReceiverStats remote(0x5EED, 90000);
  remote.on_packet(1, 1900, 5 * kSecond);
  remote.on_sender_report(info.ntp_timestamp, 5 * kSecond);
  const ReportBlock block = remote.make_report_block(5 * kSecond + 250 * kMs);
  const auto rtt = SenderStats::round_trip_ns(block, 30 * kMs + 250 * kMs + 100 * kMs, ntp_offset);
  REQUIRE(rtt.has_value());
  CHECK(*rtt >= 100 * kMs - 50'000);  // 1/65536 s resolution
  CHECK(*rtt <= 100 * kMs + 50'000);

  CHECK_FALSE(SenderStats::round_trip_ns(ReportBlock{}, 0, ntp_offset).has_value());  // no SR echoed
  ReportBlock future = block;
  future.delay_since_last_sr += 65536;  // claims a hold longer than the time elapsed
  CHECK_FALSE(SenderStats::round_trip_ns(future, 380 * kMs, ntp_offset).has_value());
}

TEST_CASE("Receiver stats: packets and reports allocate nothing", "[rtp]") {
  ReceiverStats stats(1, 90000);
  SenderStats sender(2, 90000);
  uint64_t sink = 0;
  test::AllocationScope scope;
  for (uint32_t i = 0; i < 10000; ++i) {
    if (i % 10 != 3) stats.on_packet(static_cast<uint16_t>(i), i * 3000, i * 33 * kMs);
    sender.on_packet_sent(1000, i * 3000, i * 33 * kMs);
    if (i % 100 == 0)
      sink += stats.make_report_block(i * 33 * kMs).fraction_lost + sender.sender_info(i, 0).packet_count;
  }
  CHECK(scope.count() == 0);
  CHECK(sink > 0);
}
