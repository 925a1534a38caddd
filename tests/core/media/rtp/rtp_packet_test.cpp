#include "core/media/rtp/rtp_packet.h"

#include <array>
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "support/alloc_counter.h"
#include "support/bytes.h"

using namespace tandem;
using namespace tandem::media::rtp;

using test::Bytes;
using test::cat;

namespace {

// The 12-byte fixed header (RFC 3550 section 5.1) with the flag bits given as the first byte.
Bytes fixed_header(uint8_t first_byte, uint8_t marker_and_pt = 0x60) {
  return {first_byte, marker_and_pt, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x11, 0x22, 0x33, 0x44};
}

std::vector<std::pair<int, Bytes>> elements(const RtpPacketView& v) {
  std::vector<std::pair<int, Bytes>> out;
  for (const RtpExtension& e : v.extensions()) out.emplace_back(e.id, Bytes(e.data.begin(), e.data.end()));
  return out;
}

Bytes as_bytes(std::span<const uint8_t> s) { return Bytes(s.begin(), s.end()); }

void check_malformed(const Bytes& packet, const char* why) {
  INFO(why);
  auto r = parse_rtp(packet);
  REQUIRE_FALSE(r.ok());
  CHECK(r.code() == Errc::malformed_packet);
  CHECK(r.error().message.rfind("rtp: ", 0) == 0);
}

}  // namespace

TEST_CASE("RTP: a plain packet written out by hand parses field by field", "[rtp]") {
  // V=2 P=0 X=0 CC=0 | M=1 PT=111 | seq 0x1234 | ts 0xDEADBEEF | SSRC 0x11223344 | payload "opus"
  const Bytes packet = cat({fixed_header(0x80, 0x80 | 111), {'o', 'p', 'u', 's'}});
  auto r = parse_rtp(packet);
  REQUIRE(r.ok());
  const RtpPacketView& v = *r;
  CHECK(v.marker);
  CHECK(v.payload_type == 111);
  CHECK(v.sequence_number == 0x1234);
  CHECK(v.timestamp == 0xDEADBEEF);
  CHECK(v.ssrc == 0x11223344);
  CHECK(v.csrc_count() == 0);
  CHECK(v.extension_format == RtpExtensionFormat::none);
  CHECK(v.padding_size == 0);
  CHECK(v.header_size == 12);
  CHECK(as_bytes(v.payload) == Bytes{'o', 'p', 'u', 's'});
  CHECK(v.payload.data() == packet.data() + 12);  // zero-copy: a view into the datagram
  CHECK(elements(v).empty());
}

TEST_CASE("RTP: CSRCs, the RFC 8285 one-byte example and padding, by hand", "[rtp]") {
  // CC=2, X=1, P=1. The extension block is RFC 8285 section 4.2's example: id 1 (1 byte), id 2 (2 bytes), two
  // padding bytes, id 3 (4 bytes). Payload 3 bytes, then 4 bytes of RTP padding.
  const Bytes packet = cat({fixed_header(0x80 | 0x20 | 0x10 | 2),
                            {0xCA, 0xFE, 0x00, 0x01, 0xCA, 0xFE, 0x00, 0x02},  // CSRCs
                            {0xBE, 0xDE, 0x00, 0x03},                          // profile, 3 words
                            {0x10, 0xAA, 0x21, 0xBB, 0xCC, 0x00, 0x00, 0x33, 1, 2, 3, 4},
                            {'v', 'p', '8'},
                            {0x00, 0x00, 0x00, 0x04}});
  auto r = parse_rtp(packet);
  REQUIRE(r.ok());
  const RtpPacketView& v = *r;
  REQUIRE(v.csrc_count() == 2);
  CHECK(v.csrc(0) == 0xCAFE0001);
  CHECK(v.csrc(1) == 0xCAFE0002);
  CHECK(v.extension_format == RtpExtensionFormat::one_byte);
  CHECK(v.extension_profile == 0xBEDE);
  CHECK(v.extension_data.size() == 12);
  CHECK(elements(v) == std::vector<std::pair<int, Bytes>>{{1, {0xAA}}, {2, {0xBB, 0xCC}}, {3, {1, 2, 3, 4}}});
  CHECK(v.header_size == 12 + 8 + 4 + 12);
  CHECK(as_bytes(v.payload) == Bytes{'v', 'p', '8'});
  CHECK(v.padding_size == 4);
  REQUIRE(v.find_extension(2).has_value());
  CHECK(as_bytes(*v.find_extension(2)) == Bytes{0xBB, 0xCC});
  CHECK_FALSE(v.find_extension(4).has_value());
}

