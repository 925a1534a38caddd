// ICE candidates (RFC 8445 section 5.1, SDP form RFC 8839 section 5.1, TCP candidates RFC 6544) and the
// priority formula.
//
// The attribute value looks like
//   candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 ufrag EsAw network-id 1
// parse() accepts it with or without a leading "a=" and/or "candidate:" (browsers hand out both forms) and
// keeps every extension attribute it does not interpret as a name/value pair, so format() gives the line back.
// Chromium hides host addresses behind mDNS names ("<uuid>.local", RFC 8839 section 5.1 allows an FQDN): such a
// candidate keeps its name in `hostname` and reports unresolved(); the ICE agent ignores it and learns the real
// address as a peer-reflexive candidate when the peer's checks arrive.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/error.h"
#include "tandem/platform/net.h"

namespace tandem::transport {

enum class IceProtocol : uint8_t { udp, tcp };
enum class IceCandidateType : uint8_t { host, srflx, prflx, relay };
enum class IceTcpType : uint8_t { none, active, passive, so };  // RFC 6544 section 4.5

std::string_view to_string(IceCandidateType type);

struct IceCandidate {
  std::string foundation;  // 1-32 ice-chars
  uint16_t component = 1;  // 1 = RTP (everything, with rtcp-mux and BUNDLE)
  IceProtocol protocol = IceProtocol::udp;
  uint32_t priority = 0;
  // The transport address. When the connection address is a name (mDNS), `hostname` holds it, address.ip stays
  // unset (0.0.0.0) and only address.port is meaningful.
  platform::SocketAddress address;
  std::string hostname;
  IceCandidateType type = IceCandidateType::host;
  std::optional<platform::SocketAddress> related;  // raddr/rport; a related address that is not an IP is dropped
  IceTcpType tcp_type = IceTcpType::none;
  // Everything after the type (and raddr/rport/tcptype) in order: generation, ufrag, network-id, network-cost...
  std::vector<std::pair<std::string, std::string>> extensions;

  bool unresolved() const { return !hostname.empty(); }
  uint16_t port() const { return address.port; }
  std::optional<std::string_view> extension(std::string_view name) const;

  // The SDP attribute value, starting with "candidate:" (no "a=", no line break).
  std::string format() const;
  // Errc::malformed_packet with a reason for anything that is not a candidate line.
  static Result<IceCandidate> parse(std::string_view line);

  bool operator==(const IceCandidate&) const = default;
};

// RFC 8445 section 5.1.2.2 recommended type preferences.
uint8_t type_preference(IceCandidateType type);

// Local preference (0-65535) for an address: RFC 8421 asks dual-stack agents to prefer IPv6 while still giving
// IPv4 a chance; here every IPv6 address ranks above every IPv4 one, and `index` (the order in which addresses
// of one family were added, 0 first) separates interfaces of the same family. Link-local addresses rank last.
uint16_t local_preference(const platform::IpAddress& ip, uint32_t index);

// RFC 8445 section 5.1.2.1: (2^24) * type preference + (2^8) * local preference + (256 - component id).
uint32_t candidate_priority(IceCandidateType type, uint16_t local_pref, uint16_t component);

// A foundation shared by candidates of the same type, base IP and protocol (RFC 8445 section 5.1.1.3), as a
// decimal string of a CRC-32 like Chromium's, so it stays stable for the same interface across sessions.
std::string candidate_foundation(IceCandidateType type, const platform::IpAddress& base, IceProtocol protocol);

}  // namespace tandem::transport
