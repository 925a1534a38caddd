#include "core/media/rtp/send_history.h"

#include <array>
#include <catch2/catch.hpp>
#include <vector>

#include "core/media/rtp/rtp_packet.h"
#include "support/alloc_counter.h"

using namespace tandem;
using namespace tandem::media::rtp;

namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kMs = 1'000'000;

// A packet whose payload (size and bytes) depends on its sequence number, so a wrong slot shows.
Bytes packet(uint16_t seq) {
  Bytes payload(10 + seq % 50, static_cast<uint8_t>(seq * 7));
  RtpHeader h;
  h.payload_type = 96;
  h.sequence_number = seq;
  h.ssrc = 0xABCD;
  Bytes out(200);
  auto n = write_rtp(h, payload, out);
  REQUIRE(n.ok());
  out.resize(*n);
  return out;
}

bool holds(SendHistory& history, uint16_t seq, uint64_t now_ns) {
  const auto found = history.find(seq, now_ns);
  return !found.empty() && Bytes(found.begin(), found.end()) == packet(seq);
}

}  // namespace

TEST_CASE("Send history answers a NACK with the original bytes and counts hits and misses", "[rtp]") {
  SendHistory history({.capacity = 500, .max_packet_size = 1200});
  CHECK(history.capacity() == 512);  // rounded up to a power of two
  for (uint16_t seq = 1000; seq < 1100; ++seq) REQUIRE(history.store(packet(seq), seq * kMs).ok());
  CHECK(history.stats().stored == 100);

  // The receiver lost 1010, 1011, 1050; 999 was never sent and 1200 not yet.
  const uint16_t lost[] = {999, 1010, 1011, 1050, 1200};
  std::array<uint8_t, 64> nack_bytes{};
  auto n = write_nack(1, 0xABCD, lost, nack_bytes);
  REQUIRE(n.ok());
  auto compound = parse_rtcp(std::span<const uint8_t>(nack_bytes.data(), *n));
  REQUIRE(compound.ok());
  std::vector<Bytes> resent;
  for (const RtcpPacket& p : *compound)
    if (auto nack = p.nack())
      CHECK(history.answer_nack(*nack, 1100 * kMs, [&](std::span<const uint8_t> b) {
        resent.emplace_back(b.begin(), b.end());
      }) == 3);
  REQUIRE(resent.size() == 3);
  CHECK(resent[0] == packet(1010));
  CHECK(resent[1] == packet(1011));
  CHECK(resent[2] == packet(1050));
  CHECK(history.stats().retransmitted == 3);
  CHECK(history.stats().missed == 2);
}

TEST_CASE("Send history forgets packets once capacity newer ones were sent", "[rtp]") {
  SendHistory history({.capacity = 64, .max_packet_size = 200});
  for (uint16_t seq = 0; seq < 64; ++seq) REQUIRE(history.store(packet(seq), 0).ok());
  CHECK(holds(history, 0, 0));
  CHECK(holds(history, 63, 0));
  REQUIRE(history.store(packet(64), 0).ok());  // reuses packet 0's slot
  CHECK(history.find(0, 0).empty());
  CHECK(holds(history, 1, 0));
  CHECK(holds(history, 64, 0));
  // A gap: sequence 200 jumps ahead; everything more than 64 behind it is gone even if its slot was not reused.
  REQUIRE(history.store(packet(200), 0).ok());
  CHECK(history.find(130, 0).empty());
  CHECK(history.find(64, 0).empty());
  CHECK(history.find(10, 0).empty());  // its slot still holds it, but it is 190 behind
  CHECK(holds(history, 200, 0));
  CHECK(history.retransmit(64, 0).empty());
  CHECK(history.stats().missed == 1);
}

TEST_CASE("Send history holds exactly the last capacity sequence numbers, even across a gap", "[rtp]") {
  SendHistory history({.capacity = 64, .max_packet_size = 200});
  for (uint16_t seq = 0; seq < 64; ++seq) REQUIRE(history.store(packet(seq), 0).ok());
  REQUIRE(history.store(packet(65), 0).ok());  // 64 was never sent: slot 0 still holds packet 0
  CHECK(history.find(0, 0).empty());
  CHECK(history.find(1, 0).empty());  // 64 behind the newest: outside the window though its slot holds it
  CHECK(holds(history, 2, 0));        // 63 behind: inside
  CHECK(holds(history, 65, 0));
}

TEST_CASE("Send history works across the sequence number wrap", "[rtp]") {
  SendHistory history({.capacity = 16, .max_packet_size = 200});
  for (uint32_t i = 65530; i < 65530 + 12; ++i) REQUIRE(history.store(packet(static_cast<uint16_t>(i)), 0).ok());
  // Held: 65530..65535 and 0..5.
  for (uint16_t seq : {65530, 65535, 0, 5}) CHECK(holds(history, seq, 0));
  CHECK(history.find(6, 0).empty());       // not sent yet (ahead of the newest)
  CHECK(history.find(65529, 0).empty());   // never stored
  for (uint32_t i = 6; i < 6 + 14; ++i) REQUIRE(history.store(packet(static_cast<uint16_t>(i)), 0).ok());
  // Newest 19: the 16 held are 4..19.
  CHECK(history.find(65535, 0).empty());
  CHECK(history.find(3, 0).empty());
  CHECK(holds(history, 4, 0));
  CHECK(holds(history, 19, 0));
}

TEST_CASE("Send history does not resend packets older than max_age", "[rtp]") {
  SendHistory history({.capacity = 64, .max_packet_size = 200, .max_age_ns = 500 * kMs});
  REQUIRE(history.store(packet(1), 1000 * kMs).ok());
  REQUIRE(history.store(packet(2), 1400 * kMs).ok());
  CHECK(holds(history, 1, 1500 * kMs));
  CHECK(history.retransmit(1, 1501 * kMs).empty());
  CHECK_FALSE(history.retransmit(2, 1501 * kMs).empty());
  CHECK(history.stats().missed == 1);
  CHECK(history.stats().retransmitted == 1);
}

TEST_CASE("Send history rejects what is not an RTP packet or does not fit a slot", "[rtp]") {
  SendHistory history({.capacity = 8, .max_packet_size = 100});
  CHECK(history.store(Bytes(11, 0x80), 0).code() == Errc::invalid_argument);
  CHECK(history.store(Bytes(101, 0x80), 0).code() == Errc::invalid_argument);
  CHECK(history.store(Bytes(100, 0x80), 0).ok());
  CHECK(history.stats().stored == 1);
  CHECK(SendHistory({.capacity = 0}).capacity() == 1);
  CHECK(SendHistory({.capacity = 100000}).capacity() == 32768);
}

TEST_CASE("Send history stores and retransmits without allocating", "[rtp]") {
  SendHistory history;  // 512 x 1500 bytes, allocated here
  Bytes outgoing = packet(0);
  size_t found = 0;
  test::AllocationScope scope;
  for (uint32_t i = 0; i < 70000; ++i) {  // past the 16-bit wrap
    const uint16_t seq = static_cast<uint16_t>(i);
    store_be16(outgoing.data() + 2, seq);
    if (!history.store(outgoing, i * kMs).ok()) break;
    const auto resent = history.retransmit(static_cast<uint16_t>(seq - 100), i * kMs);
    if (i >= 100 && resent.size() == outgoing.size() && load_be16(resent.data() + 2) == uint16_t(seq - 100)) ++found;
  }
  CHECK(scope.count() == 0);
  CHECK(found == 70000 - 100);
  CHECK(history.stats().missed == 100);
}
