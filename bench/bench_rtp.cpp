// RTP packet parse and serialize (targets natively: parse < 20 ns, serialize < 15 ns):
//   rtp_parse/audio_one_ext              parse_rtp of an 80-byte Opus packet: 12-byte header, an RFC 8285
//                                        one-byte extension block with ssrc-audio-level (id 1, 1 byte), 60 bytes
//                                        of payload
//   rtp_parse/audio_one_ext+find         the same plus find_extension(1) and reading the level: what the
//                                        receive path does with it
//   rtp_parse/video_1200                 parse_rtp of a 1200-byte video packet: one-byte extensions
//                                        transport-wide-cc (id 3, 2 bytes) and abs-send-time (id 2, 3 bytes)
//   rtp_write/audio_one_ext              write_rtp of the audio packet into a 1500-byte buffer (copies the
//                                        60-byte payload)
//   rtp_write/video_1200_in_place        write_rtp of the video header with the payload already in place (a
//                                        packetizer writing into the datagram: nothing is copied)
//   rtp_write/video_1200_copy            the same, copying the 1180-byte payload
// The sequence number changes every call on the write side, as it does when sending.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <span>
#include <vector>

#include "core/media/rtp/rtp_packet.h"
#include "harness.h"

namespace tandem::bench {
namespace {

using media::rtp::RtpExtension;
using media::rtp::RtpHeader;

constexpr size_t kAudioPayload = 60;
constexpr size_t kVideoPacket = 1200;

// Writes a packet with write_rtp() itself (the bench then parses what the writer produced).
std::vector<uint8_t> make_packet(const RtpHeader& header, size_t payload_size) {
  std::vector<uint8_t> payload(payload_size);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7 + 1);
  std::vector<uint8_t> out(1500);
  auto n = media::rtp::write_rtp(header, payload, out);
  if (!n.ok()) return {};
  out.resize(*n);
  return out;
}

void run_rtp_suite(Harness& h) {
  const uint8_t level[] = {0x80 | 42};  // voice activity + -42 dBov
  const RtpExtension audio_ext[] = {{1, level}};
  RtpHeader audio{111, false, 1000, 48000, 0x11223344, {}, audio_ext};
  const std::vector<uint8_t> audio_packet = make_packet(audio, kAudioPayload);

  const uint8_t twcc[] = {0x01, 0x02};
  const uint8_t abs_send_time[] = {0x12, 0x34, 0x56};
  const RtpExtension video_ext[] = {{3, twcc}, {2, abs_send_time}};
  RtpHeader video{96, true, 2000, 90000, 0x55667788, {}, video_ext};
  const size_t video_header = media::rtp::rtp_header_size(video);
  const std::vector<uint8_t> video_packet = make_packet(video, kVideoPacket - video_header);
  if (audio_packet.size() != 12 + 4 + 4 + kAudioPayload || video_packet.size() != kVideoPacket) {
    std::printf("rtp: test packets have unexpected sizes (%zu, %zu)\n", audio_packet.size(), video_packet.size());
    return;
  }

  h.run({"rtp_parse", "audio_one_ext", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) {
             auto v = media::rtp::parse_rtp(audio_packet);
             keep(v.ok() ? v->payload.size() : 0);
           }
         }});
  h.run({"rtp_parse", "audio_one_ext+find", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) {
             auto v = media::rtp::parse_rtp(audio_packet);
             uint8_t got = 0;
             if (v.ok())
               if (auto e = v->find_extension(1)) got = (*e)[0];
             keep(got);
           }
         }});
  h.run({"rtp_parse", "video_1200", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) {
             auto v = media::rtp::parse_rtp(video_packet);
             keep(v.ok() ? v->payload.size() : 0);
           }
         }});

  std::vector<uint8_t> out(1500);
  const std::vector<uint8_t> audio_payload(audio_packet.end() - kAudioPayload, audio_packet.end());
  h.run({"rtp_write", "audio_one_ext", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) {
             audio.sequence_number = static_cast<uint16_t>(i);
             auto w = media::rtp::write_rtp(audio, audio_payload, out);
             keep(w.ok() ? *w : 0);
           }
         }});
  // In place: the payload sits in `out` where the header ends, as a packetizer leaves it.
  std::copy(video_packet.begin(), video_packet.end(), out.begin());
  const std::span<const uint8_t> in_place(out.data() + video_header, kVideoPacket - video_header);
  h.run({"rtp_write", "video_1200_in_place", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) {
             video.sequence_number = static_cast<uint16_t>(i);
             auto w = media::rtp::write_rtp(video, in_place, out);
             keep(w.ok() ? *w : 0);
           }
         }});
  const std::vector<uint8_t> video_payload(video_packet.begin() + static_cast<std::ptrdiff_t>(video_header),
                                           video_packet.end());
  h.run({"rtp_write", "video_1200_copy", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) {
             video.sequence_number = static_cast<uint16_t>(i);
             auto w = media::rtp::write_rtp(video, video_payload, out);
             keep(w.ok() ? *w : 0);
           }
         }});
}

const Suite kSuite(70, "rtp", run_rtp_suite);

}  // namespace
}  // namespace tandem::bench
