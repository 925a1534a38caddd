#include "core/media/codecs/opus_payload.h"

#include <catch2/catch.hpp>
#include <vector>

using namespace tandem;
using namespace tandem::media;

namespace {
bool has_fec(std::vector<uint8_t> packet) { return opus_packet_has_fec(packet).value(); }
}  // namespace

TEST_CASE("Opus TOC byte: mode and frame duration for all 32 configurations", "[codec][opus]") {
  // RFC 6716 section 3.1, Table 2.
  const uint32_t expected[32] = {480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880,
                                 480, 960, 480,  960,  120, 240, 480,  960,  120, 240, 480,  960,
                                 120, 240, 480,  960,  120, 240, 480,  960};
  for (uint8_t config = 0; config < 32; ++config) {
    INFO("config " << int(config));
    const auto toc = static_cast<uint8_t>(config << 3 | 0x04 | 0x01);  // stereo, code 1: must not matter
    CHECK(opus_toc_config(toc) == config);
    CHECK(opus_toc_frame_samples(toc) == expected[config]);
    CHECK(opus_toc_mode(toc) == (config < 12 ? OpusMode::silk : config < 16 ? OpusMode::hybrid : OpusMode::celt));
    CHECK(opus_toc_stereo(toc));
    CHECK(opus_toc_frame_count_code(toc) == 1);
  }
  CHECK(kOpusRtpClockRate == 48000);
}

TEST_CASE("Opus packet duration counts its frames", "[codec][opus]") {
  const std::vector<uint8_t> one = {0x08, 0xAA};                  // SILK 20 ms, code 0
  const std::vector<uint8_t> two = {0x09, 0xAA, 0xBB};            // code 1: two equal frames
  const std::vector<uint8_t> three = {0x0B, 0x03, 1, 2, 3};       // code 3: three frames
  const std::vector<uint8_t> max = {0x1B, 0x02, 1, 2};            // 2 x 60 ms = 120 ms, the limit
  const std::vector<uint8_t> over = {0x1B, 0x03, 1, 2, 3};        // 180 ms
  const std::vector<uint8_t> zero = {0x0B, 0x00};                 // no frames
  const std::vector<uint8_t> no_count = {0x0B};
  CHECK(opus_packet_samples(one).value() == 960);
  CHECK(opus_packet_samples(two).value() == 1920);
  CHECK(opus_packet_samples(three).value() == 2880);
  CHECK(opus_packet_samples(max).value() == 5760);
  CHECK(opus_packet_samples(over).code() == Errc::malformed_packet);
  CHECK(opus_packet_samples(zero).code() == Errc::malformed_packet);
  CHECK(opus_packet_samples(no_count).code() == Errc::malformed_packet);
  CHECK(opus_packet_samples({}).code() == Errc::malformed_packet);
}

TEST_CASE("Opus FEC flag is read from the SILK header bits", "[codec][opus]") {
  // Mono SILK 20 ms: | VAD | LBRR | ...
  CHECK(has_fec({0x08, 0x40}));
  CHECK_FALSE(has_fec({0x08, 0x80}));
  // Stereo: | mid VAD | mid LBRR | side VAD | side LBRR | ...; either LBRR flag counts.
  CHECK(has_fec({0x0C, 0x10}));
  CHECK(has_fec({0x0C, 0x40}));
  CHECK_FALSE(has_fec({0x0C, 0xA0}));
  // 40 and 60 ms SILK frames carry two and three VAD flags before the LBRR flag.
  CHECK(has_fec({0x10, 0x20}));
  CHECK_FALSE(has_fec({0x10, 0xC0}));
  CHECK(has_fec({0x18, 0x10}));
  CHECK_FALSE(has_fec({0x18, 0xE0}));
  CHECK(has_fec({0x1C, 0x01}));  // stereo 60 ms: the side channel's flag is the byte's last bit
  // Hybrid has a SILK layer too; CELT-only never carries LBRR.
  CHECK(has_fec({0x60, 0x40}));
  CHECK_FALSE(has_fec({0xF8, 0xFF}));
  // The flag of the packet's first frame, wherever the framing puts it.
  CHECK(has_fec({0x09, 0x40, 0x00}));        // code 1
  CHECK(has_fec({0x0A, 0x01, 0x40, 0x00}));  // code 2: length byte, then frame 0
  CHECK_FALSE(has_fec({0x0A, 0x01, 0x00, 0x40}));
  CHECK(has_fec({0x0B, 0x02, 0x40, 0x00}));  // code 3, CBR
  CHECK_FALSE(has_fec({0x08}));              // an empty frame (DTX)
  // Broken framing is an error, not a guess.
  CHECK(opus_packet_has_fec(std::vector<uint8_t>{0x0A, 0x05, 0x40}).code() == Errc::malformed_packet);
  CHECK(opus_packet_has_fec(std::vector<uint8_t>{0x0B, 0x00}).code() == Errc::malformed_packet);
  CHECK(opus_packet_has_fec({}).code() == Errc::malformed_packet);
}
