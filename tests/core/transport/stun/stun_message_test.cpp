#include "core/transport/stun/stun_message.h"

#include <catch2/catch.hpp>
#include <mbedtls/md5.h>

#include <cstring>
#include <string>

#include "core/sim/rng.h"
#include "core/transport/net/address_text.h"
#include "support/alloc_counter.h"
#include "support/bytes.h"

using namespace tandem;
using namespace tandem::transport;
using tandem::test::Bytes;

namespace {

Bytes hex(std::string_view text) {
  Bytes out;
  int nibble = -1;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else continue;  // spaces and line breaks
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<uint8_t>(nibble << 4 | v));
      nibble = -1;
    }
  }
  return out;
}

// RFC 5769 section 2: the same transaction id and short-term password in 2.1-2.3.
const StunTransactionId kVectorId{0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
constexpr std::string_view kVectorPassword = "VOkJxbRl1RmTxUk/WvJxBt";

// RFC 5769 2.1, sample request.
const Bytes kSampleRequest = hex(
    "00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74"
    "00 24 00 04 6e 00 01 ff"
    "80 29 00 08 93 2f f9 b1 51 26 3b 36"
    "00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20"
    "00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
    "80 28 00 04 e5 7a 3b cf");

// RFC 5769 2.2, sample IPv4 response.
const Bytes kSampleIpv4Response = hex(
    "01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
    "00 20 00 08 00 01 a1 47 e1 12 a6 43"
    "00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7"
    "80 28 00 04 c0 7d 4c 96");

// RFC 5769 2.3, sample IPv6 response.
const Bytes kSampleIpv6Response = hex(
    "01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
    "00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"
    "00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41"
    "80 28 00 04 c8 fb 0b 4c");

// RFC 5769 2.4, sample request with long-term authentication (no FINGERPRINT).
const Bytes kSampleLongTermRequest = hex(
    "00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
    "00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00"
    "00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41"
    "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"
    "00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66");

Bytes bytes_of(std::span<const uint8_t> s) { return Bytes(s.begin(), s.end()); }

StunMessage parse_ok(const Bytes& b) {
  auto m = StunMessage::parse(b);
  REQUIRE(m.ok());
  return *m;
}

}  // namespace

TEST_CASE("stun: CRC-32 check value", "[stun]") {
  const std::string_view text = "123456789";
  CHECK(crc32(key_bytes(text)) == 0xCBF43926u);
  CHECK(crc32({}) == 0u);
}

TEST_CASE("stun: RFC 5769 sample request parses, verifies and rebuilds bit for bit", "[stun]") {
  const StunMessage m = parse_ok(kSampleRequest);
  CHECK(m.message_class() == StunClass::request);
  CHECK(m.method() == stun_method::binding);
  CHECK(m.transaction_id() == kVectorId);
  CHECK(m.software() == "STUN test client");
  CHECK(m.priority() == 0x6e0001ffu);
  CHECK(m.ice_controlled() == 0x932ff9b151263b36ull);
  CHECK_FALSE(m.ice_controlling());
  CHECK_FALSE(m.use_candidate());
  CHECK(m.username() == "evtj:h6vY");
  CHECK(m.unknown_required().empty());
  CHECK(m.verify_fingerprint());
  CHECK(m.verify_message_integrity(key_bytes(kVectorPassword)));
  CHECK_FALSE(m.verify_message_integrity(key_bytes("VOkJxbRl1RmTxUk/WvJxBu")));  // wrong key
  CHECK_FALSE(m.verify_message_integrity({}));

  uint8_t buf[256];
  StunBuilder b(buf, StunClass::request, stun_method::binding, kVectorId);
  b.set_padding_byte(0x20)
      .add_software("STUN test client")
      .add_priority(0x6e0001ff)
      .add_ice_controlled(0x932ff9b151263b36ull)
      .add_username("evtj:h6vY")
      .add_message_integrity(key_bytes(kVectorPassword))
      .add_fingerprint();
  const auto built = b.finish();
  REQUIRE(built.ok());
  CHECK(bytes_of(*built) == kSampleRequest);
}

