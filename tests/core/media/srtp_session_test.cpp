#include "core/media/srtp_session.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "support/alloc_counter.h"

using namespace tandem;
using namespace tandem::media;

namespace {

constexpr SrtpProfile kAllProfiles[] = {SrtpProfile::aes_cm_128_hmac_sha1_80, SrtpProfile::aes_cm_128_hmac_sha1_32,
                                        SrtpProfile::aead_aes_128_gcm, SrtpProfile::aead_aes_256_gcm};

// Deterministic key material of the right size for a profile; `seed` makes different keys.
struct Keys {
  std::vector<uint8_t> key, salt;
};
Keys make_keys(SrtpProfile p, uint8_t seed = 1) {
  const auto lengths = srtp_key_lengths(p);
  Keys k{std::vector<uint8_t>(lengths.master_key), std::vector<uint8_t>(lengths.master_salt)};
  for (size_t i = 0; i < k.key.size(); ++i) k.key[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  for (size_t i = 0; i < k.salt.size(); ++i) k.salt[i] = static_cast<uint8_t>(seed * 17 + i * 3 + 0x80);
  return k;
}

SrtpSession make_session(SrtpProfile p, SrtpDirection d, const Keys& k) {
  auto s = SrtpSession::create({p, d, k.key, k.salt});
  REQUIRE(s.ok());
  return std::move(s).value();
}

// A minimal RTP packet (RFC 3550): V=2, PT=96, the given sequence number, timestamp and SSRC, and a payload
// of `payload_size` bytes counting up from `fill`.
std::vector<uint8_t> rtp_packet(uint16_t seq, uint32_t ssrc, size_t payload_size, uint8_t fill = 0) {
  std::vector<uint8_t> p = {0x80, 96, uint8_t(seq >> 8), uint8_t(seq), 0, 0, uint8_t(seq >> 4), uint8_t(seq),
                            uint8_t(ssrc >> 24), uint8_t(ssrc >> 16), uint8_t(ssrc >> 8), uint8_t(ssrc)};
  for (size_t i = 0; i < payload_size; ++i) p.push_back(static_cast<uint8_t>(fill + i));
  return p;
}

// An RTCP receiver report with no report blocks (RFC 3550 section 6.4.2), plus `extra` bytes of padding-free
// payload to vary the length.
std::vector<uint8_t> rtcp_packet(uint32_t ssrc, size_t extra_words = 0) {
  const uint16_t words = static_cast<uint16_t>(1 + extra_words);
  std::vector<uint8_t> p = {0x80, 201, uint8_t(words >> 8), uint8_t(words),
                            uint8_t(ssrc >> 24), uint8_t(ssrc >> 16), uint8_t(ssrc >> 8), uint8_t(ssrc)};
  for (size_t i = 0; i < extra_words * 4; ++i) p.push_back(static_cast<uint8_t>(0x40 + i));
  return p;
}

// Protects `plain` into a buffer sized exactly for the trailer (so an overrun would trip ASan).
std::vector<uint8_t> protect(SrtpSession& s, const std::vector<uint8_t>& plain, bool rtcp = false) {
  std::vector<uint8_t> buf(plain);
  buf.resize(plain.size() + (rtcp ? s.rtcp_overhead() : s.rtp_overhead()));
  auto n = rtcp ? s.protect_rtcp(buf, plain.size()) : s.protect(buf, plain.size());
  REQUIRE(n.ok());
  REQUIRE(*n == buf.size());
  return buf;
}

Result<size_t> unprotect(SrtpSession& s, std::vector<uint8_t>& packet, bool rtcp = false) {
  auto n = rtcp ? s.unprotect_rtcp(packet) : s.unprotect(packet);
  if (n.ok()) packet.resize(*n);
  return n;
}

}  // namespace

TEST_CASE("SRTP and SRTCP round trip for every profile", "[srtp]") {
  for (SrtpProfile profile : kAllProfiles) {
    INFO(to_string(profile));
    const Keys keys = make_keys(profile);
    SrtpSession tx = make_session(profile, SrtpDirection::outbound, keys);
    SrtpSession rx = make_session(profile, SrtpDirection::inbound, keys);
    CHECK(tx.profile() == profile);
    CHECK(rx.direction() == SrtpDirection::inbound);

    for (uint16_t seq = 65530; seq != 10; ++seq) {  // crosses the sequence-number wrap (ROC 0 -> 1)
      for (uint32_t ssrc : {0x11111111u, 0xcafebabeu}) {
        const auto plain = rtp_packet(seq, ssrc, 20 + seq % 200, static_cast<uint8_t>(seq));
        auto wire = protect(tx, plain);
        CHECK(std::memcmp(wire.data(), plain.data(), 12) == 0);  // the header stays in the clear
        CHECK(std::memcmp(wire.data() + 12, plain.data() + 12, plain.size() - 12) != 0);  // the payload does not
        REQUIRE(unprotect(rx, wire).ok());
        CHECK(wire == plain);
      }
    }
    for (size_t words = 0; words < 6; ++words) {
      const auto plain = rtcp_packet(0x22222222u, words);
      auto wire = protect(tx, plain, true);
      CHECK(wire.size() == plain.size() + tx.rtcp_overhead());
      REQUIRE(unprotect(rx, wire, true).ok());
      CHECK(wire == plain);
    }
  }
}

// The steady-state test below relies on this: where the test binary counts malloc, a C library's malloc,
// calloc and realloc are seen (C++ new alone would miss libsrtp's crypto backend, see the next test).
TEST_CASE("the malloc counter sees C allocations where it is enabled", "[srtp][alloc]") {
  void* (*volatile c_malloc)(size_t) = std::malloc;  // volatile: the compiler may not elide the pair
  void* (*volatile c_calloc)(size_t, size_t) = std::calloc;
  test::AllocationScope scope;
  void* a = c_malloc(24);
  void* b = c_calloc(3, 8);
  std::free(a);
  std::free(b);
  CHECK(scope.count() == 0);  // no operator new involved
  CHECK(scope.malloc_count() == (test::kCountsMalloc ? 2u : 0u));
}

// Counts operator new everywhere and, where the binary counts it (natively without sanitizers, see
// tests/support/alloc_counter.h), malloc too: libsrtp and its crypto backend are C. Debian's libsrtp2-1 (NSS
// backend) made 14 malloc/calloc calls per AES-CM packet and 5 per AES-GCM packet in each direction, which an
// operator-new-only count did not see; scripts/build-native-deps.sh builds libsrtp on OpenSSL instead.
TEST_CASE("steady-state protect and unprotect do not allocate", "[srtp][alloc]") {
  for (SrtpProfile profile : kAllProfiles) {
    INFO(to_string(profile));
    const Keys keys = make_keys(profile);
    SrtpSession tx = make_session(profile, SrtpDirection::outbound, keys);
    SrtpSession rx = make_session(profile, SrtpDirection::inbound, keys);
    std::vector<uint8_t> buf(1200);
    uint64_t allocations = 0, protect_mallocs = 0, unprotect_mallocs = 0;
    for (uint16_t seq = 1; seq < 200; ++seq) {
      const auto plain = rtp_packet(seq, 0x5eed, 900);
      std::copy(plain.begin(), plain.end(), buf.begin());
      test::AllocationScope scope;
      auto n = tx.protect(buf, plain.size());
      const uint64_t after_protect = scope.malloc_count();
      const bool ok = n.ok() && rx.unprotect(std::span<uint8_t>(buf).first(*n)).ok();
      if (seq > 1) {  // the first packet of an SSRC sets up its stream state
        allocations += scope.count();
        protect_mallocs += after_protect;
        unprotect_mallocs += scope.malloc_count() - after_protect;
      }
      REQUIRE(ok);
    }
    CHECK(allocations == 0);
    CHECK(protect_mallocs == 0);
    CHECK(unprotect_mallocs == 0);
  }
}

TEST_CASE("tag sizes follow RFC 5764 and RFC 7714", "[srtp]") {
  const auto overheads = [](SrtpProfile p) {
    const Keys k = make_keys(p);
    SrtpSession s = make_session(p, SrtpDirection::outbound, k);
    return std::pair{s.rtp_overhead(), s.rtcp_overhead()};
  };
  CHECK(overheads(SrtpProfile::aes_cm_128_hmac_sha1_80) == std::pair<size_t, size_t>{10, 14});
  CHECK(overheads(SrtpProfile::aes_cm_128_hmac_sha1_32) == std::pair<size_t, size_t>{4, 14});
  CHECK(overheads(SrtpProfile::aead_aes_128_gcm) == std::pair<size_t, size_t>{16, 20});
  CHECK(overheads(SrtpProfile::aead_aes_256_gcm) == std::pair<size_t, size_t>{16, 20});
}

TEST_CASE("a tampered packet is rejected as an authentication failure", "[srtp]") {
  for (SrtpProfile profile : kAllProfiles) {
    INFO(to_string(profile));
    const Keys keys = make_keys(profile);
    SrtpSession tx = make_session(profile, SrtpDirection::outbound, keys);
    SrtpSession rx = make_session(profile, SrtpDirection::inbound, keys);

    const auto plain = rtp_packet(1000, 0x01020304, 100);
    const auto wire = protect(tx, plain);
    // One flipped bit anywhere authenticated: the header, the payload, the tag.
    for (size_t at : {size_t{1}, size_t{7}, size_t{40}, wire.size() - 1}) {
      INFO("flipped byte " << at);
      auto bad = wire;
      bad[at] ^= 0x01;
      auto r = unprotect(rx, bad);
      CHECK(r.code() == Errc::authentication_failed);
    }
    // Rejection leaves no trace: the genuine packet is still accepted afterwards.
    auto good = wire;
    REQUIRE(unprotect(rx, good).ok());
    CHECK(good == plain);

    const auto rtcp_wire = protect(tx, rtcp_packet(0x01020304, 2), true);
    auto bad_rtcp = rtcp_wire;
    bad_rtcp[10] ^= 0x80;
    CHECK(unprotect(rx, bad_rtcp, true).code() == Errc::authentication_failed);

    // A receiver keyed differently authenticates nothing.
    SrtpSession stranger = make_session(profile, SrtpDirection::inbound, make_keys(profile, 2));
    auto copy = wire;
    CHECK(unprotect(stranger, copy).code() == Errc::authentication_failed);
  }
}

TEST_CASE("a replayed or too old packet is rejected", "[srtp]") {
  for (SrtpProfile profile : kAllProfiles) {
    INFO(to_string(profile));
    const Keys keys = make_keys(profile);
    SrtpSession tx = make_session(profile, SrtpDirection::outbound, keys);
    SrtpSession rx = make_session(profile, SrtpDirection::inbound, keys);

    std::vector<std::vector<uint8_t>> sent;
    for (uint16_t seq = 1; seq <= 300; ++seq) sent.push_back(protect(tx, rtp_packet(seq, 0xabcdef01, 32)));

    auto first = sent[9];
    REQUIRE(unprotect(rx, first).ok());
    auto again = sent[9];
    auto r = unprotect(rx, again);
    CHECK(r.code() == Errc::replayed);

    // Reordering inside the window (128 packets) is fine, each packet once.
    auto newest = sent[200];
    REQUIRE(unprotect(rx, newest).ok());
    auto late = sent[150];
    CHECK(unprotect(rx, late).ok());
    auto late_again = sent[150];
    CHECK(unprotect(rx, late_again).code() == Errc::replayed);
    auto too_old = sent[20];  // 180 behind the newest
    CHECK(unprotect(rx, too_old).code() == Errc::replayed);

    const auto rtcp = protect(tx, rtcp_packet(0xabcdef01), true);
    auto once = rtcp, twice = rtcp;
    REQUIRE(unprotect(rx, once, true).ok());
    CHECK(unprotect(rx, twice, true).code() == Errc::replayed);
  }
}

// Known answers. The AES-CM master key and salt are the ones of RFC 3711 Appendix B.3 (key derivation test
// vectors); the packets and their protected forms are libsrtp's own reference packets (test/srtp_driver.c,
// srtp_validate and srtp_validate_gcm). Both targets must produce these exact bytes: natively libsrtp runs on
// OpenSSL, in wasm on mbedTLS.
namespace {
const std::vector<uint8_t> kRfc3711MasterKey = {0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0,
                                                0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39};
const std::vector<uint8_t> kRfc3711MasterSalt = {0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe,
                                                 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};
const std::vector<uint8_t> kRtpPlain = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe,
                                        0xba, 0xbe, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
                                        0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
const std::vector<uint8_t> kRtcpPlain = {0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab, 0xab, 0xab,
                                         0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
const std::vector<uint8_t> kSrtpCm80 = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe,
                                        0xba, 0xbe, 0x4e, 0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8,
                                        0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02, 0xb7, 0x8d,
                                        0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb};
const std::vector<uint8_t> kSrtcpCm80 = {0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28,
                                         0x03, 0x5b, 0xe4, 0x87, 0xb9, 0xbd, 0xbe, 0xf8, 0x90, 0x41,
                                         0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00, 0x00, 0x01, 0x99, 0x3e,
                                         0x08, 0xcd, 0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98};
const std::vector<uint8_t> kGcmMasterKey = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                            0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
const std::vector<uint8_t> kGcmMasterSalt = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};
const std::vector<uint8_t> kSrtpGcm128 = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba,
                                          0xbe, 0xc5, 0x00, 0x2e, 0xde, 0x04, 0xcf, 0xdd, 0x2e, 0xb9, 0x11,
                                          0x59, 0xe0, 0x88, 0x0a, 0xa0, 0x6e, 0xd2, 0x97, 0x68, 0x26, 0xf7,
                                          0x96, 0xb2, 0x01, 0xdf, 0x31, 0x31, 0xa1, 0x27, 0xe8, 0xa3, 0x92};
