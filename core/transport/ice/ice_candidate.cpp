#include "core/transport/ice/ice_candidate.h"

#include <algorithm>
#include <charconv>

#include "core/transport/net/address_text.h"
#include "core/transport/stun/stun_message.h"

namespace tandem::transport {
namespace {

Error bad(const char* why) { return Error{Errc::malformed_packet, std::string("candidate: ") + why}; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
         });
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

template <class T>
std::optional<T> parse_uint(std::string_view text, size_t max_digits, uint64_t max) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v > max) return std::nullopt;
  return static_cast<T>(v);
}

bool is_ice_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// An FQDN as RFC 8839's connection-address allows: letters, digits, '-' and '.', not starting with '.', and
// with at least one letter so that a broken IPv4 literal ("256.1.1.1") is not taken for a name.
bool is_hostname(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.front() == '-') return false;
  const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  return std::any_of(s.begin(), s.end(), letter) && std::all_of(s.begin(), s.end(), [&](char c) {
           return letter(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
         });
}

std::optional<IceCandidateType> parse_type(std::string_view s) {
  if (s == "host") return IceCandidateType::host;
  if (s == "srflx") return IceCandidateType::srflx;
  if (s == "prflx") return IceCandidateType::prflx;
  if (s == "relay") return IceCandidateType::relay;
  return std::nullopt;
}

std::string_view tcp_type_name(IceTcpType t) {
  switch (t) {
    case IceTcpType::active: return "active";
    case IceTcpType::passive: return "passive";
    case IceTcpType::so: return "so";
    case IceTcpType::none: break;
  }
  return "";
}

// Splits on runs of spaces or tabs; at most `max` tokens (the candidate grammar needs far fewer).
size_t tokenize(std::string_view s, std::string_view* out, size_t max) {
  size_t n = 0;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i == s.size()) break;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (n == max) return max + 1;
    out[n++] = s.substr(i, j - i);
    i = j;
  }
  return n;
}

}  // namespace

std::string_view to_string(IceCandidateType type) {
  switch (type) {
    case IceCandidateType::host: return "host";
    case IceCandidateType::srflx: return "srflx";
    case IceCandidateType::prflx: return "prflx";
    case IceCandidateType::relay: return "relay";
  }
  return "host";
}

std::optional<std::string_view> IceCandidate::extension(std::string_view name) const {
  for (const auto& [n, v] : extensions) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

Result<IceCandidate> IceCandidate::parse(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) line.remove_suffix(1);
  if (starts_with_nocase(line, "a=")) line.remove_prefix(2);
  if (starts_with_nocase(line, "candidate:")) line.remove_prefix(10);

  constexpr size_t kMaxTokens = 64;
  std::string_view t[kMaxTokens];
  const size_t n = tokenize(line, t, kMaxTokens);
  if (n > kMaxTokens) return bad("too many fields");
  if (n < 8) return bad("too few fields");

  IceCandidate c;
  if (t[0].size() > 32 || !std::all_of(t[0].begin(), t[0].end(), is_ice_char)) return bad("bad foundation");
  c.foundation = std::string(t[0]);
  const auto component = parse_uint<uint16_t>(t[1], 3, 256);
  if (!component || *component == 0) return bad("bad component");
  c.component = *component;
  if (iequals(t[2], "udp")) {
    c.protocol = IceProtocol::udp;
  } else if (iequals(t[2], "tcp")) {
    c.protocol = IceProtocol::tcp;
  } else {
    return bad("unknown transport");
  }
  const auto priority = parse_uint<uint32_t>(t[3], 10, UINT32_MAX);
  if (!priority || *priority == 0) return bad("bad priority");
  c.priority = *priority;
  if (const auto ip = parse_ip(t[4])) {
    c.address.ip = *ip;
  } else if (is_hostname(t[4])) {
    c.hostname = std::string(t[4]);
  } else {
    return bad("bad connection address");
  }
  const auto port = parse_uint<uint16_t>(t[5], 5, 65535);
  if (!port) return bad("bad port");
  c.address.port = *port;
  if (t[6] != "typ") return bad("no typ");
  const auto type = parse_type(t[7]);
  if (!type) return bad("unknown candidate type");
  c.type = *type;

  std::optional<std::string_view> raddr, rport;
  for (size_t i = 8; i < n; i += 2) {
    if (i + 1 >= n) return bad("extension without a value");
    const std::string_view name = t[i], value = t[i + 1];
    if (name == "raddr" && !raddr) {
      raddr = value;
    } else if (name == "rport" && !rport) {
      rport = value;
    } else if (name == "tcptype" && c.tcp_type == IceTcpType::none) {
      if (value == "active") c.tcp_type = IceTcpType::active;
      else if (value == "passive") c.tcp_type = IceTcpType::passive;
      else if (value == "so") c.tcp_type = IceTcpType::so;
      else return bad("unknown tcptype");
    } else {
      c.extensions.emplace_back(std::string(name), std::string(value));
    }
  }
  if (raddr.has_value() != rport.has_value()) return bad("raddr and rport must come together");
  if (raddr) {
    const auto rp = parse_uint<uint16_t>(*rport, 5, 65535);
    if (!rp) return bad("bad rport");
    if (const auto rip = parse_ip(*raddr)) {
      c.related = platform::SocketAddress{*rip, *rp};
    } else if (!is_hostname(*raddr)) {
      return bad("bad raddr");
    }
  }
  return c;
}

std::string IceCandidate::format() const {
  std::string s = "candidate:";
  s += foundation;
  s += ' ';
  s += std::to_string(component);
  s += protocol == IceProtocol::udp ? " udp " : " tcp ";
  s += std::to_string(priority);
  s += ' ';
  s += unresolved() ? hostname : to_string(address.ip);
  s += ' ';
  s += std::to_string(address.port);
  s += " typ ";
  s += to_string(type);
  if (related) {
    s += " raddr ";
    s += to_string(related->ip);
    s += " rport ";
    s += std::to_string(related->port);
  }
  if (tcp_type != IceTcpType::none) {
    s += " tcptype ";
    s += tcp_type_name(tcp_type);
  }
  for (const auto& [name, value] : extensions) {
    s += ' ';
    s += name;
    s += ' ';
    s += value;
  }
  return s;
}

uint8_t type_preference(IceCandidateType type) {
  switch (type) {
    case IceCandidateType::host: return 126;
    case IceCandidateType::prflx: return 110;
    case IceCandidateType::srflx: return 100;
    case IceCandidateType::relay: return 0;
  }
  return 0;
}

uint16_t local_preference(const platform::IpAddress& ip, uint32_t index) {
  const uint32_t rank = std::min<uint32_t>(index, 0x3FFF);
  if (ip.is_link_local()) return static_cast<uint16_t>(0x3FFF - rank);
  return static_cast<uint16_t>((ip.is_ipv6() ? 0xFFFF : 0xBFFF) - rank);
}

uint32_t candidate_priority(IceCandidateType type, uint16_t local_pref, uint16_t component) {
  return (uint32_t{type_preference(type)} << 24) + (uint32_t{local_pref} << 8) +
         (256u - std::clamp<uint32_t>(component, 1, 256));
}

std::string candidate_foundation(IceCandidateType type, const platform::IpAddress& base, IceProtocol protocol) {
  std::string key(to_string(type));
  key += '|';
  key += to_string(base);
  key += protocol == IceProtocol::udp ? "|udp" : "|tcp";
  return std::to_string(crc32(key_bytes(key)));
}

}  // namespace tandem::transport
