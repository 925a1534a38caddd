#include "core/media/codecs/vp8_codec.h"

#include <catch2/catch.hpp>
#include <vector>

#include "core/media/codecs/vp8_payload.h"
#include "support/alloc_counter.h"
#include "tests/core/media/codecs/codec_signals.h"

using namespace tandem;
using namespace tandem::media;

namespace {

constexpr uint64_t kTick = 3000;  // 90 kHz / 30 fps

Vp8Encoder make_encoder(Vp8EncoderConfig config = {}) {
  auto e = Vp8Encoder::create(config);
  REQUIRE(e.ok());
  return std::move(e).value();
}
Vp8Decoder make_decoder(Vp8DecoderConfig config = {}) {
  auto d = Vp8Decoder::create(config);
  REQUIRE(d.ok());
  return std::move(d).value();
}
std::vector<uint8_t> copy(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

// Sends `frame` through the RTP payload format at `mtu` and returns what the receiver reassembles.
std::vector<uint8_t> through_rtp(std::span<const uint8_t> frame, size_t mtu) {
  auto packetizer = Vp8Packetizer::create({.max_payload_size = mtu});
  REQUIRE(packetizer.ok());
  REQUIRE(packetizer->begin_frame(frame).ok());
  std::vector<uint8_t> buffer(mtu), reassembled;
  while (!packetizer->done()) {
    auto packet = packetizer->next(buffer);
    REQUIRE(packet.ok());
    auto parsed = parse_vp8_payload(std::span(buffer).first(packet->size));
    REQUIRE(parsed.ok());
    reassembled.insert(reassembled.end(), parsed->data.begin(), parsed->data.end());
  }
  return reassembled;
}

}  // namespace

TEST_CASE("VP8 keeps a moving 640x480 scene", "[codec][vp8]") {
  auto encoder = make_encoder({.width = 640, .height = 480, .bitrate_kbps = 1200});
  auto decoder = make_decoder();
  double worst = 99, total = 0;
  size_t bytes = 0;
  const int frames = 30;
  for (int t = 0; t < frames; ++t) {
    const auto picture = test::moving_pattern(640, 480, static_cast<uint32_t>(t));
    auto encoded = encoder.encode(picture.view(), t * kTick);
    REQUIRE(encoded.ok());
    REQUIRE_FALSE(encoded->data.empty());
    CHECK(encoded->keyframe == (t == 0));  // periodic keyframes are off: only the first one
    bytes += encoded->data.size();
    // Every other frame goes through the RTP payload format first (the bytes must come out identical).
    const auto frame = t % 2 ? through_rtp(encoded->data, 1200) : copy(encoded->data);
    CHECK(frame == copy(encoded->data));
    auto decoded = decoder.decode(frame);
    REQUIRE(decoded.ok());
    CHECK(decoded->keyframe == encoded->keyframe);
    CHECK_FALSE(decoded->corrupted);
    REQUIRE(decoded->picture.width == 640);
    REQUIRE(decoded->picture.height == 480);
    const double psnr = test::luma_psnr(picture.view(), decoded->picture);
    worst = std::min(worst, psnr);
    total += psnr;
  }
  const double kbps = bytes * 8.0 * 30 / frames / 1000;
  INFO("PSNR worst " << worst << " dB, mean " << total / frames << " dB; " << kbps << " kbps");
  CHECK(worst > 40.0);  // measured: worst 46 dB, mean 50 dB (a smooth synthetic scene codes very well)
  CHECK(kbps < 1200 * 2.5);  // rate control roughly holds (the first keyframe is generous)
}

TEST_CASE("VP8 encoder makes a keyframe on request and on its interval", "[codec][vp8]") {
  auto encoder = make_encoder({.width = 320, .height = 240, .bitrate_kbps = 400, .keyframe_interval = 10});
  std::vector<int> keyframes;
  for (int t = 0; t < 25; ++t) {
    if (t == 4) encoder.request_keyframe();
    auto encoded = encoder.encode(test::moving_pattern(320, 240, t).view(), t * kTick);
    REQUIRE(encoded.ok());
    if (encoded->keyframe) keyframes.push_back(t);
  }
  // The request at 4, and then libvpx counts its interval from the latest keyframe.
  CHECK(keyframes == std::vector<int>{0, 4, 14, 24});
}

TEST_CASE("VP8 re-initialises on a resolution change, on both sides", "[codec][vp8]") {
  auto encoder = make_encoder({.width = 640, .height = 480});
  auto decoder = make_decoder();
  const std::pair<uint32_t, uint32_t> sizes[] = {{640, 480}, {320, 240}, {1280, 720}, {322, 182}};
  uint64_t pts = 0;
  for (auto [w, h] : sizes) {
    INFO(w << "x" << h);
    for (int t = 0; t < 3; ++t, pts += kTick) {
      const auto picture = test::moving_pattern(w, h, t);
      auto encoded = encoder.encode(picture.view(), pts);
      REQUIRE(encoded.ok());
      CHECK(encoded->keyframe == (t == 0));
      auto decoded = decoder.decode(encoded->data);
      REQUIRE(decoded.ok());
      CHECK(decoded->picture.width == w);
      CHECK(decoded->picture.height == h);
      CHECK(test::luma_psnr(picture.view(), decoded->picture) > 25.0);
    }
  }
  CHECK(encoder.initializations() == 4);
  CHECK(decoder.initializations() == 4);
  CHECK(encoder.width() == 322);

  // Larger than the configured maximum: refused, and the encoder keeps its current size.
  CHECK(encoder.encode(test::moving_pattern(1282, 720, 0).view(), pts).code() == Errc::invalid_argument);
  CHECK(Vp8Encoder::create({.width = 1920, .height = 1080}).code() == Errc::invalid_argument);
}

TEST_CASE("VP8 decoder refuses what it cannot decode, and recovers at the next keyframe", "[codec][vp8]") {
  auto encoder = make_encoder({.width = 320, .height = 240});
  std::vector<std::vector<uint8_t>> frames;
  for (int t = 0; t < 6; ++t) {
    if (t == 4) encoder.request_keyframe();
    frames.push_back(copy(encoder.encode(test::moving_pattern(320, 240, t).view(), t * kTick).value().data));
  }

  auto decoder = make_decoder();
  CHECK(decoder.decode(frames[1]).code() == Errc::protocol_error);  // a delta frame first
  CHECK(decoder.decode({}).code() == Errc::malformed_packet);
  REQUIRE(decoder.decode(frames[0]).ok());
  // A truncated delta frame: the header check or libvpx refuses it; later deltas wait for a keyframe.
  auto truncated = frames[1];
  truncated.resize(truncated.size() / 3);
  auto broken = decoder.decode(truncated);
  if (!broken.ok()) {
    CHECK(broken.code() == Errc::malformed_packet);
    CHECK(decoder.decode(frames[2]).code() == Errc::protocol_error);
  }
  auto recovered = decoder.decode(frames[4]);
  REQUIRE(recovered.ok());
  CHECK(recovered->keyframe);
  CHECK(decoder.decode(frames[5]).ok());

  // A keyframe larger than the decoder allows.
  auto small = make_decoder({.max_width = 160, .max_height = 120});
  CHECK(small.decode(frames[0]).code() == Errc::resource_exhausted);

  // Random bytes and bit-flipped frames: errors or pictures, never a crash.
  uint32_t seed = 7;
  auto next = [&] { return seed = seed * 1664525u + 1013904223u; };
  for (int round = 0; round < 300; ++round) {
    auto junk = frames[round % 2 ? 0 : 5];
    const int flips = 1 + static_cast<int>(next() % 8);
    for (int i = 0; i < flips; ++i) junk[next() % junk.size()] ^= static_cast<uint8_t>(1u << (next() % 8));
    if (round % 3 == 0) junk.resize(next() % junk.size() + 1);
    auto result = decoder.decode(junk);
    if (!result.ok())
      CHECK((result.code() == Errc::malformed_packet || result.code() == Errc::protocol_error ||
             result.code() == Errc::resource_exhausted));
  }
}

TEST_CASE("VP8 steady-state encode and decode make no allocations of ours", "[codec][vp8]") {
  // libvpx's own heap use (malloc, not operator new) is outside what this counter sees; see the notes in
  // docs/building.md for what was measured.
  auto encoder = make_encoder({.width = 320, .height = 240});
  auto decoder = make_decoder();
  std::vector<test::I420Buffer> pictures;
  for (int t = 0; t < 6; ++t) pictures.push_back(test::moving_pattern(320, 240, t));
  REQUIRE(decoder.decode(encoder.encode(pictures[0].view(), 0).value().data).ok());  // warm-up: first keyframe
  test::AllocationScope scope;
  for (int t = 1; t < 6; ++t) {
    auto encoded = encoder.encode(pictures[t].view(), t * kTick);
    REQUIRE(encoded.ok());
    REQUIRE(decoder.decode(encoded->data).ok());
  }
  encoder.request_keyframe();
  REQUIRE(decoder.decode(encoder.encode(pictures[0].view(), 6 * kTick).value().data).ok());
  REQUIRE(encoder.set_bitrate(500).ok());
  CHECK(scope.count() == 0);
}
