// Codecs, one frame per op: what encoding and decoding one frame costs on this target.
//   vp8_encode/640x480_30fps_800kbps_speed6   Vp8EncoderConfig's defaults (640x480, 800 kbps, 30 fps, speed 6,
//                                             keyframes only at the start): one frame of a moving synthetic
//                                             scene (tests' moving_pattern, rendered untimed before each frame),
//                                             after a 2 s pre-roll, so that both targets time frames of a
//                                             settled rate control however few frames they get through
//   vp8_decode/640x480_800kbps                the frames that encoder produced: a pre-encoded 5 s sequence
//                                             (150 frames, the first a keyframe) decoded in a cycle, so one
//                                             frame in 150 is a keyframe
//   opus_encode|decode/48k_mono_20ms_32kbps   OpusEncoderConfig's defaults at 32 kbps (complexity 9, in-band
//                                             FEC with a 10 % loss hint); a 5 s melody, in a cycle
//   pcmu_encode|decode/8k_20ms                G.711 mu-law, 160 samples
// The figures are libvpx's and libopus's (our wrappers add a few checks). allocs/op counts C++ operator new
// only, and libvpx and libopus allocate with malloc; so after each case a line starting with '#' gives the
// malloc-family calls per frame over 30 more frames (natively: tests/support/alloc_counter.h counts malloc
// on glibc without sanitizers; elsewhere it says "not counted") and what the frames were (sizes, bitrate),
// so a figure can be checked against the stream that produced it.
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "core/media/codecs/g711.h"
#include "core/media/codecs/opus_codec.h"
#include "core/media/codecs/vp8_codec.h"
#include "harness.h"
#include "support/alloc_counter.h"
#include "tests/core/media/codecs/codec_signals.h"