const std::vector<uint8_t> kSrtcpGcm128 = {0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xc9, 0x8b, 0x8b,
                                           0x5d, 0xf0, 0x39, 0x2a, 0x55, 0x85, 0x2b, 0x6c, 0x21, 0xac, 0x8e,
                                           0x70, 0x25, 0xc5, 0x2c, 0x6f, 0xbe, 0xa2, 0xb3, 0xb4, 0x46, 0xea,
                                           0x31, 0x12, 0x3b, 0xa8, 0x8c, 0xe6, 0x1e, 0x80, 0x00, 0x00, 0x01};

void check_known_answer(SrtpProfile profile, const std::vector<uint8_t>& key, const std::vector<uint8_t>& salt,
                        const std::vector<uint8_t>& srtp, const std::vector<uint8_t>& srtcp) {
  INFO(to_string(profile));
  auto tx = SrtpSession::create({profile, SrtpDirection::outbound, key, salt});
  auto rx = SrtpSession::create({profile, SrtpDirection::inbound, key, salt});
  REQUIRE(tx.ok());
  REQUIRE(rx.ok());
  CHECK(protect(*tx, kRtpPlain) == srtp);
  CHECK(protect(*tx, kRtcpPlain, true) == srtcp);
  auto rtp = srtp, rtcp = srtcp;
  REQUIRE(unprotect(*rx, rtp).ok());
  CHECK(rtp == kRtpPlain);
  REQUIRE(unprotect(*rx, rtcp, true).ok());
  CHECK(rtcp == kRtcpPlain);
}
}  // namespace

