// Golden checksums: the same input gives the same encoded bytes on every build of tandem, native (Debian's
// libopus/libvpx, with their SIMD) and wasm (our C-only cross-builds), and the same decoded pictures. That is
// what lets a native peer and a browser peer be compared bit for bit, and it catches a dependency build that
// changed behaviour (other flags, other version, a patch).
//
// The one exception is Opus's decoder output: libopus decodes in floating point, and its SSE kernels round
// differently from the plain C ones in rare samples (measured: one sample of 48000 off by 1 LSB). So decoded
// audio is compared per frame, by the sum of magnitudes, within a tolerance far below any real change.
//
// If a checksum changes on purpose (a new encoder setting, a new libvpx), re-run natively, read the values
// from the failure, update them here, and check the wasm build gives the same.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/media/codecs/opus_codec.h"
#include "core/media/codecs/vp8_codec.h"
#include "tests/core/media/codecs/codec_signals.h"

using namespace tandem;
using namespace tandem::media;

namespace {

// Integer-only audio (libm's sin may differ in the last bit between glibc and emscripten's libc): two
// triangle waves, a loudness that switches every 190 ms, and a little pseudo-random noise.
std::vector<int16_t> integer_audio(size_t samples) {
  std::vector<int16_t> out(samples);
  uint32_t seed = 2024;
  auto triangle = [](size_t i, int period, int amplitude) {
    const int phase = static_cast<int>(i % static_cast<size_t>(period));
    const int rise = phase < period / 2 ? phase : period - phase;
    return 4 * amplitude * rise / period - amplitude;
  };
  for (size_t i = 0; i < samples; ++i) {
    seed = seed * 1664525u + 1013904223u;
    const int loud = (i / 9120) % 2 ? 2 : 1;
    const int noise = static_cast<int>((seed >> 20) & 0x1FF) - 256;
    out[i] = static_cast<int16_t>(loud * (triangle(i, 218, 3000) + triangle(i, 97, 1000)) + noise);
  }
  return out;
}

std::string hex(uint64_t v) {
  char text[19];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(v));
  return text;
}

}  // namespace

TEST_CASE("Opus output is bit-identical on every target", "[codec][opus][golden]") {
  auto encoder = OpusAudioEncoder::create({.bitrate_bps = 32000, .packet_loss_percent = 10});
  auto decoder = OpusAudioDecoder::create(1);
  REQUIRE(encoder.ok());
  REQUIRE(decoder.ok());
  const auto input = integer_audio(960 * 50);
  // Sum of |sample| of each decoded frame, as measured natively (every 10th frame is concealed).
  constexpr long kFrameMagnitudes[50] = {
      1038044, 1512743, 1472261, 1547661, 1504237, 1534624, 1465729, 1528120, 1476450, 731859,
      1621904, 2918130, 2974968, 3114328, 3032393, 3067232, 2867387, 2995585, 2968751, 2119534,
      981153,  1402638, 1446798, 1451798, 1522712, 1507058, 1404037, 1431953, 1682523, 1090418,
      1852803, 2847197, 2945760, 2945689, 2935675, 3017309, 2984939, 2854159, 1723330, 979336,
      918678,  1346541, 1462379, 1381218, 1530473, 1477587, 1552256, 1645003, 3056276, 1745427};
  test::Fnv1a packets;
  std::vector<uint8_t> packet(1500);
  std::vector<int16_t> pcm(960);
  for (size_t f = 0; f < 50; ++f) {
    const size_t n = encoder->encode(std::span(input).subspan(f * 960, 960), packet).value();
    packets.add(std::span(packet).first(n));
    if (f % 10 == 9) {
      REQUIRE(decoder->decode_lost(960, pcm).ok());  // concealment is part of the contract too
    } else {
      REQUIRE(decoder->decode(std::span(packet).first(n), pcm).ok());
    }
    long magnitude = 0;
    for (int16_t s : pcm) magnitude += std::abs(int(s));
    INFO("frame " << f << ": " << magnitude);
    CHECK(std::abs(magnitude - kFrameMagnitudes[f]) <= 16);  // a few 1-LSB rounding differences at most
  }
  INFO("packets " << hex(packets.value));
  CHECK(packets.value == 0xc40e87229ecdbe73ull);
}

TEST_CASE("VP8 output is bit-identical on every target", "[codec][vp8][golden]") {
  auto encoder = Vp8Encoder::create({.width = 320, .height = 240, .bitrate_kbps = 300});
  auto decoder = Vp8Decoder::create();
  REQUIRE(encoder.ok());
  REQUIRE(decoder.ok());
  test::Fnv1a frames, pictures;
  for (uint32_t t = 0; t < 12; ++t) {
    if (t == 6) encoder->request_keyframe();
    auto encoded = encoder->encode(test::moving_pattern(320, 240, t).view(), t * 3000ull);
    REQUIRE(encoded.ok());
    frames.add(encoded->data);
    auto decoded = decoder->decode(encoded->data);
    REQUIRE(decoded.ok());
    const I420View& p = decoded->picture;
    pictures.add_plane(p.y, p.stride_y, p.width, p.height);
    pictures.add_plane(p.u, p.stride_u, p.chroma_width(), p.chroma_height());
    pictures.add_plane(p.v, p.stride_v, p.chroma_width(), p.chroma_height());
  }
  INFO("frames " << hex(frames.value) << ", decoded " << hex(pictures.value));
  CHECK(frames.value == 0xe9f7ec87e9b7e16dull);
  CHECK(pictures.value == 0x1548ffa58c1168b5ull);
}
