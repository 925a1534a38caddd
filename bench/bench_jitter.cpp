// Jitter buffer and frame assembly, per packet in steady state (one op = one packet):
//   jitter_audio/in_order          AudioJitterBuffer::insert of a 100-byte Opus-like 20 ms packet, then pop(now)
//                                  until none, now = the packet's arrival. Arrivals 30 ms + 0..3 ms after their
//                                  media time
//   jitter_audio/reordered         the same with every 10th pair of packets swapped (the earlier one arrives
//                                  20 ms late, after its successor)
//   video_assembler/in_order       VideoFrameAssembler::insert of a 1100-byte packet, then poll_frame(now)
//                                  until none: 30 fps, 5 packets per frame, a keyframe every 100 frames
//   video_assembler/reordered      the same with packets 2 and 3 of every 4th frame swapped
// Streams continue across batches (sequence numbers and timestamps wrap as they do in a long call). After
// each case a line says how many frames (and losses) came out per packet, to show the steady state is real.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "core/media/jitter/audio_jitter_buffer.h"
#include "core/media/jitter/video_frame_assembler.h"
#include "harness.h"

namespace tandem::bench {
namespace {

using media::AudioJitterBuffer;
using media::AudioPop;
using media::MediaPacket;
using media::VideoFrameAssembler;

constexpr uint64_t kMs = 1'000'000;

struct AudioStream {
  bool reorder = false;
  uint64_t arrivals = 0;  // packets delivered so far, in arrival order
  uint32_t rng = 12345;
  // The media-order number of the packet arriving as number `j`.
  uint64_t media_index(uint64_t j) const {
    if (!reorder) return j;
    const uint64_t pos = j % 10;
    return pos == 3 ? j + 1 : pos == 4 ? j - 1 : j;
  }
  MediaPacket next(std::span<const uint8_t> payload) {
    const uint64_t j = arrivals++;
    const uint64_t k = media_index(j);
    rng = rng * 1103515245u + 12345u;
    MediaPacket p;
    p.seq = static_cast<uint16_t>(k);
    p.rtp_timestamp = static_cast<uint32_t>(k * 960);
    p.payload = payload;
    p.arrival_ns = j * 20 * kMs + 30 * kMs + (rng >> 8) % (3 * kMs);
    return p;
  }
};

struct VideoStream {
  static constexpr uint64_t kPacketsPerFrame = 5;
  bool reorder = false;
  uint64_t arrivals = 0;
  MediaPacket next(std::span<const uint8_t> payload) {
    const uint64_t j = arrivals++;
    const uint64_t frame = j / kPacketsPerFrame;
    uint64_t i = j % kPacketsPerFrame;
    if (reorder && frame % 4 == 0 && (i == 1 || i == 2)) i = 3 - i;
    MediaPacket p;
    p.seq = static_cast<uint16_t>(frame * kPacketsPerFrame + i);
    p.rtp_timestamp = static_cast<uint32_t>(frame * 3000);
    p.frame_start = i == 0;
    p.marker = i == kPacketsPerFrame - 1;
    p.keyframe = frame % 100 == 0;
    p.payload = payload;
    p.arrival_ns = frame * 33'333'333 + (j % kPacketsPerFrame) * 200'000;
    return p;
  }
};

void run_jitter_suite(Harness& h) {
  const std::vector<uint8_t> audio_payload(100, 0x5a);
  for (const bool reorder : {false, true}) {
    const char* variant = reorder ? "reordered" : "in_order";
    if (!h.selected("jitter_audio", variant)) continue;
    auto buffer = AudioJitterBuffer::create();
    if (!buffer.ok()) return;
    AudioStream stream{reorder};
    uint64_t packets = 0, frames = 0, lost = 0, failed = 0;
    h.run({"jitter_audio", variant, [&](uint64_t n) {
             for (uint64_t i = 0; i < n; ++i) {
               const MediaPacket p = stream.next(audio_payload);
               failed += !buffer->insert(p).ok();
               for (auto o = buffer->pop(p.arrival_ns); o.kind != AudioPop::none; o = buffer->pop(p.arrival_ns)) {
                 if (o.kind == AudioPop::frame) {
                   ++frames;
                   keep(o.payload.data());
                 } else {
                   ++lost;
                 }
               }
             }
             packets += n;
           }});
    const auto s = buffer->stats();
    std::printf("  (jitter_audio/%s: per packet %.4f frames, %.4f lost pops; %llu late, %llu resets, %llu failed;"
                " target delay %.1f ms)\n",
                variant, double(frames) / double(packets), double(lost) / double(packets),
                static_cast<unsigned long long>(s.late), static_cast<unsigned long long>(s.resets),
                static_cast<unsigned long long>(failed), double(s.target_delay_ns) / 1e6);
  }

  const std::vector<uint8_t> video_payload(1100, 0xa5);
  for (const bool reorder : {false, true}) {
    const char* variant = reorder ? "reordered" : "in_order";
    if (!h.selected("video_assembler", variant)) continue;
    auto assembler = VideoFrameAssembler::create();
    if (!assembler.ok()) return;
    VideoStream stream{reorder};
    uint64_t packets = 0, frames = 0, failed = 0;
    h.run({"video_assembler", variant, [&](uint64_t n) {
             for (uint64_t i = 0; i < n; ++i) {
               const MediaPacket p = stream.next(video_payload);
               failed += !assembler->insert(p, p.arrival_ns).ok();
               while (auto f = assembler->poll_frame(p.arrival_ns)) {
                 ++frames;
                 keep(f->data.data());
               }
             }
             packets += n;
           }});
    const auto& s = assembler->stats();
    std::printf("  (video_assembler/%s: per packet %.4f frames (1/%llu expected); %llu dropped, %llu late,"
                " %llu failed)\n",
                variant, double(frames) / double(packets),
                static_cast<unsigned long long>(VideoStream::kPacketsPerFrame),
                static_cast<unsigned long long>(s.frames_dropped()), static_cast<unsigned long long>(s.late),
                static_cast<unsigned long long>(failed));
  }
}

const Suite kSuite(72, "jitter", run_jitter_suite);

}  // namespace
}  // namespace tandem::bench
