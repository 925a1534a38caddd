// Known answers for the AEAD profiles (RFC 7714) through SrtpSession.
//
// RFC 7714's test vectors (section 16 for SRTP, section 17 for SRTCP) start from the *session* encryption key
// and salt: they pin the AEAD packet transform (IV formation, associated data, the E flag and index trailer)
// but not the key derivation. SrtpSession, like libsrtp below it, only takes a master key and salt and always
// runs the RFC 3711 KDF, and no master key can be chosen to derive a given session key. So the check is a
// chain of known answers, each link pinned by published bytes:
//   1. A small reference implementation in this file (mbedTLS AES and GCM directly, not libsrtp) of the KDF
//      (RFC 3711 section 4.3) and of the AEAD transforms (RFC 7714 sections 8.1 and 9.1) reproduces
//      - RFC 7714 16.1.1 / 16.2.1 (SRTP) and 17.1 / 17.2 (SRTCP) from their session keys,
//      - RFC 3711 B.3 and RFC 6188 7.2 (the AES-128 and AES-256 KDF),
//      - libsrtp's own AEAD_AES_128_GCM reference packets (test/srtp_driver.c, srtp_validate_gcm), the only
//        published bytes that cover the KDF with a 96-bit AEAD master salt.
//   2. SrtpSession, given a master key and salt, produces byte for byte what the reference produces from the
//      same master key and salt, and unprotects the reference's packets, for both AEAD profiles, across a
//      rollover-counter increment and at the RFC's SRTCP index.
// Natively libsrtp runs on NSS, in wasm on mbedTLS; the reference runs on mbedTLS on both.
#include <mbedtls/aes.h>
#include <mbedtls/gcm.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/media/srtp_session.h"

using namespace tandem;
using namespace tandem::media;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes hex(std::string_view s) {
  auto nibble = [](char c) -> uint8_t {
    if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
    return static_cast<uint8_t>(c - 'A' + 10);
  };
  Bytes out;
  int pending = -1;
  for (char c : s) {
    if (c == ' ' || c == '\n') continue;
    if (pending < 0) {
      pending = nibble(c);
    } else {
      out.push_back(static_cast<uint8_t>(pending << 4 | nibble(c)));
      pending = -1;
    }
  }
  return out;
}

void put_be32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// ---- The reference implementation -------------------------------------------------------------------------

// RFC 3711 section 4.3 with key_derivation_rate 0: x = (label << 48) XOR master_salt over 112 bits, and the
// session value is the AES-CM keystream from IV x * 2^16. A 96-bit AEAD master salt is zero-extended on the
// right to 112 bits, as libsrtp does (RFC 7714 section 11 keeps the RFC 3711 KDF unchanged).
Bytes kdf(const Bytes& master_key, const Bytes& master_salt, uint8_t label, size_t length) {
  uint8_t block[16] = {};
  std::memcpy(block, master_salt.data(), master_salt.size());
  block[7] ^= label;
  mbedtls_aes_context aes;
  mbedtls_aes_init(&aes);
  REQUIRE(mbedtls_aes_setkey_enc(&aes, master_key.data(), static_cast<unsigned>(master_key.size() * 8)) == 0);
  Bytes out;
  for (unsigned counter = 0; out.size() < length; ++counter) {
    block[14] = static_cast<uint8_t>(counter >> 8);
    block[15] = static_cast<uint8_t>(counter);
    uint8_t keystream[16];
    REQUIRE(mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, block, keystream) == 0);
    out.insert(out.end(), keystream, keystream + 16);
  }
  mbedtls_aes_free(&aes);
  out.resize(length);
  return out;
}

constexpr uint8_t kLabelRtpKey = 0x00, kLabelRtpAuth = 0x01, kLabelRtpSalt = 0x02;
constexpr uint8_t kLabelRtcpKey = 0x03, kLabelRtcpSalt = 0x05;
constexpr size_t kTagSize = 16;

struct SessionKeys {
  Bytes key, salt;
};
SessionKeys derive_rtp(const Bytes& master_key, const Bytes& master_salt) {
  return {kdf(master_key, master_salt, kLabelRtpKey, master_key.size()),
          kdf(master_key, master_salt, kLabelRtpSalt, 12)};
}
SessionKeys derive_rtcp(const Bytes& master_key, const Bytes& master_salt) {
  return {kdf(master_key, master_salt, kLabelRtcpKey, master_key.size()),
          kdf(master_key, master_salt, kLabelRtcpSalt, 12)};
}