TEST_CASE("RTP: the RFC 8285 two-byte example, by hand", "[rtp]") {
  // Profile 0x100 with appbits 0x5; id 1 with no data, id 2 (1 byte), a padding byte, id 3 (4 bytes).
  const Bytes packet = cat({fixed_header(0x90), {0x10, 0x05, 0x00, 0x03},
                            {0x01, 0x00, 0x02, 0x01, 0xAA, 0x00, 0x03, 0x04, 9, 8, 7, 6}, {0x42}});
  auto r = parse_rtp(packet);
  REQUIRE(r.ok());
  CHECK(r->extension_format == RtpExtensionFormat::two_byte);
  CHECK(r->extension_profile == 0x1005);
  CHECK(elements(*r) == std::vector<std::pair<int, Bytes>>{{1, {}}, {2, {0xAA}}, {3, {9, 8, 7, 6}}});
  CHECK(as_bytes(r->payload) == Bytes{0x42});
}

TEST_CASE("RTP: one-byte id 15 ends the element list; other profiles stay opaque", "[rtp]") {
  // RFC 8285: at id 15 processing stops, its length is ignored, the elements before it count.
  const Bytes stop = cat({fixed_header(0x90), {0xBE, 0xDE, 0x00, 0x01}, {0x10, 0xAA, 0xF7, 0xFF}});
  auto r = parse_rtp(stop);
  REQUIRE(r.ok());
  CHECK(elements(*r) == std::vector<std::pair<int, Bytes>>{{1, {0xAA}}});

  // An RFC 3550 extension of another profile: carried as bytes, not interpreted (its data would be a bad
  // one-byte element list).
  const Bytes other = cat({fixed_header(0x90), {0x12, 0x34, 0x00, 0x01}, {0x0F, 0xFF, 0xFF, 0xFF}, {1, 2}});
  auto o = parse_rtp(other);
  REQUIRE(o.ok());
  CHECK(o->extension_format == RtpExtensionFormat::other);
  CHECK(o->extension_profile == 0x1234);
  CHECK(as_bytes(o->extension_data) == Bytes{0x0F, 0xFF, 0xFF, 0xFF});
  CHECK(elements(*o).empty());
  CHECK(as_bytes(o->payload) == Bytes{1, 2});

  // X=1 with an empty block, and padding that swallows the whole payload, are both legal.
  const Bytes all_padding = cat({fixed_header(0xB0), {0xBE, 0xDE, 0x00, 0x00}, {0, 0, 3}});
  auto empty = parse_rtp(all_padding);
  REQUIRE(empty.ok());
  CHECK(empty->extension_data.empty());
  CHECK(empty->payload.empty());
  CHECK(empty->padding_size == 3);
}

TEST_CASE("RTP: every kind of malformed packet is malformed_packet", "[rtp]") {
  check_malformed({}, "empty");
  Bytes eleven = fixed_header(0x80);
  eleven.pop_back();
  check_malformed(eleven, "11 bytes");
  for (uint8_t version : {0, 1, 3}) check_malformed(fixed_header(static_cast<uint8_t>(version << 6)), "version");
  check_malformed(cat({fixed_header(0x82), {0, 0, 0, 1}}), "CC=2 with one CSRC");
  check_malformed(cat({fixed_header(0x8F), Bytes(56, 0)}), "CC=15 with 14 CSRCs");
  check_malformed(cat({fixed_header(0x90), {0xBE, 0xDE, 0x00}}), "extension header cut");
  check_malformed(cat({fixed_header(0x90), {0xBE, 0xDE, 0x00, 0x02}, {0x10, 1, 0, 0}}), "extension length 2, 1 word");
  check_malformed(cat({fixed_header(0x90), {0xBE, 0xDE, 0xFF, 0xFF}}), "extension length 65535");
  check_malformed(cat({fixed_header(0xA0), {1, 2, 3, 0}}), "padding length 0");
  check_malformed(cat({fixed_header(0xA0), {1, 2, 3, 5}}), "padding longer than the payload");
  check_malformed(fixed_header(0xA0), "padding bit without any byte");
  check_malformed(cat({fixed_header(0xB0), {0xBE, 0xDE, 0x00, 0x01}, {0x10, 1, 0, 0}, {9}}),
                  "padding 9 covering the extension");
  check_malformed(cat({fixed_header(0x90), {0xBE, 0xDE, 0x00, 0x01}, {0x13, 1, 2, 3}}),
                  "one-byte element data past the block");
  check_malformed(cat({fixed_header(0x90), {0xBE, 0xDE, 0x00, 0x01}, {0x05, 1, 2, 3}}),
                  "one-byte id 0 that is not a padding byte");
  check_malformed(cat({fixed_header(0x90), {0x10, 0x00, 0x00, 0x01}, {0, 0, 0, 7}}), "two-byte length byte missing");
  check_malformed(cat({fixed_header(0x90), {0x10, 0x00, 0x00, 0x01}, {1, 5, 0xAA, 0xBB}}),
                  "two-byte element data past the block");
}