TEST_CASE("stun: RFC 5769 IPv4 and IPv6 responses parse, verify and rebuild", "[stun]") {
  struct Case {
    const Bytes* bytes;
    const char* address;
  };
  for (const Case& c : {Case{&kSampleIpv4Response, "192.0.2.1:32853"},
                        Case{&kSampleIpv6Response, "[2001:db8:1234:5678:11:2233:4455:6677]:32853"}}) {
    INFO(c.address);
    const StunMessage m = parse_ok(*c.bytes);
    CHECK(m.message_class() == StunClass::success);
    CHECK(m.method() == stun_method::binding);
    CHECK(m.software() == "test vector");
    const auto mapped = m.xor_mapped_address();
    REQUIRE(mapped);
    CHECK(to_string(*mapped) == c.address);
    CHECK_FALSE(m.mapped_address());
    CHECK(m.verify_fingerprint());
    CHECK(m.verify_message_integrity(key_bytes(kVectorPassword)));

    uint8_t buf[256];
    StunBuilder b(buf, StunClass::success, stun_method::binding, kVectorId);
    b.set_padding_byte(0x20)
        .add_software("test vector")
        .add_xor_mapped_address(*parse_socket_address(c.address))
        .add_message_integrity(key_bytes(kVectorPassword))
        .add_fingerprint();
    const auto built = b.finish();
    REQUIRE(built.ok());
    CHECK(bytes_of(*built) == *c.bytes);
  }
}

TEST_CASE("stun: RFC 5769 long-term credential request verifies with the MD5 key", "[stun]") {
  const StunMessage m = parse_ok(kSampleLongTermRequest);
  CHECK(m.username() == "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9");
  CHECK(m.nonce() == "f//499k954d6OL34oL9FSTvy64sA");
  CHECK(m.realm() == "example.org");
  CHECK_FALSE(m.has_fingerprint());
  // key = MD5(username ":" realm ":" SASLprep(password)); the RFC's password SASLpreps to "TheMatrIX".
  const std::string input = std::string(*m.username()) + ":example.org:TheMatrIX";
  uint8_t key[16];
  REQUIRE(mbedtls_md5_ret(reinterpret_cast<const uint8_t*>(input.data()), input.size(), key) == 0);
  CHECK(m.verify_message_integrity(key));
  key[0] ^= 1;
  CHECK_FALSE(m.verify_message_integrity(key));
}

TEST_CASE("stun: a changed byte breaks the fingerprint and the integrity", "[stun]") {
  Bytes b = kSampleRequest;
  b[b.size() - 1] ^= 0x01;  // the CRC itself
  StunMessage m = parse_ok(b);
  CHECK_FALSE(m.verify_fingerprint());
  CHECK(m.verify_message_integrity(key_bytes(kVectorPassword)));  // FINGERPRINT is outside the HMAC

  b = kSampleRequest;
  b[24] ^= 0x20;  // 'S' of SOFTWARE -> 's'
  m = parse_ok(b);
  CHECK_FALSE(m.verify_fingerprint());
  CHECK_FALSE(m.verify_message_integrity(key_bytes(kVectorPassword)));
}