// AES-GCM with a 12-byte IV and a 16-byte tag; returns ciphertext || tag.
Bytes gcm_seal(const Bytes& key, const uint8_t (&iv)[12], const Bytes& aad, const uint8_t* plain, size_t n) {
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  REQUIRE(mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key.data(), static_cast<unsigned>(key.size() * 8)) == 0);
  Bytes out(n + kTagSize);
  REQUIRE(mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, n, iv, sizeof(iv), aad.data(), aad.size(), plain,
                                    out.data(), kTagSize, out.data() + n) == 0);
  mbedtls_gcm_free(&gcm);
  return out;
}

// RFC 7714 section 8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt.
void rtp_iv(const SessionKeys& k, const Bytes& packet, uint32_t roc, uint8_t (&iv)[12]) {
  uint8_t in[12] = {0, 0, packet[8], packet[9], packet[10], packet[11], 0, 0, 0, 0, packet[2], packet[3]};
  put_be32(in + 6, roc);
  for (size_t i = 0; i < 12; ++i) iv[i] = in[i] ^ k.salt[i];
}

// RFC 7714 section 8.2: the whole RTP header (CSRCs and extension included) is associated data, the payload
// is encrypted, the tag follows.
Bytes protect_rtp(const SessionKeys& k, const Bytes& plain, uint32_t roc) {
  size_t header = 12 + 4u * (plain[0] & 0x0f);
  if (plain[0] & 0x10) header += 4 + 4u * (size_t{plain[header + 2]} << 8 | plain[header + 3]);
  uint8_t iv[12];
  rtp_iv(k, plain, roc, iv);
  const Bytes aad(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(header));
  Bytes out = aad;
  const Bytes sealed = gcm_seal(k.key, iv, aad, plain.data() + header, plain.size() - header);
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

// RFC 7714 sections 9.1 and 9.2: IV = (0x0000 || SSRC || 0x0000 || 0 || SRTCP index) XOR salt; the first 8
// bytes and the E flag + index word are associated data; the packet ends with tag, then E flag + index.
Bytes protect_rtcp(const SessionKeys& k, const Bytes& plain, uint32_t index) {
  uint8_t in[12] = {0, 0, plain[4], plain[5], plain[6], plain[7], 0, 0};
  put_be32(in + 8, index & 0x7fffffff);
  uint8_t iv[12];
  for (size_t i = 0; i < 12; ++i) iv[i] = in[i] ^ k.salt[i];
  uint8_t trailer[4];
  put_be32(trailer, 0x80000000u | index);
  Bytes aad(plain.begin(), plain.begin() + 8);
  aad.insert(aad.end(), trailer, trailer + 4);
  Bytes out(plain.begin(), plain.begin() + 8);
  const Bytes sealed = gcm_seal(k.key, iv, aad, plain.data() + 8, plain.size() - 8);
  out.insert(out.end(), sealed.begin(), sealed.end());
  out.insert(out.end(), trailer, trailer + 4);
  return out;
}

// ---- Published vectors -------------------------------------------------------------------------------------

// RFC 7714 section 16: session keys and salt, the RTP packet ("Gallia est omnis divisa in partes tres" after
// a 12-byte header, sequence number 0xf17b, SSRC 0x5501a0b2, ROC 0), the IV of 16.1.1, and the results.
const Bytes kRfcKey128 = hex("000102030405060708090a0b0c0d0e0f");
const Bytes kRfcKey256 = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const Bytes kRfcSalt = hex("517569642070726f2071756f");  // "Quid pro quo"
const Bytes kRfcRtp = hex(
    "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976 69736120 696e2070 61727465 73207472"
    "6573");
const Bytes kRfcRtpIv = hex("51753c6580c2726f20718414");
const Bytes kRfcSrtp128 = hex(  // 16.1.1
    "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf"
    "8833899d 7f27beb1 6a9152cf 765ee439 0cce");
const Bytes kRfcSrtp256 = hex(  // 16.2.1
    "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238 9a58e2f3 b50b2a02 76ffae0f 1ba63799"
    "b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13");
// RFC 7714 section 17: the RTCP packet the subsections 17.1-17.4 encrypt (SSRC "Mars"; its length field says
// 14 words while the packet has 13, which neither the RFC's transform nor libsrtp looks at), at SRTCP index
// 0x5d4.
const Bytes kRfcRtcp = hex(
    "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef"
    "deadbeef");
constexpr uint32_t kRfcSrtcpIndex = 0x5d4;
const Bytes kRfcSrtcp128 = hex(  // 17.1
    "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d c676a5f1 730d6fda 4ce09b46 86303ded"
    "0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4");
const Bytes kRfcSrtcp256 = hex(  // 17.2
    "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d bffe0a50 a2eaa5c1 110555be 8415f658 c61de047"
    "6f1b6fad 1d1eb30c 4446839f 57ff6f6c b26ac3be 800005d4");

}  // namespace

