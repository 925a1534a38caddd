#include "core/transport/sctp/dcep.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "core/sim/rng.h"

using namespace tandem;
using namespace tandem::transport;

TEST_CASE("DCEP: DATA_CHANNEL_OPEN round-trips every channel type", "[datachannel][dcep]") {
  const auto reliability = GENERATE(DcepReliability::reliable, DcepReliability::max_retransmits,
                                    DcepReliability::max_lifetime);
  const bool ordered = GENERATE(true, false);
  DcepOpen open;
  open.ordered = ordered;
  open.reliability = reliability;
  open.reliability_parameter = 0x01020304;
  open.priority = 512;
  open.label = "chat \xF0\x9F\x98\x80";
  open.protocol = "x-proto";
  std::vector<uint8_t> wire;
  REQUIRE(write_dcep_open(open, wire).ok());
  REQUIRE(wire.size() == kDcepOpenHeaderSize + open.label.size() + open.protocol.size());
  CHECK(wire[0] == 0x03);
  CHECK(wire[1] == (static_cast<uint8_t>(reliability) | (ordered ? 0 : 0x80)));  // RFC 8832 section 5.1
  CHECK(wire[4] == 0x01);  // big-endian reliability parameter
  CHECK(wire[7] == 0x04);

  auto parsed = parse_dcep_open(wire);
  REQUIRE(parsed.ok());
  CHECK(parsed->ordered == ordered);
  CHECK(parsed->reliability == reliability);
  CHECK(parsed->reliability_parameter == 0x01020304);
  CHECK(parsed->priority == 512);
  CHECK(parsed->label == open.label);
  CHECK(parsed->protocol == open.protocol);
  CHECK(dcep_message_type(wire).value() == DcepMessageType::open);
  const uint8_t ack = 0x02;
  CHECK(dcep_message_type({&ack, 1}).value() == DcepMessageType::ack);
}

TEST_CASE("DCEP: malformed messages are rejected", "[datachannel][dcep]") {
  DcepOpen open;
  open.label = "label";
  open.protocol = "p";
  std::vector<uint8_t> good;
  REQUIRE(write_dcep_open(open, good).ok());

  CHECK(dcep_message_type({}).code() == Errc::malformed_packet);
  const uint8_t unknown = 0x07;
  CHECK(dcep_message_type({&unknown, 1}).code() == Errc::malformed_packet);
  for (size_t n = 0; n < good.size(); ++n) {  // every truncation
    CHECK(parse_dcep_open({good.data(), n}).code() == Errc::malformed_packet);
  }
  auto longer = good;
  longer.push_back(0);
  CHECK(parse_dcep_open(longer).code() == Errc::malformed_packet);
  auto bad_type = good;
  bad_type[1] = 0x03;  // no such channel type
  CHECK(parse_dcep_open(bad_type).code() == Errc::malformed_packet);
  auto ack_not_open = good;
  ack_not_open[0] = 0x02;
  CHECK(parse_dcep_open(ack_not_open).code() == Errc::malformed_packet);

  const std::string huge(70'000, 'x');
  open.label = huge;
  CHECK(write_dcep_open(open, good).code() == Errc::invalid_argument);
}

TEST_CASE("DCEP: random and mutated input never breaks the parser", "[datachannel][dcep]") {
  sim::Rng rng(8832);
  DcepOpen open;
  open.label = "a-label";
  open.protocol = "proto";
  std::vector<uint8_t> good;
  REQUIRE(write_dcep_open(open, good).ok());
  size_t accepted = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::vector<uint8_t> m;
    if (i % 2) {
      m.resize(rng.up_to(40));
      for (auto& b : m) b = static_cast<uint8_t>(rng.next_u64());
      if (!m.empty() && i % 4 == 1) m[0] = 0x03;
    } else {
      m = good;
      for (uint64_t k = rng.up_to(3); k-- > 0;) m[rng.up_to(m.size() - 1)] = static_cast<uint8_t>(rng.next_u64());
      if (rng.chance(0.2)) m.resize(rng.up_to(m.size()));
    }
    auto r = parse_dcep_open(m);
    if (r.ok()) {
      ++accepted;
      // Whatever parses accounts for every byte and points inside the message.
      CHECK(kDcepOpenHeaderSize + r->label.size() + r->protocol.size() == m.size());
    } else {
      CHECK(r.code() == Errc::malformed_packet);
    }
  }
  CHECK(accepted > 0);  // mutations of label bytes stay valid: the fuzzer reaches the success path too
}
