#include "core/transport/stun/demux.h"

namespace tandem::transport {

std::string_view to_string(PacketClass c) {
  switch (c) {
    case PacketClass::stun: return "stun";
    case PacketClass::zrtp: return "zrtp";
    case PacketClass::dtls: return "dtls";
    case PacketClass::turn_channel: return "turn_channel";
    case PacketClass::rtp_rtcp: return "rtp_rtcp";
    case PacketClass::unknown: break;
  }
  return "unknown";
}

}  // namespace tandem::transport
