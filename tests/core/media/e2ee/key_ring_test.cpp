#include "core/media/e2ee/key_ring.h"

#include <mbedtls/md.h>

#include <catch2/catch.hpp>
#include <string_view>
#include <vector>

#include "e2ee_test_support.h"
#include "support/fake_platform.h"

using namespace tandem;
using namespace tandem::media::e2ee;

namespace {

std::vector<uint8_t> hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  std::vector<uint8_t> out(32);
  REQUIRE(mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key.data(), key.size(), data.data(),
                          data.size(), out.data()) == 0);
  return out;
}

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Whether `key` still works on the platform (a released key fails with unknown_key).
bool usable(test::FakePlatform& fake, platform::CryptoKeyId key) {
  struct Ignore final : platform::CryptoCompletionHandler {
    void on_crypto_complete(const platform::CryptoCompletion&) override {}
  } ignore;
  uint8_t iv[12] = {}, out[16];
  const bool ok = fake.crypto.seal({key, iv, {}, {}, out, 0}, ignore) == platform::CryptoStatus::ok;
  fake.crypto.cancel(ignore);
  return ok;
}

}  // namespace

TEST_CASE("e2ee key ring: the ratchet is HKDF-SHA256 with the documented salt and info", "[e2ee]") {
  // RFC 5869 by hand: PRK = HMAC(salt, IKM); OKM = first L bytes of T(1) = HMAC(PRK, info || 0x01).
  for (size_t size : {16, 32}) {
    std::vector<uint8_t> key(size);
    for (size_t i = 0; i < size; ++i) key[i] = static_cast<uint8_t>(i * 7 + 3);
    const auto prk = hmac_sha256(bytes("tandem-ratchet"), key);
    std::vector<uint8_t> info(bytes("tandem frame key").begin(), bytes("tandem frame key").end());
    info.push_back(0x01);
    auto expected = hmac_sha256(prk, info);
    expected.resize(size);
    std::vector<uint8_t> next(size);
    REQUIRE(ratchet_key(key, next).ok());
    CHECK(next == expected);
  }
  std::vector<uint8_t> odd(24), out(24);
  CHECK(ratchet_key(odd, out).code() == Errc::invalid_argument);
}

TEST_CASE("e2ee key ring: keys, slots and validation", "[e2ee]") {
  test::FakePlatform fake;
  KeyRing ring(fake.crypto, {4, 3});
  CHECK(ring.slots() == 4);
  CHECK(ring.ratchet_window() == 3);
  const std::vector<uint8_t> key(16, 0x42);
  CHECK(ring.set_key(4, key).code() == Errc::invalid_argument);
  CHECK(ring.set_key(0, std::vector<uint8_t>(24)).code() == Errc::invalid_argument);
  CHECK(ring.set_active_index(4).code() == Errc::invalid_argument);
  CHECK_FALSE(ring.has_key(0));
  CHECK(ring.key_id(0) == platform::kNoCryptoKey);
  CHECK(ring.ratchet(0).code() == Errc::invalid_argument);

  REQUIRE(ring.set_key(3, key).ok());
  CHECK(ring.has_key(3));
  CHECK(test::e2ee::same_bytes(ring.key_bytes(3), key));
  const uint32_t epoch = ring.epoch(3);
  const auto id = ring.key_id(3);
  CHECK(usable(fake, id));
  ring.clear_key(3);
  CHECK_FALSE(ring.has_key(3));
  CHECK(ring.epoch(3) != epoch);
  CHECK_FALSE(usable(fake, id));  // released on the platform

  KeyRing clamped(fake.crypto, {1000, 1000});
  CHECK(clamped.slots() == KeyRing::kMaxSlots);
  CHECK(clamped.ratchet_window() == KeyRing::kMaxRatchetWindow);
}

TEST_CASE("e2ee key ring: ratchet, look-ahead window and advancing", "[e2ee]") {
  test::FakePlatform fake;
  KeyRing ring(fake.crypto, {2, 3});
  std::vector<uint8_t> key(32);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  REQUIRE(ring.set_key(1, key).ok());

  // The sender's ratchet: next key bytes, a new platform key, the old one released.
  const auto id0 = ring.key_id(1);
  auto r = ring.ratchet(1);
  REQUIRE(r.ok());
  CHECK(*r == 1);
  std::vector<uint8_t> g1(32), g2(32), g3(32), g4(32);
  REQUIRE(ratchet_key(key, g1).ok());
  REQUIRE(ratchet_key(g1, g2).ok());
  REQUIRE(ratchet_key(g2, g3).ok());
  REQUIRE(ratchet_key(g3, g4).ok());
  CHECK(test::e2ee::same_bytes(ring.key_bytes(1), g1));
  CHECK(ring.key_id(1) != id0);
  CHECK_FALSE(usable(fake, id0));
  CHECK(ring.ratchets() == 1);

  // Receiver look-ahead: current .. current + window, nothing before or beyond.
  CHECK(ring.key_id_at(1, 1) == ring.key_id(1));
  CHECK(ring.key_id_at(1, 0) == platform::kNoCryptoKey);
  CHECK(ring.key_id_at(1, 5) == platform::kNoCryptoKey);
  const auto id3 = ring.key_id_at(1, 3);
  const auto id4 = ring.key_id_at(1, 4);
  REQUIRE(id3 != platform::kNoCryptoKey);
  REQUIRE(id4 != platform::kNoCryptoKey);
  CHECK(ring.key_id_at(1, 3) == id3);  // imported once
  CHECK(ring.generation(1) == 1);      // looking ahead changes nothing

  const auto id1 = ring.key_id(1);
  ring.advance_to(1, 3);
  CHECK(ring.generation(1) == 3);
  CHECK(test::e2ee::same_bytes(ring.key_bytes(1), g3));
  CHECK(ring.key_id(1) == id3);
  CHECK_FALSE(usable(fake, id1));
  CHECK(usable(fake, id4));  // still ahead
  CHECK(ring.key_id_at(1, 4) == id4);
  CHECK(ring.ratchets() == 3);

  ring.advance_to(1, 2);  // backwards: ignored
  ring.advance_to(1, 9);  // not derived: ignored
  CHECK(ring.generation(1) == 3);

  // A sender ratchet reuses the look-ahead key it already has.
  REQUIRE(ring.ratchet(1).ok());
  CHECK(ring.key_id(1) == id4);
  CHECK(test::e2ee::same_bytes(ring.key_bytes(1), g4));

  // set_key starts over at generation 0.
  REQUIRE(ring.set_key(1, key).ok());
  CHECK(ring.generation(1) == 0);
  CHECK_FALSE(usable(fake, id4));
}
