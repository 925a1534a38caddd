// RFC 7983 demultiplexing: which protocol a datagram on the one ICE/DTLS/SRTP port belongs to.
//
// WebRTC runs STUN, DTLS, SRTP/SRTCP (and, through TURN, channel data) over a single 5-tuple (BUNDLE and
// rtcp-mux). RFC 7983 section 7 tells them apart by the first byte alone, so this costs one comparison chain and
// never reads further. Anything outside the listed ranges must be dropped.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace tandem::transport {

enum class PacketClass : uint8_t {
  stun,          // first byte 0-3
  zrtp,          // 16-19
  dtls,          // 20-63
  turn_channel,  // 64-79
  rtp_rtcp,      // 128-191 (RTP version 2)
  unknown,       // anything else, and an empty datagram: drop it
};

constexpr PacketClass classify(std::span<const uint8_t> datagram) {
  if (datagram.empty()) return PacketClass::unknown;
  const uint8_t b = datagram[0];
  if (b <= 3) return PacketClass::stun;
  if (b >= 16 && b <= 19) return PacketClass::zrtp;
  if (b >= 20 && b <= 63) return PacketClass::dtls;
  if (b >= 64 && b <= 79) return PacketClass::turn_channel;
  if (b >= 128 && b <= 191) return PacketClass::rtp_rtcp;
  return PacketClass::unknown;
}

// With rtcp-mux, is this RTP/RTCP datagram RTCP? RFC 5761 section 4: the RTCP packet type octet sits where RTP
// has the marker bit and payload type, and RTCP packet types 192-223 are exactly "marker set, payload type 64-95",
// payload types that RFC 5761 forbids when muxing. So the whole second octet in 192-223 means RTCP, anything
// else RTP. (libwebrtc tests only the low 7 bits, calling "marker clear, PT 64-95" RTCP too; that input is
// forbidden RTP either way.) Needs the 4-byte RTCP common header and version 2.
constexpr bool is_rtcp(std::span<const uint8_t> datagram) {
  return datagram.size() >= 4 && (datagram[0] >> 6) == 2 && datagram[1] >= 192 && datagram[1] <= 223;
}

std::string_view to_string(PacketClass c);

}  // namespace tandem::transport
