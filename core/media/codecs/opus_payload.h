// Facts about Opus packets on the wire (RFC 6716 framing, RFC 7587 RTP payload format) that other stages need
// without decoding: the jitter buffer (how long is this packet?), loss recovery (can the next packet rebuild
// the lost one?), and frame E2EE, which encrypts everything after the TOC byte and leaves the TOC in clear so
// that exactly these questions stay answerable in the middle of the network.
#pragma once

#include <cstdint>
#include <span>

#include "core/common/error.h"

namespace tandem::media {

// RFC 7587 section 4.1: the RTP clock is 48 kHz whatever rate the codec runs at internally, and the SDP
// rtpmap always says two channels ("opus/48000/2"), even for mono streams.
inline constexpr uint32_t kOpusRtpClockRate = 48000;
inline constexpr uint32_t kOpusRtpmapChannels = 2;
// The longest packet Opus allows (RFC 6716 section 3.2.5): 120 ms.
inline constexpr uint32_t kOpusMaxPacketSamples = 5760;

// Which layer coded a packet (RFC 6716 section 3.1, the TOC byte's configuration number).
enum class OpusMode : uint8_t { silk, hybrid, celt };

// The TOC byte: | config (5 bits) | s (stereo) | c (frame count code, 2 bits) |.
constexpr uint8_t opus_toc_config(uint8_t toc) { return toc >> 3; }
constexpr bool opus_toc_stereo(uint8_t toc) { return (toc & 0x04) != 0; }
constexpr uint8_t opus_toc_frame_count_code(uint8_t toc) { return toc & 0x03; }

constexpr OpusMode opus_toc_mode(uint8_t toc) {
  const uint8_t config = opus_toc_config(toc);
  return config < 12 ? OpusMode::silk : config < 16 ? OpusMode::hybrid : OpusMode::celt;
}

// Duration of each frame in the packet, in 48 kHz samples (= RTP ticks): 120 (2.5 ms) .. 2880 (60 ms).
constexpr uint32_t opus_toc_frame_samples(uint8_t toc) {
  const uint8_t config = opus_toc_config(toc);
  switch (opus_toc_mode(toc)) {
    case OpusMode::silk: {
      constexpr uint32_t kSilk[4] = {480, 960, 1920, 2880};  // 10, 20, 40, 60 ms
      return kSilk[config & 3];
    }
    case OpusMode::hybrid: return (config & 1) ? 960 : 480;  // 20 or 10 ms
    case OpusMode::celt: return 120u << (config & 3);       // 2.5, 5, 10, 20 ms
  }
  return 0;
}

// Total duration of a packet in 48 kHz samples: frames per packet times frame duration. Code-3 packets
// carry the count in their second byte. Errc::malformed_packet for an empty packet, a missing count byte,
// a zero count or more than 120 ms.
Result<uint32_t> opus_packet_samples(std::span<const uint8_t> packet);

// Whether the packet carries in-band FEC (SILK's LBRR data) for the audio just before it, i.e. whether
// decoding it with FEC can rebuild a lost predecessor. CELT-only packets never do. The flag is read from the
// SILK header bits at the start of the first frame (RFC 6716 section 4.2.3), which a range coder codes as
// plain bits. Errc::malformed_packet if the packet's framing is invalid.
Result<bool> opus_packet_has_fec(std::span<const uint8_t> packet);

}  // namespace tandem::media
