#include "core/transport/stun/demux.h"

#include <catch2/catch.hpp>

#include <vector>

using namespace tandem::transport;

TEST_CASE("demux: RFC 7983 ranges of the first byte", "[demux]") {
  for (int b = 0; b < 256; ++b) {
    const std::vector<uint8_t> d{static_cast<uint8_t>(b), 0, 0, 0};
    PacketClass want = PacketClass::unknown;
    if (b <= 3) want = PacketClass::stun;
    else if (b >= 16 && b <= 19) want = PacketClass::zrtp;
    else if (b >= 20 && b <= 63) want = PacketClass::dtls;
    else if (b >= 64 && b <= 79) want = PacketClass::turn_channel;
    else if (b >= 128 && b <= 191) want = PacketClass::rtp_rtcp;
    INFO(b);
    CHECK(classify(d) == want);
  }
  CHECK(classify({}) == PacketClass::unknown);
  // Boundaries named explicitly, so an off-by-one in either direction shows up by name.
  const auto one = [](uint8_t b) { return classify(std::vector<uint8_t>{b}); };
  CHECK(one(3) == PacketClass::stun);
  CHECK(one(4) == PacketClass::unknown);
  CHECK(one(15) == PacketClass::unknown);
  CHECK(one(20) == PacketClass::dtls);  // change_cipher_spec
  CHECK(one(22) == PacketClass::dtls);  // handshake
  CHECK(one(23) == PacketClass::dtls);  // application_data
  CHECK(one(63) == PacketClass::dtls);
  CHECK(one(64) == PacketClass::turn_channel);
  CHECK(one(79) == PacketClass::turn_channel);
  CHECK(one(80) == PacketClass::unknown);
  CHECK(one(127) == PacketClass::unknown);
  CHECK(one(0x80) == PacketClass::rtp_rtcp);
  CHECK(one(191) == PacketClass::rtp_rtcp);
  CHECK(one(192) == PacketClass::unknown);
  CHECK(to_string(PacketClass::dtls) == "dtls");
}

TEST_CASE("demux: RTCP inside rtcp-mux by the second octet (RFC 5761 section 4)", "[demux]") {
  const auto pkt = [](uint8_t b0, uint8_t b1) { return std::vector<uint8_t>{b0, b1, 0, 1, 0, 0, 0, 0}; };
  CHECK(is_rtcp(pkt(0x80, 200)));   // SR
  CHECK(is_rtcp(pkt(0x81, 201)));   // RR with one report block
  CHECK(is_rtcp(pkt(0x8f, 206)));   // PSFB (PLI)
  CHECK(is_rtcp(pkt(0x80, 192)));   // lowest of the range
  CHECK(is_rtcp(pkt(0x80, 223)));   // highest
  CHECK_FALSE(is_rtcp(pkt(0x80, 191)));
  CHECK_FALSE(is_rtcp(pkt(0x80, 224)));
  CHECK_FALSE(is_rtcp(pkt(0x80, 96)));         // RTP, dynamic PT 96
  CHECK_FALSE(is_rtcp(pkt(0x80, 0x80 | 111)));  // RTP Opus with the marker bit
  CHECK_FALSE(is_rtcp(pkt(0x40, 200)));        // not version 2
  CHECK_FALSE(is_rtcp(std::vector<uint8_t>{0x80, 200, 0}));  // shorter than an RTCP header
  CHECK_FALSE(is_rtcp({}));
}
