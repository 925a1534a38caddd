// Text forms of IP and socket addresses, as SDP, ICE candidates and logs carry them.
//
// Written here rather than taken from inet_pton/inet_ntop so that core/ stays free of socket headers; both
// directions follow RFC 4291 section 2.2 (input) and RFC 5952 (output: lower case, longest zero run as "::").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tandem/platform/net.h"

namespace tandem::transport {

using platform::AddressFamily;
using platform::IpAddress;
using platform::SocketAddress;

// "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1". No zone ids ("%eth0"), no brackets; nothing else accepted.
std::optional<IpAddress> parse_ip(std::string_view text);
// "192.0.2.1:3478" or "[2001:db8::1]:3478".
std::optional<SocketAddress> parse_socket_address(std::string_view text);

std::string to_string(const IpAddress& ip);
std::string to_string(const SocketAddress& address);  // IPv6 in brackets

}  // namespace tandem::transport