TEST_CASE("stun: header and attribute framing is checked", "[stun]") {
  const auto code = [](const Bytes& b) { return StunMessage::parse(b).code(); };
  CHECK(code(kSampleRequest) == Errc::ok);
  CHECK(looks_like_stun(kSampleRequest));
  Bytes b = kSampleRequest;
  b[0] |= 0x40;  // top bits must be zero
  CHECK(code(b) == Errc::malformed_packet);
  CHECK_FALSE(looks_like_stun(b));
  b = kSampleRequest;
  b[4] = 0x22;  // cookie
  CHECK(code(b) == Errc::malformed_packet);
  b = kSampleRequest;
  b[3] = 0x57;  // length not a multiple of 4
  CHECK(code(b) == Errc::malformed_packet);
  b = kSampleRequest;
  b.push_back(0);
  b.push_back(0);
  b.push_back(0);
  b.push_back(0);  // length no longer matches the datagram
  CHECK(code(b) == Errc::malformed_packet);
  b = kSampleRequest;
  b[23] = 0x40;  // SOFTWARE says 64 bytes: past the end
  CHECK(code(b) == Errc::malformed_packet);
  CHECK(code(Bytes(19, 0)) == Errc::malformed_packet);
  CHECK(code(Bytes{}) == Errc::malformed_packet);

  // An attribute after FINGERPRINT.
  uint8_t buf[128];
  StunBuilder builder(buf, StunClass::request, stun_method::binding, kVectorId);
  builder.add_fingerprint();
  REQUIRE(builder.finish().ok());
  Bytes tail = bytes_of(*builder.finish());
  const Bytes extra = hex("00 24 00 04 00 00 00 01");
  tail.insert(tail.end(), extra.begin(), extra.end());
  tail[3] = static_cast<uint8_t>(tail.size() - kStunHeaderSize);
  CHECK(code(tail) == Errc::malformed_packet);
  // And the builder refuses to write one.
  builder.add_priority(1);
  CHECK(builder.finish().code() == Errc::invalid_argument);
}

TEST_CASE("stun: known attributes with the wrong size are malformed", "[stun]") {
  const auto with = [](uint16_t type, const Bytes& value) {
    uint8_t buf[128];
    StunBuilder b(buf, StunClass::request, stun_method::binding, kVectorId);
    b.add_raw(type, value);
    return StunMessage::parse(*b.finish()).code();
  };
  CHECK(with(stun_attr::priority, Bytes(3, 0)) == Errc::malformed_packet);
  CHECK(with(stun_attr::priority, Bytes(4, 0)) == Errc::ok);
  CHECK(with(stun_attr::use_candidate, Bytes(1, 0)) == Errc::malformed_packet);
  CHECK(with(stun_attr::ice_controlling, Bytes(4, 0)) == Errc::malformed_packet);
  CHECK(with(stun_attr::message_integrity, Bytes(16, 0)) == Errc::malformed_packet);
  CHECK(with(stun_attr::fingerprint, Bytes(8, 0)) == Errc::malformed_packet);
  CHECK(with(stun_attr::xor_mapped_address, hex("00 01 00 00 00 00 00 00")) == Errc::ok);
  CHECK(with(stun_attr::xor_mapped_address, hex("00 02 00 00 00 00 00 00")) == Errc::malformed_packet);
  CHECK(with(stun_attr::xor_mapped_address, hex("00 03 00 00 00 00 00 00")) == Errc::malformed_packet);
  CHECK(with(stun_attr::error_code, hex("00 00 02 00")) == Errc::malformed_packet);  // class 2
  CHECK(with(stun_attr::error_code, hex("00 00 04 64")) == Errc::malformed_packet);  // number 100
  CHECK(with(stun_attr::unknown_attributes, Bytes(3, 0)) == Errc::malformed_packet);
}

