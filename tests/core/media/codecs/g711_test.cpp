#include "core/media/codecs/g711.h"

#include <catch2/catch.hpp>
#include <vector>

#include "support/alloc_counter.h"

using namespace tandem;
using namespace tandem::media;

namespace {

// The decoder outputs as G.711's tables define them, written in the Recommendation's own units (mu-law:
// 14-bit, A-law: 13-bit magnitudes) and scaled to 16 bits: an independent statement of what the codec's
// tables must hold.
int expected_pcmu(uint8_t code) {
  const int inverted = static_cast<uint8_t>(~code);
  const int segment = (inverted >> 4) & 7, step = inverted & 15;
  const int magnitude14 = ((2 * step + 33) << segment) - 33;
  return (code & 0x80) ? 4 * magnitude14 : -4 * magnitude14;
}
int expected_pcma(uint8_t code) {
  const int plain = code ^ 0x55;
  const int segment = (plain >> 4) & 7, step = plain & 15;
  const int magnitude13 = segment == 0 ? 2 * step + 1 : (2 * step + 33) << (segment - 1);
  return (plain & 0x80) ? 8 * magnitude13 : -8 * magnitude13;
}

// The quantisation interval [low, low + width) of a non-negative input that a code stands for: the decoded
// value sits in its middle (except the innermost mu-law interval, which starts at zero).
struct Interval {
  int low, width;
};
Interval pcmu_interval(uint8_t code) {
  const int segment = ((~code) >> 4) & 7;
  const int width = 8 << segment;
  const int mid = expected_pcmu(code);
  return mid == 0 ? Interval{0, 4} : Interval{mid - width / 2, width};
}
Interval pcma_interval(uint8_t code) {
  const int segment = ((code ^ 0x55) >> 4) & 7;
  const int width = segment <= 1 ? 16 : 16 << (segment - 1);
  return Interval{expected_pcma(code) - width / 2, width};
}

}  // namespace

TEST_CASE("G.711 decoders match the Recommendation's tables", "[codec][g711]") {
  for (int c = 0; c < 256; ++c) {
    INFO("code " << c);
    CHECK(pcmu_decode_sample(static_cast<uint8_t>(c)) == expected_pcmu(static_cast<uint8_t>(c)));
    CHECK(pcma_decode_sample(static_cast<uint8_t>(c)) == expected_pcma(static_cast<uint8_t>(c)));
  }
  // Reference points every G.711 table starts or ends with.
  CHECK(pcmu_decode_sample(0x00) == -32124);
  CHECK(pcmu_decode_sample(0x01) == -31100);
  CHECK(pcmu_decode_sample(0x0F) == -16764);
  CHECK(pcmu_decode_sample(0x80) == 32124);
  CHECK(pcmu_decode_sample(0xFE) == 8);
  CHECK(pcmu_decode_sample(0xFF) == 0);
  CHECK(pcmu_decode_sample(0x7F) == 0);  // "negative zero"
  CHECK(pcma_decode_sample(0x00) == -5504);
  CHECK(pcma_decode_sample(0x01) == -5248);
  CHECK(pcma_decode_sample(0xD5) == 8);
  CHECK(pcma_decode_sample(0x55) == -8);
  CHECK(pcma_decode_sample(0xAA) == 32256);
  CHECK(pcma_decode_sample(0x2A) == -32256);
}

TEST_CASE("G.711 encoders put every 16-bit sample in its quantisation interval", "[codec][g711]") {
  for (int x = -32768; x <= 32767; ++x) {
    const auto sample = static_cast<int16_t>(x);
    // Negative inputs are quantised by their one's complement (G.191): the code is the mirror image.
    const int folded = x < 0 ? ~x : x;
    const uint8_t mu = pcmu_encode_sample(sample), a = pcma_encode_sample(sample);
    CHECK(bool(mu & 0x80) == (x >= 0));
    CHECK(bool(a & 0x80) == (x >= 0));
    const uint8_t mu_positive = mu | 0x80, a_positive = a | 0x80;
    const Interval mi = pcmu_interval(mu_positive), ai = pcma_interval(a_positive);
    const bool mu_clipped = mu_positive == 0x80 && folded >= mi.low;
    const bool a_clipped = a_positive == 0xAA && folded >= ai.low;
    if (!(folded >= mi.low && (folded < mi.low + mi.width || mu_clipped))) FAIL("mu-law interval, x=" << x);
    if (!(folded >= ai.low && (folded < ai.low + ai.width || a_clipped))) FAIL("A-law interval, x=" << x);
  }
  CHECK(pcmu_encode_sample(0) == 0xFF);
  CHECK(pcmu_encode_sample(-1) == 0x7F);
  CHECK(pcmu_encode_sample(32767) == 0x80);
  CHECK(pcmu_encode_sample(-32768) == 0x00);
  CHECK(pcma_encode_sample(0) == 0xD5);
  CHECK(pcma_encode_sample(-1) == 0x55);
  CHECK(pcma_encode_sample(32767) == 0xAA);
  CHECK(pcma_encode_sample(-32768) == 0x2A);
}

TEST_CASE("G.711 codes round-trip through decode and encode", "[codec][g711]") {
  for (int c = 0; c < 256; ++c) {
    const auto code = static_cast<uint8_t>(c);
    INFO("code " << c);
    // Mu-law's negative zero decodes to 0, which encodes as positive zero; every other code is its own image.
    CHECK(pcmu_encode_sample(pcmu_decode_sample(code)) == (code == 0x7F ? 0xFF : code));
    CHECK(pcma_encode_sample(pcma_decode_sample(code)) == code);
  }
}

TEST_CASE("G.711 frames convert without allocating and refuse short buffers", "[codec][g711]") {
  std::vector<int16_t> pcm(160), back(160);
  for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = static_cast<int16_t>(i * 409 - 32000);
  std::vector<uint8_t> mu(160), a(160);
  {
    test::AllocationScope scope;
    REQUIRE(pcmu_encode(pcm, mu).value() == 160);
    REQUIRE(pcmu_decode(mu, back).value() == 160);
    for (size_t i = 0; i < pcm.size(); ++i) CHECK(back[i] == pcmu_decode_sample(pcmu_encode_sample(pcm[i])));
    REQUIRE(pcma_encode(pcm, a).value() == 160);
    REQUIRE(pcma_decode(a, back).value() == 160);
    for (size_t i = 0; i < pcm.size(); ++i) CHECK(back[i] == pcma_decode_sample(pcma_encode_sample(pcm[i])));
    CHECK(scope.count() == 0);
  }
  std::vector<uint8_t> short_out(159);
  CHECK(pcmu_encode(pcm, short_out).code() == Errc::invalid_argument);
  CHECK(pcma_decode(mu, std::span<int16_t>(back).first(100)).code() == Errc::invalid_argument);
}