TEST_CASE("RFC 7714: the reference AEAD transform reproduces sections 16.1.1, 16.2.1, 17.1 and 17.2", "[srtp][kat]") {
  const SessionKeys k128{kRfcKey128, kRfcSalt}, k256{kRfcKey256, kRfcSalt};
  uint8_t iv[12];
  rtp_iv(k128, kRfcRtp, 0, iv);
  CHECK(Bytes(iv, iv + 12) == kRfcRtpIv);

  CHECK(protect_rtp(k128, kRfcRtp, 0) == kRfcSrtp128);
  CHECK(protect_rtp(k256, kRfcRtp, 0) == kRfcSrtp256);
  CHECK(protect_rtcp(k128, kRfcRtcp, kRfcSrtcpIndex) == kRfcSrtcp128);
  CHECK(protect_rtcp(k256, kRfcRtcp, kRfcSrtcpIndex) == kRfcSrtcp256);
}

TEST_CASE("RFC 3711 B.3 and RFC 6188 7.2: the reference KDF", "[srtp][kat]") {
  const Bytes key128 = hex("e1f97a0d3e018be0d64fa32c06de4139"), salt128 = hex("0ec675ad498afeebb6960b3aabe6");
  CHECK(kdf(key128, salt128, kLabelRtpKey, 16) == hex("c61e7a93744f39ee10734afe3ff7a087"));
  CHECK(kdf(key128, salt128, kLabelRtpSalt, 14) == hex("30cbbc08863d8c85d49db34a9ae1"));
  // The first 160 bits: what HMAC-SHA1 keys with (RFC 3711 section 4.3.1; B.3 prints a longer keystream).
  CHECK(kdf(key128, salt128, kLabelRtpAuth, 20) == hex("cebe321f6ff7716b6fd4ab49af256a156d38baa4"));
  const Bytes key256 = hex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6");
  const Bytes salt256 = hex("3b04803de51ee7c96423ab5b78d2");
  CHECK(kdf(key256, salt256, kLabelRtpKey, 32) ==
        hex("5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4"));
  CHECK(kdf(key256, salt256, kLabelRtpSalt, 14) == hex("fa31791685ca444a9e07c6c64e93"));
  CHECK(kdf(key256, salt256, kLabelRtpAuth, 20) == hex("fd9c32d39ed5fbb5a9dc96b30818454d1313dc05"));
}

TEST_CASE("libsrtp's AEAD_AES_128_GCM reference packets: the reference KDF with a 96-bit master salt",
          "[srtp][kat]") {
  // test/srtp_driver.c, srtp_validate_gcm: master key 00..0f, master salt a0..ab, SRTP with ROC 0, SRTCP
  // index 1. The same bytes are checked through SrtpSession in srtp_session_test.cpp.
  const Bytes key = hex("000102030405060708090a0b0c0d0e0f"), salt = hex("a0a1a2a3a4a5a6a7a8a9aaab");
  const Bytes rtp = hex("800f1234 decafbad cafebabe abababab abababab abababab abababab");
  const Bytes rtcp = hex("81c8000b cafebabe abababab abababab abababab abababab");
  CHECK(protect_rtp(derive_rtp(key, salt), rtp, 0) ==
        hex("800f1234 decafbad cafebabe c5002ede 04cfdd2e b91159e0 880aa06e d2976826 f796b201 df3131a1 27e8a392"));
  CHECK(protect_rtcp(derive_rtcp(key, salt), rtcp, 1) ==
        hex("81c8000b cafebabe c98b8b5d f0392a55 852b6c21 ac8e7025 c52c6fbe a2b3b446 ea31123b a88ce61e 80000001"));
}