TEST_CASE("known answers: AES-CM with the RFC 3711 B.3 master key, AES-GCM-128", "[srtp]") {
  check_known_answer(SrtpProfile::aes_cm_128_hmac_sha1_80, kRfc3711MasterKey, kRfc3711MasterSalt, kSrtpCm80,
                     kSrtcpCm80);
  // The 32-bit tag is the first 4 bytes of the same HMAC; SRTCP keeps the 80-bit tag (RFC 5764 4.1.2).
  const std::vector<uint8_t> srtp_cm32(kSrtpCm80.begin(), kSrtpCm80.begin() + 32);
  check_known_answer(SrtpProfile::aes_cm_128_hmac_sha1_32, kRfc3711MasterKey, kRfc3711MasterSalt, srtp_cm32,
                     kSrtcpCm80);
  check_known_answer(SrtpProfile::aead_aes_128_gcm, kGcmMasterKey, kGcmMasterSalt, kSrtpGcm128, kSrtcpGcm128);
}

TEST_CASE("SRTP misuse and malformed input are errors, never crashes", "[srtp]") {
  const Keys keys = make_keys(SrtpProfile::aes_cm_128_hmac_sha1_80);
  SECTION("key and salt sizes must match the profile") {
    const Keys gcm = make_keys(SrtpProfile::aead_aes_256_gcm);
    CHECK(SrtpSession::create({SrtpProfile::aes_cm_128_hmac_sha1_80, SrtpDirection::outbound, gcm.key, keys.salt})
              .code() == Errc::invalid_argument);
    CHECK(SrtpSession::create({SrtpProfile::aead_aes_128_gcm, SrtpDirection::outbound, keys.key, keys.salt}).code() ==
          Errc::invalid_argument);
    CHECK(SrtpSession::create({static_cast<SrtpProfile>(3), SrtpDirection::outbound, keys.key, keys.salt}).code() ==
          Errc::invalid_argument);
    SrtpConfig tiny_window{SrtpProfile::aes_cm_128_hmac_sha1_80, SrtpDirection::inbound, keys.key, keys.salt, 16};
    CHECK(SrtpSession::create(tiny_window).code() == Errc::invalid_argument);
  }
  SrtpSession tx = make_session(SrtpProfile::aes_cm_128_hmac_sha1_80, SrtpDirection::outbound, keys);
  SrtpSession rx = make_session(SrtpProfile::aes_cm_128_hmac_sha1_80, SrtpDirection::inbound, keys);
  SECTION("each session works in its own direction only") {
    auto plain = rtp_packet(1, 1, 10);
    auto buf = plain;
    buf.resize(plain.size() + 10);
    CHECK(rx.protect(buf, plain.size()).code() == Errc::invalid_argument);
    CHECK(tx.unprotect(buf).code() == Errc::invalid_argument);
  }
  SECTION("protect needs room for the tag and a real RTP header") {
    auto buf = rtp_packet(1, 1, 10);
    CHECK(tx.protect(buf, buf.size()).code() == Errc::invalid_argument);  // no spare bytes
    buf.resize(buf.size() + 10);
    CHECK(tx.protect(buf, buf.size() + 1).code() == Errc::invalid_argument);
    CHECK(tx.protect(buf, 8).code() == Errc::invalid_argument);  // shorter than a header
    buf[0] = 0x8f;  // claims 15 CSRCs
    CHECK(tx.protect(buf, 22).code() == Errc::invalid_argument);
  }
  SECTION("garbage into unprotect is malformed_packet or authentication_failed") {
    std::vector<uint8_t> empty;
    CHECK(rx.unprotect(empty).code() == Errc::malformed_packet);
    CHECK(rx.unprotect_rtcp(empty).code() == Errc::malformed_packet);
    uint32_t state = 7;
    for (int round = 0; round < 500; ++round) {
      std::vector<uint8_t> junk(round % 90);
      for (auto& b : junk) b = static_cast<uint8_t>((state = state * 1103515245u + 12345u) >> 24);
      auto copy = junk;
      const Errc rtp = rx.unprotect(junk).code();
      const Errc rtcp = rx.unprotect_rtcp(copy).code();
      CHECK((rtp == Errc::malformed_packet || rtp == Errc::authentication_failed));
      CHECK((rtcp == Errc::malformed_packet || rtcp == Errc::authentication_failed || rtcp == Errc::replayed));
    }
  }
  SECTION("a moved-from session refuses work") {
    SrtpSession moved = std::move(tx);
    auto buf = rtp_packet(1, 1, 10);
    buf.resize(buf.size() + 10);
    CHECK(tx.protect(buf, buf.size() - 10).code() == Errc::invalid_argument);  // NOLINT: use after move on purpose
    CHECK(moved.protect(buf, buf.size() - 10).ok());
  }
}
