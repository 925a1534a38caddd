#include "core/transport/sctp/dcep.h"

namespace tandem::transport {
namespace {

constexpr uint8_t kUnorderedBit = 0x80;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

}  // namespace

Result<DcepMessageType> dcep_message_type(std::span<const uint8_t> message) {
  if (message.empty()) return Error{Errc::malformed_packet, "empty DCEP message"};
  switch (message[0]) {
    case static_cast<uint8_t>(DcepMessageType::ack): return DcepMessageType::ack;
    case static_cast<uint8_t>(DcepMessageType::open): return DcepMessageType::open;
    default: return Error{Errc::malformed_packet, "unknown DCEP message type"};
  }
}

Result<DcepOpen> parse_dcep_open(std::span<const uint8_t> m) {
  if (m.size() < kDcepOpenHeaderSize) return Error{Errc::malformed_packet, "DATA_CHANNEL_OPEN too short"};
  if (m[0] != static_cast<uint8_t>(DcepMessageType::open)) {
    return Error{Errc::malformed_packet, "not a DATA_CHANNEL_OPEN"};
  }
  DcepOpen open;
  const uint8_t type = m[1];
  open.ordered = !(type & kUnorderedBit);
  switch (type & ~kUnorderedBit) {
    case 0x00: open.reliability = DcepReliability::reliable; break;
    case 0x01: open.reliability = DcepReliability::max_retransmits; break;
    case 0x02: open.reliability = DcepReliability::max_lifetime; break;
    default: return Error{Errc::malformed_packet, "unknown DATA_CHANNEL_OPEN channel type"};
  }
  open.priority = be16(&m[2]);
  open.reliability_parameter = be32(&m[4]);
  const size_t label_size = be16(&m[8]);
  const size_t protocol_size = be16(&m[10]);
  if (m.size() != kDcepOpenHeaderSize + label_size + protocol_size) {
    return Error{Errc::malformed_packet, "DATA_CHANNEL_OPEN lengths do not match its size"};
  }
  const auto* text = reinterpret_cast<const char*>(m.data() + kDcepOpenHeaderSize);
  open.label = std::string_view(text, label_size);
  open.protocol = std::string_view(text + label_size, protocol_size);
  return open;
}

Result<void> write_dcep_open(const DcepOpen& open, std::vector<uint8_t>& out) {
  if (open.label.size() > UINT16_MAX || open.protocol.size() > UINT16_MAX) {
    return {Errc::invalid_argument, "data channel label and protocol are limited to 65535 bytes"};
  }
  out.clear();
  out.push_back(static_cast<uint8_t>(DcepMessageType::open));
  out.push_back(static_cast<uint8_t>(static_cast<uint8_t>(open.reliability) | (open.ordered ? 0 : kUnorderedBit)));
  put16(out, open.priority);
  put16(out, static_cast<uint16_t>(open.reliability_parameter >> 16));
  put16(out, static_cast<uint16_t>(open.reliability_parameter));
  put16(out, static_cast<uint16_t>(open.label.size()));
  put16(out, static_cast<uint16_t>(open.protocol.size()));
  out.insert(out.end(), open.label.begin(), open.label.end());
  out.insert(out.end(), open.protocol.begin(), open.protocol.end());
  return {};
}

}  // namespace tandem::transport
