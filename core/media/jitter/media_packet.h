// What the jitter buffers and the frame assembler take in: one media packet, already parsed.
//
// The integrator maps an RTP packet (header view + payload descriptor) onto this; nothing here parses RTP, so
// these components do not depend on the RTP layer and tests can feed them directly. `payload` is only read
// during insert(): the buffers copy it into their own pre-allocated slots, so the datagram can be reused.
#pragma once

#include <cstdint>
#include <span>

namespace tandem::media {

struct MediaPacket {
  uint16_t seq = 0;            // RTP sequence number (after RTX unwrapping: the original stream's number)
  uint32_t rtp_timestamp = 0;  // RTP timestamp, in the stream's clock rate
  bool marker = false;         // RTP marker: video = last packet of a frame; audio = first after silence
  bool frame_start = false;    // video: first packet of a frame (from the payload descriptor)
  bool keyframe = false;       // video: the frame is independently decodable (from the payload descriptor)
  std::span<const uint8_t> payload;  // what the decoder needs from this packet (descriptor stripped)
  uint64_t arrival_ns = 0;           // receive time on the caller's clock
};

}  // namespace tandem::media
