#include "core/media/codecs/opus_payload.h"

#include <opus/opus.h>

namespace tandem::media {

Result<uint32_t> opus_packet_samples(std::span<const uint8_t> packet) {
  if (packet.empty()) return Error{Errc::malformed_packet, "empty Opus packet"};
  uint32_t frames = 1;
  switch (opus_toc_frame_count_code(packet[0])) {
    case 0: frames = 1; break;
    case 1:
    case 2: frames = 2; break;
    case 3:
      if (packet.size() < 2) return Error{Errc::malformed_packet, "Opus code-3 packet without frame count"};
      frames = packet[1] & 0x3F;
      break;
  }
  const uint32_t samples = frames * opus_toc_frame_samples(packet[0]);
  if (frames == 0 || samples > kOpusMaxPacketSamples)
    return Error{Errc::malformed_packet, "Opus packet frame count out of range"};
  return samples;
}

Result<bool> opus_packet_has_fec(std::span<const uint8_t> packet) {
  if (packet.empty()) return Error{Errc::malformed_packet, "empty Opus packet"};
  const uint8_t toc = packet[0];
  if (opus_toc_mode(toc) == OpusMode::celt) return false;

  // libopus validates the framing (codes 0-3, lengths, padding) and finds the first frame for us.
  const unsigned char* frames[48];
  opus_int16 sizes[48];
  const int count = opus_packet_parse(packet.data(), static_cast<opus_int32>(packet.size()), nullptr, frames,
                                      sizes, nullptr);
  if (count <= 0) return Error{Errc::malformed_packet, "invalid Opus packet framing"};
  if (sizes[0] == 0) return false;  // an empty frame (DTX) carries nothing

  // SILK header: one VAD flag per 20 ms SILK frame, then the LBRR flag, for the mid channel; a stereo packet
  // repeats both for the side channel. A 10 ms frame still has one SILK frame.
  const uint32_t frame_samples = opus_toc_frame_samples(toc);
  const int silk_frames = frame_samples > 960 ? static_cast<int>(frame_samples / 960) : 1;
  const uint8_t first = frames[0][0];
  const bool mid_lbrr = (first >> (7 - silk_frames)) & 1;
  const bool side_lbrr = opus_toc_stereo(toc) && ((first >> (6 - 2 * silk_frames)) & 1);
  return mid_lbrr || side_lbrr;
}

}  // namespace tandem::media