TEST_CASE("RTP: write_rtp then parse_rtp round trips every field", "[rtp]") {
  const std::array<uint32_t, 3> csrcs = {1, 0xFFFFFFFF, 0x01020304};
  const Bytes audio_level = {0x85};
  const Bytes mid = {'0'};
  const Bytes sixteen(16, 0x5A);
  const Bytes payload = {10, 20, 30, 40, 50};

  struct Case {
    const char* name;
    std::vector<RtpExtension> ext;
    bool force_two_byte;
    RtpExtensionFormat expect;
  };
  const Bytes empty;
  const Bytes big(200, 0x77);
  const std::vector<Case> cases = {
      {"no extension", {}, false, RtpExtensionFormat::none},
      {"one-byte", {{1, audio_level}, {14, sixteen}, {3, mid}}, false, RtpExtensionFormat::one_byte},
      {"forced two-byte", {{1, audio_level}, {3, mid}}, true, RtpExtensionFormat::two_byte},
      {"two-byte for id 15", {{15, mid}}, false, RtpExtensionFormat::two_byte},
      {"two-byte for empty data", {{2, empty}, {4, mid}}, false, RtpExtensionFormat::two_byte},
      {"two-byte for 200 bytes", {{200, big}}, false, RtpExtensionFormat::two_byte},
  };
  for (const Case& c : cases) {
    for (uint8_t padding : {0, 1, 4, 255}) {
      INFO(c.name << ", padding " << int(padding));
      RtpHeader h;
      h.payload_type = 96;
      h.marker = padding % 2 == 0;
      h.sequence_number = 65535;
      h.timestamp = 0x80000001;
      h.ssrc = 0xA5A5A5A5;
      h.csrcs = csrcs;
      h.extensions = c.ext;
      h.two_byte_extensions = c.force_two_byte;
      h.padding_size = padding;
      std::array<uint8_t, 1500> buf{};
      auto n = write_rtp(h, payload, buf);
      REQUIRE(n.ok());
      CHECK(*n == rtp_header_size(h) + payload.size() + padding);
      CHECK(*n % 4 == (payload.size() + padding) % 4);  // header part is whole words

      auto r = parse_rtp(std::span<const uint8_t>(buf.data(), *n));
      REQUIRE(r.ok());
      CHECK(r->payload_type == 96);
      CHECK(r->marker == h.marker);
      CHECK(r->sequence_number == 65535);
      CHECK(r->timestamp == 0x80000001);
      CHECK(r->ssrc == 0xA5A5A5A5);
      REQUIRE(r->csrc_count() == 3);
      for (size_t i = 0; i < 3; ++i) CHECK(r->csrc(i) == csrcs[i]);
      CHECK(r->extension_format == c.expect);
      CHECK(r->header_size == rtp_header_size(h));
      std::vector<std::pair<int, Bytes>> want;
      for (const RtpExtension& e : c.ext) want.emplace_back(e.id, as_bytes(e.data));
      CHECK(elements(*r) == want);
      CHECK(as_bytes(r->payload) == payload);
      CHECK(r->padding_size == padding);
    }
  }
}