TEST_CASE("stun: unknown attributes: optional skipped, required listed, after integrity ignored", "[stun]") {
  uint8_t buf[256];
  StunBuilder b(buf, StunClass::request, stun_method::binding, kVectorId);
  b.add_raw(0x8099, hex("01 02 03"))  // comprehension-optional: skipped
      .add_raw(0x0031, hex("aa"))     // comprehension-required: listed
      .add_username("a:b")
      .add_raw(0x7fff, {})
      .add_message_integrity(key_bytes("pw"))
      .add_priority(7)                // after MESSAGE-INTEGRITY: ignored
      .add_raw(0x0032, {})            // also ignored, not listed
      .add_fingerprint();
  const auto built = b.finish();
  REQUIRE(built.ok());
  const Bytes wire = bytes_of(*built);
  const StunMessage m = parse_ok(wire);  // a view: the bytes must outlive it
  REQUIRE(m.unknown_required().size() == 2);
  CHECK(m.unknown_required()[0] == 0x0031);
  CHECK(m.unknown_required()[1] == 0x7fff);
  CHECK_FALSE(m.priority());
  CHECK(m.username() == "a:b");
  REQUIRE(m.attribute(0x8099));
  CHECK(bytes_of(*m.attribute(0x8099)) == hex("01 02 03"));
  CHECK_FALSE(m.attribute(0x0032));
  CHECK(m.verify_message_integrity(key_bytes("pw")));
  CHECK(m.verify_fingerprint());
}

TEST_CASE("stun: builder round trip of every ICE attribute", "[stun]") {
  uint8_t buf[512];
  const uint16_t unknown[] = {0x0031, 0x7001, 0x0003};
  StunBuilder b(buf, StunClass::error, stun_method::binding, kVectorId);
  b.add_error_code(420, "Unknown Attribute")
      .add_unknown_attributes(unknown)
      .add_mapped_address(*parse_socket_address("[::1]:9"))
      .add_xor_mapped_address(*parse_socket_address("10.1.2.3:65535"))
      .add_ice_controlling(0x0102030405060708ull)
      .add_use_candidate()
      .add_priority(0xFFFFFFFFu)
      .add_message_integrity(key_bytes("secret"))
      .add_fingerprint();
  const auto built = b.finish();
  REQUIRE(built.ok());
  const Bytes wire = bytes_of(*built);
  const StunMessage m = parse_ok(wire);  // a view: the bytes must outlive it
  CHECK(m.message_class() == StunClass::error);
  CHECK(m.method() == stun_method::binding);
  const auto ec = m.error_code();
  REQUIRE(ec);
  CHECK(ec->code == 420);
  CHECK(ec->reason == "Unknown Attribute");
  const auto ua = m.unknown_attributes();
  REQUIRE(ua);
  REQUIRE(ua->size() == 3);
  CHECK((*ua)[0] == 0x0031);
  CHECK((*ua)[1] == 0x7001);
  CHECK((*ua)[2] == 0x0003);
  CHECK(to_string(*m.mapped_address()) == "[::1]:9");
  CHECK(to_string(*m.xor_mapped_address()) == "10.1.2.3:65535");
  CHECK(m.ice_controlling() == 0x0102030405060708ull);
  CHECK(m.use_candidate());
  CHECK(m.priority() == 0xFFFFFFFFu);
  CHECK(m.verify_message_integrity(key_bytes("secret")));
  CHECK(m.verify_fingerprint());
  // Class/method bits: a success response to binding is 0x0101, an error 0x0111, an indication 0x0011.
  CHECK((*built)[0] == 0x01);
  CHECK((*built)[1] == 0x11);
  StunBuilder ind(buf, StunClass::indication, stun_method::binding, kVectorId);
  CHECK((*ind.finish())[1] == 0x11);
  CHECK((*ind.finish())[0] == 0x00);
}