namespace tandem::bench {
namespace {

using media::I420View;

constexpr uint64_t kVideoTick = 90000 / 30;  // RTP video clock step of one frame at 30 fps
constexpr size_t kDecodeFrames = 150;        // the cycled VP8 sequence: 5 s at 30 fps
constexpr uint32_t kPrerollFrames = 60;      // VP8 frames encoded before the encode case is timed: 2 s
constexpr size_t kAudioSeconds = 5;
constexpr int kMallocFrames = 30;            // frames the malloc count is taken over, after the timed run

// malloc-family calls per call of `fn` over kMallocFrames calls, as text for the '#' lines.
template <class Fn>
std::string mallocs_per_frame(Fn&& fn) {
  if (!test::kCountsMalloc) return "mallocs/frame not counted on this target";
  const uint64_t m0 = test::mallocs_on_this_thread();
  for (int i = 0; i < kMallocFrames; ++i) fn(i);
  char text[64];
  std::snprintf(text, sizeof text, "mallocs/frame %.3g",
                static_cast<double>(test::mallocs_on_this_thread() - m0) / kMallocFrames);
  return text;
}

template <class T>
T take(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s failed: %s\n", what, r.error().message.c_str());
    std::abort();
  }
  return std::move(r).value();
}

[[noreturn]] void fail(const char* what, uint64_t count) {
  std::fprintf(stderr, "%s: %llu failures\n", what, static_cast<unsigned long long>(count));
  std::abort();
}

void run_vp8(Harness& h) {
  const media::Vp8EncoderConfig config;  // the defaults are the case: 640x480, 800 kbps, 30 fps, speed 6
  const std::string encode_variant = std::to_string(config.width) + "x" + std::to_string(config.height) + "_" +
                                     std::to_string(config.framerate) + "fps_" +
                                     std::to_string(config.bitrate_kbps) + "kbps_speed" + std::to_string(config.speed);
  const std::string decode_variant = std::to_string(config.width) + "x" + std::to_string(config.height) + "_" +
                                     std::to_string(config.bitrate_kbps) + "kbps";

  if (h.selected("vp8_encode", encode_variant)) {
    auto encoder = take(media::Vp8Encoder::create(config), "Vp8Encoder::create");
    // The scene keeps moving across batches: frame t is rendered (untimed) right before it is encoded, as a
    // camera would hand it over.
    uint32_t t = 0;
    test::I420Buffer picture(config.width, config.height);
    uint64_t frames = 0, bytes = 0, keyframes = 0, failures = 0;
    for (; t < kPrerollFrames; ++t) {
      picture = test::moving_pattern(config.width, config.height, t);
      if (!encoder.encode(picture.view(), uint64_t{t} * kVideoTick).ok()) ++failures;
    }
    Case c{"vp8_encode", encode_variant, [&](uint64_t n) {
             for (uint64_t i = 0; i < n; ++i) {
               auto r = encoder.encode(picture.view(), uint64_t{t - 1} * kVideoTick);  // `before` moved t on
               if (!r.ok() || r->data.empty()) {
                 ++failures;
                 continue;
               }
               ++frames, bytes += r->data.size(), keyframes += r->keyframe ? 1 : 0;
             }
           }};
    c.before = [&](uint64_t) {
      picture = test::moving_pattern(config.width, config.height, t);
      ++t;
    };
    c.max_batch = 1;  // one frame per batch: a frame takes far longer than a batch's target anyway
    h.run(c);
    // The malloc count: the next frames, rendered beforehand so that only encoding is counted.
    std::vector<test::I420Buffer> next;
    const uint32_t first = t;
    for (int i = 0; i < kMallocFrames; ++i) next.push_back(test::moving_pattern(config.width, config.height, t++));
    const std::string mallocs = mallocs_per_frame([&](int i) {
      const auto at = static_cast<uint32_t>(i);
      auto r = encoder.encode(next[at].view(), uint64_t{first + at} * kVideoTick);
      if (!r.ok() || r->data.empty()) ++failures;
    });
    if (failures != 0) fail("vp8_encode", failures);
    std::printf("# vp8_encode: %s; after %u pre-roll frames, %llu frames encoded (warm-up included), %llu "
                "keyframes, mean %.0f B/frame = %.0f kbps at %u fps\n",
                mallocs.c_str(), kPrerollFrames, static_cast<unsigned long long>(frames),
                static_cast<unsigned long long>(keyframes),
                static_cast<double>(bytes) / static_cast<double>(frames),
                static_cast<double>(bytes) * 8 * config.framerate / static_cast<double>(frames) / 1000,
                config.framerate);
  }

  if (h.selected("vp8_decode", decode_variant)) {
    // What the encoder above makes of the first 5 s of the scene, starting with its keyframe.
    auto encoder = take(media::Vp8Encoder::create(config), "Vp8Encoder::create");
    std::vector<std::vector<uint8_t>> sequence;
    size_t bytes = 0;
    for (uint32_t t = 0; t < kDecodeFrames; ++t) {
      const auto picture = test::moving_pattern(config.width, config.height, t);
      auto r = take(encoder.encode(picture.view(), uint64_t{t} * kVideoTick), "Vp8Encoder::encode");
      if (r.data.empty() || r.keyframe != (t == 0)) fail("vp8_decode: pre-encoding (drop or unexpected keyframe)", 1);
      sequence.emplace_back(r.data.begin(), r.data.end());
      bytes += r.data.size();
    }
    auto decoder = take(media::Vp8Decoder::create(), "Vp8Decoder::create");
    size_t next = 0;
    uint64_t failures = 0;
    auto decode_one = [&] {
      auto r = decoder.decode(sequence[next]);
      if (!r.ok() || r->corrupted || r->picture.width != config.width) ++failures;
      keep(r.ok() ? r->picture.y : nullptr);
      next = next + 1 == sequence.size() ? 0 : next + 1;
    };
    h.run({"vp8_decode", decode_variant, [&](uint64_t n) {
             for (uint64_t i = 0; i < n; ++i) decode_one();
           }});
    const std::string mallocs = mallocs_per_frame([&](int) { decode_one(); });
    if (failures != 0) fail("vp8_decode", failures);
    std::printf("# vp8_decode: %s; cycled %zu frames, keyframe %zu B, mean %.0f B/frame = %.0f kbps at %u fps\n",
                mallocs.c_str(), sequence.size(), sequence[0].size(),
                static_cast<double>(bytes) / static_cast<double>(sequence.size()),
                static_cast<double>(bytes) * 8 * config.framerate / static_cast<double>(sequence.size()) / 1000,
                config.framerate);
  }
}

void run_opus(Harness& h) {
  media::OpusEncoderConfig config;
  config.bitrate_bps = 32000;  // mono 20 ms by default
  const std::string variant = "48k_mono_20ms_" + std::to_string(config.bitrate_bps / 1000) + "kbps";
  const bool encode_on = h.selected("opus_encode", variant), decode_on = h.selected("opus_decode", variant);
  if (!encode_on && !decode_on) return;

  auto encoder = take(media::OpusAudioEncoder::create(config), "OpusAudioEncoder::create");
  const size_t frame = encoder.frame_samples();
  const size_t frames = kAudioSeconds * media::kOpusSampleRate / frame;
  const std::vector<int16_t> signal = test::melody(frames * frame);
  auto pcm_of = [&](size_t i) { return std::span<const int16_t>(signal).subspan(i * frame, frame); };

  if (encode_on) {
    std::vector<uint8_t> out(4000);
    size_t next = 0;
    uint64_t failures = 0, count = 0, bytes = 0;
    auto encode_one = [&] {
      auto r = encoder.encode(pcm_of(next), out);
      if (r.ok()) ++count, bytes += *r; else ++failures;
      next = next + 1 == frames ? 0 : next + 1;
    };
    h.run({"opus_encode", variant, [&](uint64_t n) {
             for (uint64_t i = 0; i < n; ++i) encode_one();
           }});
    const std::string mallocs = mallocs_per_frame([&](int) { encode_one(); });
    if (failures != 0) fail("opus_encode", failures);
    std::printf("# opus_encode: %s; mean %.1f B/packet = %.1f kbps\n", mallocs.c_str(),
                static_cast<double>(bytes) / static_cast<double>(count),
                static_cast<double>(bytes) * 8 * 1000 / config.frame_ms / static_cast<double>(count) / 1000);
  }

  if (decode_on) {
    // A fresh encoder, so the packets are the melody's first 5 s from the start.
    auto fresh = take(media::OpusAudioEncoder::create(config), "OpusAudioEncoder::create");
    std::vector<std::vector<uint8_t>> packets;
    std::vector<uint8_t> out(4000);
    for (size_t i = 0; i < frames; ++i) {
      const size_t size = take(fresh.encode(pcm_of(i), out), "OpusAudioEncoder::encode");
      packets.emplace_back(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(size));
    }
    auto decoder = take(media::OpusAudioDecoder::create(config.channels), "OpusAudioDecoder::create");
    std::vector<int16_t> pcm(media::kOpusMaxPacketSamples * static_cast<size_t>(config.channels));
    size_t next = 0;
    uint64_t failures = 0;
    auto decode_one = [&] {
      auto r = decoder.decode(packets[next], pcm);
      if (!r.ok() || *r != frame) ++failures;
      next = next + 1 == frames ? 0 : next + 1;
    };
    h.run({"opus_decode", variant, [&](uint64_t n) {
             for (uint64_t i = 0; i < n; ++i) decode_one();
             keep(pcm[0]);
           }});
    const std::string mallocs = mallocs_per_frame([&](int) { decode_one(); });
    if (failures != 0) fail("opus_decode", failures);
    std::printf("# opus_decode: %s\n", mallocs.c_str());
  }
}

void run_pcmu(Harness& h) {
  constexpr size_t kFrame = media::kG711ClockRate / 50;  // 20 ms: 160 samples
  constexpr size_t kFrames = 50;                         // 1 s, in a cycle
  // The melody's samples as 8 kHz audio: what matters to the table lookups is a speech-like level range.
  const std::vector<int16_t> signal = test::melody(kFrame * kFrames);
  std::vector<uint8_t> coded(signal.size());
  if (!media::pcmu_encode(signal, coded).ok()) fail("pcmu_encode (set-up)", 1);
  std::vector<uint8_t> out(kFrame);
  std::vector<int16_t> pcm(kFrame);
  size_t next = 0;
  h.run({"pcmu_encode", "8k_20ms", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) {
             keep(media::pcmu_encode(std::span(signal).subspan(next * kFrame, kFrame), out).ok());
             next = next + 1 == kFrames ? 0 : next + 1;
           }
           keep(out[0]);
         }});
  h.run({"pcmu_decode", "8k_20ms", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) {
             keep(media::pcmu_decode(std::span(coded).subspan(next * kFrame, kFrame), pcm).ok());
             next = next + 1 == kFrames ? 0 : next + 1;
           }
           keep(pcm[0]);
         }});
}

void run_codec_suite(Harness& h) {
  run_pcmu(h);
  run_opus(h);
  run_vp8(h);
}

const Suite kSuite(50, "codecs", run_codec_suite);

}  // namespace
}  // namespace tandem::bench