TEST_CASE("RTP: write_rtp lays out one-byte elements back to back and pads the block at its end", "[rtp]") {
  const Bytes a = {0xAA}, bc = {0xBB, 0xCC}, d = {1, 2, 3, 4};
  const RtpExtension ext[] = {{1, a}, {2, bc}, {3, d}};
  RtpHeader h;
  h.payload_type = 0x60;
  h.sequence_number = 0x1234;
  h.timestamp = 0xDEADBEEF;
  h.ssrc = 0x11223344;
  h.extensions = ext;
  std::array<uint8_t, 64> buf{};
  auto n = write_rtp(h, Bytes{'x'}, buf);
  REQUIRE(n.ok());
  const Bytes expected = cat({fixed_header(0x90), {0xBE, 0xDE, 0x00, 0x03},
                              {0x10, 0xAA, 0x21, 0xBB, 0xCC, 0x33, 1, 2, 3, 4, 0, 0}, {'x'}});
  CHECK(Bytes(buf.begin(), buf.begin() + *n) == expected);
}

TEST_CASE("RTP: write_rtp rejects invalid descriptions and short buffers", "[rtp]") {
  std::array<uint8_t, 64> buf{};
  const Bytes payload = {1, 2, 3, 4};
  RtpHeader h;
  h.payload_type = 128;
  CHECK(write_rtp(h, payload, buf).code() == Errc::invalid_argument);
  h.payload_type = 0;
  const std::array<uint32_t, 16> csrcs{};
  h.csrcs = csrcs;
  CHECK(write_rtp(h, payload, buf).code() == Errc::invalid_argument);
  CHECK(rtp_header_size(h) == 0);
  h.csrcs = {};
  const Bytes one = {1};
  const RtpExtension id0[] = {{0, one}};
  h.extensions = id0;
  CHECK(write_rtp(h, payload, buf).code() == Errc::invalid_argument);
  const Bytes too_big(256, 0);
  const RtpExtension big[] = {{5, too_big}};
  h.extensions = big;
  CHECK(write_rtp(h, payload, buf).code() == Errc::invalid_argument);
  h.extensions = {};

  h.padding_size = 8;
  const size_t exact = 12 + payload.size() + 8;
  CHECK(write_rtp(h, payload, std::span<uint8_t>(buf.data(), exact - 1)).code() == Errc::invalid_argument);
  CHECK(write_rtp(h, payload, std::span<uint8_t>(buf.data(), exact)).ok());
}

TEST_CASE("RTP: write_rtp leaves a payload already in place untouched", "[rtp]") {
  std::array<uint8_t, 64> buf{};
  RtpHeader h;
  h.payload_type = 96;
  h.sequence_number = 7;
  const size_t at = rtp_header_size(h);
  for (size_t i = 0; i < 10; ++i) buf[at + i] = static_cast<uint8_t>(100 + i);
  auto n = write_rtp(h, std::span<const uint8_t>(buf.data() + at, 10), buf);
  REQUIRE(n.ok());
  auto r = parse_rtp(std::span<const uint8_t>(buf.data(), *n));
  REQUIRE(r.ok());
  CHECK(as_bytes(r->payload) == Bytes{100, 101, 102, 103, 104, 105, 106, 107, 108, 109});
}

TEST_CASE("RTP: parse, extension lookup and write allocate nothing", "[rtp]") {
  const Bytes mid = {'a', 'u', 'd', 'i', 'o'};
  const Bytes seq = {0x01, 0x02};
  const RtpExtension ext[] = {{4, mid}, {5, seq}};
  const uint32_t csrcs[] = {42};
  const Bytes payload(960, 0x33);
  std::array<uint8_t, 1500> buf{};
  RtpHeader h;
  h.payload_type = 111;
  h.csrcs = csrcs;
  h.extensions = ext;

  uint64_t checksum = 0;
  test::AllocationScope scope;
  for (uint16_t i = 0; i < 1000; ++i) {
    h.sequence_number = i;
    auto n = write_rtp(h, payload, buf);
    auto r = parse_rtp(std::span<const uint8_t>(buf.data(), n.ok() ? *n : 0));
    if (!r.ok()) break;
    checksum += r->sequence_number + r->payload.size();
    for (const RtpExtension& e : r->extensions()) checksum += e.id;
    if (auto s = r->find_extension(5)) checksum += (*s)[1];
  }
  CHECK(scope.count() == 0);
  CHECK(checksum == 1000ull * 999 / 2 + 1000 * (960 + 4 + 5 + 2));
}
