// Network addresses as the platform's datagram transport and the core's ICE agent see them.
//
// A value type with no system headers: the core never includes <sys/socket.h>, so addresses cross the seam as
// 16 bytes (IPv4 in the first 4) plus family and port. Text form (parse and print) is in core/transport/net.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace tandem::platform {

enum class AddressFamily : uint8_t { ipv4 = 4, ipv6 = 6 };

struct IpAddress {
  AddressFamily family = AddressFamily::ipv4;
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 uses bytes[0..3], the rest stays zero

  static IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    IpAddress ip;
    ip.bytes[0] = a, ip.bytes[1] = b, ip.bytes[2] = c, ip.bytes[3] = d;
    return ip;
  }
  static IpAddress v6(const std::array<uint8_t, 16>& b) {
    IpAddress ip;
    ip.family = AddressFamily::ipv6;
    ip.bytes = b;
    return ip;
  }
  size_t size() const { return family == AddressFamily::ipv4 ? 4 : 16; }
  bool is_ipv6() const { return family == AddressFamily::ipv6; }
  bool is_loopback() const {
    if (!is_ipv6()) return bytes[0] == 127;
    for (size_t i = 0; i < 15; ++i) {
      if (bytes[i] != 0) return false;
    }
    return bytes[15] == 1;
  }
  // fe80::/10: usable only with a scope (interface), which candidates cannot carry; ICE skips them.
  bool is_link_local() const {
    return is_ipv6() ? (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80) : (bytes[0] == 169 && bytes[1] == 254);
  }
  bool operator==(const IpAddress&) const = default;
};

struct SocketAddress {
  IpAddress ip;
  uint16_t port = 0;  // host order
  bool operator==(const SocketAddress&) const = default;
};

}  // namespace tandem::platform

template <>
struct std::hash<tandem::platform::SocketAddress> {
  size_t operator()(const tandem::platform::SocketAddress& a) const noexcept {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the bytes that matter
    auto mix = [&h](uint8_t byte) { h = (h ^ byte) * 1099511628211ull; };
    for (size_t i = 0; i < a.ip.size(); ++i) mix(a.ip.bytes[i]);
    mix(static_cast<uint8_t>(a.ip.family));
    mix(static_cast<uint8_t>(a.port >> 8));
    mix(static_cast<uint8_t>(a.port));
    return static_cast<size_t>(h);
  }
};
