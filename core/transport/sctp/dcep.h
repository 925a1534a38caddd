// The WebRTC Data Channel Establishment Protocol (RFC 8832): the two messages a peer sends on a fresh SCTP
// stream to open a data channel in-band, and the PPIDs of RFC 8831 section 8 that tell them from user data.
//
//   DATA_CHANNEL_OPEN (type 0x03):  type(1) channel type(1) priority(2) reliability parameter(4)
//                                   label length(2) protocol length(2) label protocol      (big-endian)
//   DATA_CHANNEL_ACK  (type 0x02):  type(1)
//
// Parsing is zero-copy (label and protocol are views into the message) and total: any byte string gives either
// a message or Errc::malformed_packet.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/common/error.h"

namespace tandem::transport {

// SCTP payload protocol identifiers (RFC 8831 section 8; 52 and 54, the deprecated partial messages, are not
// accepted).
enum class WebRtcPpid : uint32_t {
  dcep = 50,
  string = 51,
  binary = 53,
  string_empty = 56,  // an empty string message, carried as one ignored byte (SCTP has no empty messages)
  binary_empty = 57,
};

enum class DcepMessageType : uint8_t { ack = 0x02, open = 0x03 };

// RFC 8832 section 5.1 channel types, without the unordered bit (0x80).
enum class DcepReliability : uint8_t { reliable = 0x00, max_retransmits = 0x01, max_lifetime = 0x02 };

struct DcepOpen {
  bool ordered = true;
  DcepReliability reliability = DcepReliability::reliable;
  uint32_t reliability_parameter = 0;  // retransmissions or lifetime in ms; ignored for reliable channels
  uint16_t priority = 256;             // RFC 8831 section 6.4: 128 below normal, 256 normal, 512, 1024
  std::string_view label;
  std::string_view protocol;
};

constexpr size_t kDcepOpenHeaderSize = 12;

// The type of a DCEP message (its first byte), or Errc::malformed_packet for an empty or unknown message.
Result<DcepMessageType> dcep_message_type(std::span<const uint8_t> message);
// A DATA_CHANNEL_OPEN. Errc::malformed_packet unless it is exactly the header plus label and protocol and
// names a known channel type.
Result<DcepOpen> parse_dcep_open(std::span<const uint8_t> message);
// Writes a DATA_CHANNEL_OPEN into `out` (replacing its contents; its capacity is reused).
// Errc::invalid_argument when the label or protocol is longer than 65535 bytes.
Result<void> write_dcep_open(const DcepOpen& open, std::vector<uint8_t>& out);

}  // namespace tandem::transport