TEST_CASE("SrtpSession matches the RFC 7714 reference from a master key, both AEAD profiles", "[srtp][kat]") {
  for (const SrtpProfile profile : {SrtpProfile::aead_aes_128_gcm, SrtpProfile::aead_aes_256_gcm}) {
    INFO(to_string(profile));
    // The RFC's session key and salt, used here as master key and salt.
    const Bytes& master_key = profile == SrtpProfile::aead_aes_128_gcm ? kRfcKey128 : kRfcKey256;
    const Bytes& master_salt = kRfcSalt;
    auto tx = SrtpSession::create({profile, SrtpDirection::outbound, master_key, master_salt});
    auto rx = SrtpSession::create({profile, SrtpDirection::inbound, master_key, master_salt});
    REQUIRE(tx.ok());
    REQUIRE(rx.ok());
    const SessionKeys rtp_keys = derive_rtp(master_key, master_salt);
    const SessionKeys rtcp_keys = derive_rtcp(master_key, master_salt);
    // The derived session keys are not the master key: the chain really goes through the KDF.
    CHECK(rtp_keys.key != master_key);

    // The RFC's packet, then four more across the sequence-number wrap: the ROC goes from 0 to 1 and must
    // enter the IV.
    struct Step {
      uint16_t seq;
      uint32_t roc;
    };
    for (const Step step : {Step{0xf17b, 0}, Step{0xfffe, 0}, Step{0xffff, 0}, Step{0x0000, 1}, Step{0x0001, 1}}) {
      INFO("seq " << step.seq);
      Bytes plain = kRfcRtp;
      plain[2] = static_cast<uint8_t>(step.seq >> 8);
      plain[3] = static_cast<uint8_t>(step.seq);
      const Bytes expected = protect_rtp(rtp_keys, plain, step.roc);

      Bytes buffer = plain;
      buffer.resize(plain.size() + tx->rtp_overhead());
      auto n = tx->protect(buffer, plain.size());
      REQUIRE(n.ok());
      buffer.resize(*n);
      CHECK(buffer == expected);

      Bytes received = expected;
      auto m = rx->unprotect(received);
      REQUIRE(m.ok());
      received.resize(*m);
      CHECK(received == plain);
    }

    // SRTCP: SrtpSession numbers its packets from 1; wind it to the RFC's index 0x5d4, comparing each.
    for (uint32_t index = 1; index <= kRfcSrtcpIndex; ++index) {
      Bytes buffer = kRfcRtcp;
      buffer.resize(kRfcRtcp.size() + tx->rtcp_overhead());
      auto n = tx->protect_rtcp(buffer, kRfcRtcp.size());
      REQUIRE(n.ok());
      buffer.resize(*n);
      const Bytes expected = protect_rtcp(rtcp_keys, kRfcRtcp, index);
      if (buffer != expected || index == kRfcSrtcpIndex) {
        INFO("SRTCP index " << index);
        REQUIRE(buffer == expected);
        Bytes received = expected;
        auto m = rx->unprotect_rtcp(received);
        REQUIRE(m.ok());
        received.resize(*m);
        CHECK(received == kRfcRtcp);
      }
    }

    // A flipped bit in the reference's packet fails authentication in SrtpSession, and the genuine packet
    // passes: the tag is the RFC's GCM tag, not something only libsrtp agrees with.
    Bytes next = kRfcRtp;
    next[2] = 0x00;
    next[3] = 0x02;  // seq 0x0002 (ROC 1): not yet seen, so only the tag can reject it
    Bytes genuine = protect_rtp(rtp_keys, next, 1);
    Bytes forged = genuine;
    forged[20] ^= 0x01;
    CHECK(rx->unprotect(forged).code() == Errc::authentication_failed);
    auto m = rx->unprotect(genuine);
    REQUIRE(m.ok());
    genuine.resize(*m);
    CHECK(genuine == next);
  }
}