TEST_CASE("stun: builder reports a buffer that is too small, and does not allocate", "[stun]") {
  uint8_t small[40];
  StunBuilder b(small, StunClass::request, stun_method::binding, kVectorId);
  b.add_username("a-username-that-does-not-fit").add_fingerprint();
  CHECK(b.finish().code() == Errc::resource_exhausted);
  uint8_t tiny[10];
  CHECK(StunBuilder(tiny, StunClass::request, stun_method::binding, kVectorId).finish().code() ==
        Errc::resource_exhausted);
  CHECK(StunBuilder(small, StunClass::error, 1, kVectorId).add_error_code(200, "").finish().code() ==
        Errc::invalid_argument);

  uint8_t buf[256];
  test::AllocationScope scope;
  StunBuilder ok(buf, StunClass::request, stun_method::binding, kVectorId);
  ok.add_username("evtj:h6vY").add_priority(1).add_message_integrity(key_bytes(kVectorPassword)).add_fingerprint();
  const auto m = StunMessage::parse(*ok.finish());
  const bool verified = m.ok() && m->verify_message_integrity(key_bytes(kVectorPassword)) && m->verify_fingerprint();
  const auto allocations = scope.count();
  const auto mallocs = scope.malloc_count();
  CHECK(verified);
  CHECK(allocations == 0);
  CHECK(mallocs == 0);  // SHA-1 contexts live on the stack (0 trivially where malloc is not counted)
}

TEST_CASE("stun: fuzz: random bytes, truncations and bit flips never crash", "[stun]") {
  sim::Rng rng(20240611);
  const Bytes* valid[] = {&kSampleRequest, &kSampleIpv4Response, &kSampleIpv6Response, &kSampleLongTermRequest};
  size_t accepted = 0, rejected = 0, flips_verified = 0;
  const auto exercise = [&](const Bytes& d) {
    const auto m = StunMessage::parse(d);
    if (!m.ok()) {
      CHECK(m.code() == Errc::malformed_packet);
      ++rejected;
      return false;
    }
    ++accepted;
    // Touch every accessor: each must stay inside the datagram (ASan would see it otherwise).
    (void)m->xor_mapped_address();
    (void)m->mapped_address();
    (void)m->username();
    (void)m->priority();
    (void)m->ice_controlling();
    (void)m->ice_controlled();
    (void)m->error_code();
    if (auto ua = m->unknown_attributes()) {
      for (size_t i = 0; i < ua->size(); ++i) (void)(*ua)[i];
    }
    (void)m->attribute(0x8022);
    (void)m->attribute(0x1234);
    (void)m->verify_message_integrity(key_bytes(kVectorPassword));
    return m->verify_fingerprint();
  };
  for (int i = 0; i < 30000; ++i) {
    const Bytes& base = *valid[rng.up_to(3)];
    Bytes d;
    switch (i % 4) {
      case 0: {  // random bytes, sometimes behind a plausible header so the attribute walk is reached
        d.resize(rng.up_to(120));
        for (auto& byte : d) byte = static_cast<uint8_t>(rng.next_u64());
        if (d.size() >= 20 && rng.chance(0.7)) {
          d.resize(d.size() & ~size_t{3});
          d[0] &= 0x3F;
          d[2] = 0;
          d[3] = static_cast<uint8_t>(d.size() - 20);
          d[4] = 0x21, d[5] = 0x12, d[6] = 0xa4, d[7] = 0x42;
        }
        exercise(d);
        break;
      }
      case 1:  // truncation, with the length field left alone or patched to match
        d.assign(base.begin(), base.begin() + static_cast<long>(rng.up_to(base.size())));
        if (d.size() >= 20 && rng.chance(0.5)) d[3] = static_cast<uint8_t>(d.size() - 20);
        exercise(d);
        break;
      default: {  // one to three bit flips of a valid message
        d = base;
        const int flips = 1 + static_cast<int>(rng.up_to(2));
        for (int f = 0; f < flips; ++f) d[rng.up_to(d.size() - 1)] ^= static_cast<uint8_t>(1u << rng.up_to(7));
        if (exercise(d) && d != base && base.size() == d.size() && &base != &kSampleLongTermRequest) {
          ++flips_verified;  // a changed message whose CRC still matches: must be vanishingly rare
        }
        break;
      }
    }
  }
  INFO("accepted " << accepted << " rejected " << rejected);
  CHECK(accepted > 1000);
  CHECK(rejected > 1000);
  CHECK(flips_verified == 0);
}
