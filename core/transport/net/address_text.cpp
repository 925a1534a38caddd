#include "core/transport/net/address_text.h"

#include <charconv>
#include <cstdio>

namespace tandem::transport {
namespace {

std::optional<unsigned> parse_number(std::string_view text, int base, unsigned max) {
  if (text.empty() || text.size() > (base == 10 ? 3u : 4u)) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc{} || end != text.data() + text.size() || value > max) return std::nullopt;
  return value;
}

// Dotted quad into out[0..3].
bool parse_v4(std::string_view text, uint8_t* out) {
  for (int i = 0; i < 4; ++i) {
    const size_t dot = text.find('.');
    const std::string_view part = i < 3 ? text.substr(0, dot) : text;
    if ((i < 3) == (dot == std::string_view::npos)) return false;
    if (part.size() > 1 && part[0] == '0') return false;  // leading zeros are ambiguous (octal): refuse
    const auto value = parse_number(part, 10, 255);
    if (!value) return false;
    out[i] = static_cast<uint8_t>(*value);
    if (i < 3) text.remove_prefix(dot + 1);
  }
  return true;
}

// Groups of a "::"-free piece ("a:b:c" or "a:b:1.2.3.4" at the tail) into out; returns the group count or -1.
int parse_v6_groups(std::string_view text, uint8_t* out, int max_groups, bool allow_v4_tail) {
  if (text.empty()) return 0;
  int groups = 0;
  while (true) {
    const size_t colon = text.find(':');
    const std::string_view part = text.substr(0, colon);
    if (colon == std::string_view::npos && allow_v4_tail && part.find('.') != std::string_view::npos) {
      if (groups + 2 > max_groups || !parse_v4(part, out + groups * 2)) return -1;
      return groups + 2;
    }
    const auto value = parse_number(part, 16, 0xffff);
    if (!value || groups >= max_groups) return -1;
    out[groups * 2] = static_cast<uint8_t>(*value >> 8);
    out[groups * 2 + 1] = static_cast<uint8_t>(*value);
    ++groups;
    if (colon == std::string_view::npos) return groups;
    text.remove_prefix(colon + 1);
  }
}

std::optional<IpAddress> parse_v6(std::string_view text) {
  std::array<uint8_t, 16> bytes{};
  const size_t gap = text.find("::");
  if (gap == std::string_view::npos) {
    if (parse_v6_groups(text, bytes.data(), 8, true) != 8) return std::nullopt;
    return IpAddress::v6(bytes);
  }
  const std::string_view head = text.substr(0, gap);
  const std::string_view tail = text.substr(gap + 2);
  if (tail.find("::") != std::string_view::npos) return std::nullopt;
  std::array<uint8_t, 16> tail_bytes{};
  const int head_groups = parse_v6_groups(head, bytes.data(), 7, false);
  if (head_groups < 0) return std::nullopt;
  const int tail_groups = parse_v6_groups(tail, tail_bytes.data(), 7 - head_groups, true);
  if (tail_groups < 0) return std::nullopt;
  for (int i = 0; i < tail_groups * 2; ++i) bytes[16 - tail_groups * 2 + i] = tail_bytes[i];
  return IpAddress::v6(bytes);
}

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (text.find(':') != std::string_view::npos) return parse_v6(text);
  IpAddress ip;
  if (!parse_v4(text, ip.bytes.data())) return std::nullopt;
  return ip;
}

std::optional<SocketAddress> parse_socket_address(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos) return std::nullopt;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // bare IPv6 needs brackets
  }
  const auto ip = parse_ip(host);
  unsigned port_value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_value);
  if (!ip || port.empty() || ec != std::errc{} || end != port.data() + port.size() || port_value > 65535) {
    return std::nullopt;
  }
  return SocketAddress{*ip, static_cast<uint16_t>(port_value)};
}

std::string to_string(const IpAddress& ip) {
  char text[48];
  if (!ip.is_ipv6()) {
    std::snprintf(text, sizeof(text), "%u.%u.%u.%u", ip.bytes[0], ip.bytes[1], ip.bytes[2], ip.bytes[3]);
    return text;
  }
  uint16_t groups[8];
  for (int i = 0; i < 8; ++i) groups[i] = static_cast<uint16_t>(ip.bytes[i * 2] << 8 | ip.bytes[i * 2 + 1]);
  // RFC 5952 4.2: compress the longest run of two or more zero groups, the first one on a tie.
  int best_start = -1, best_length = 1;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_length) best_start = i, best_length = j - i;
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_length - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(text, sizeof(text), "%x", groups[i]);
    out += text;
  }
  return out;
}

std::string to_string(const SocketAddress& address) {
  const std::string port = std::to_string(address.port);
  return address.ip.is_ipv6() ? "[" + to_string(address.ip) + "]:" + port : to_string(address.ip) + ":" + port;
}

}  // namespace tandem::transport
