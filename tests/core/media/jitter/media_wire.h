// Test-only helpers for carrying MediaPackets over the simulated network: a tiny wire format (not RTP; the
// components under test do not parse RTP) and payloads whose bytes say which packet they came from, so a
// test can check that what comes out is exactly what went in.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/media/jitter/media_packet.h"

namespace tandem::test {

// seq (2) | timestamp (4) | flags (1) | payload
inline constexpr size_t kWireHeader = 7;

inline size_t encode_packet(const media::MediaPacket& p, std::span<uint8_t> out) {
  const uint8_t flags = (p.marker ? 1 : 0) | (p.frame_start ? 2 : 0) | (p.keyframe ? 4 : 0);
  const uint8_t header[kWireHeader] = {uint8_t(p.seq >> 8),           uint8_t(p.seq),
                                       uint8_t(p.rtp_timestamp >> 24), uint8_t(p.rtp_timestamp >> 16),
                                       uint8_t(p.rtp_timestamp >> 8),  uint8_t(p.rtp_timestamp),
                                       flags};
  std::copy(header, header + kWireHeader, out.begin());
  std::copy(p.payload.begin(), p.payload.end(), out.begin() + kWireHeader);
  return kWireHeader + p.payload.size();
}

inline std::optional<media::MediaPacket> decode_packet(std::span<const uint8_t> in, uint64_t arrival_ns) {
  if (in.size() < kWireHeader) return std::nullopt;
  media::MediaPacket p;
  p.seq = static_cast<uint16_t>(in[0] << 8 | in[1]);
  p.rtp_timestamp = uint32_t{in[2]} << 24 | uint32_t{in[3]} << 16 | uint32_t{in[4]} << 8 | in[5];
  p.marker = in[6] & 1;
  p.frame_start = in[6] & 2;
  p.keyframe = in[6] & 4;
  p.payload = in.subspan(kWireHeader);
  p.arrival_ns = arrival_ns;
  return p;
}

// `size` bytes that start with the sequence number and timestamp and continue with a pattern derived from them.
inline void fill_payload(std::span<uint8_t> out, uint16_t seq, uint32_t ts) {
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = i < 2 ? uint8_t(seq >> (8 * (1 - i))) : uint8_t(seq * 7 + ts * 3 + i * 13);
  }
}
inline bool payload_matches(std::span<const uint8_t> data, uint16_t seq, uint32_t ts) {
  std::array<uint8_t, 2048> expected{};
  if (data.size() > expected.size()) return false;
  fill_payload(std::span<uint8_t>(expected.data(), data.size()), seq, ts);
  return std::equal(data.begin(), data.end(), expected.begin());
}

}  // namespace tandem::test
