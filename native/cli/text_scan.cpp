#include "text_scan.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tandem::cli {

std::optional<std::string> ip_bytes(std::string text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 4);
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 16);
  return std::nullopt;
}

bool is_loopback(const std::string& bytes) {
  if (bytes.size() == 4) return bytes[0] == 127;
  return bytes == std::string(15, '\0') + '\1';
}

std::string host_of(const std::string& address) {
  const size_t colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host;
}

std::string candidate_address(std::string_view candidate) {
  for (int field = 0; field < 4; ++field) {
    const size_t space = candidate.find(' ');
    if (space == std::string_view::npos) return "";
    candidate.remove_prefix(space + 1);
  }
  return std::string(candidate.substr(0, candidate.find(' ')));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<uint32_t> payload_type_in(std::string_view sdp, std::string_view codec) {
  for (size_t pos = 0; (pos = sdp.find("a=rtpmap:", pos)) != std::string_view::npos;) {
    pos += 9;
    const size_t space = sdp.find(' ', pos), slash = sdp.find('/', pos);
    if (space == std::string_view::npos || slash == std::string_view::npos || slash < space) continue;
    if (!iequals(sdp.substr(space + 1, slash - space - 1), codec)) continue;
    uint32_t pt = 0;
    if (std::from_chars(sdp.data() + pos, sdp.data() + space, pt).ec == std::errc()) return pt;
  }
  return std::nullopt;
}

std::string first_mid(std::string_view sdp) {
  const size_t at = sdp.find("a=mid:");
  if (at == std::string_view::npos) return "0";
  const size_t start = at + 6;
  return std::string(sdp.substr(start, sdp.find_first_of("\r\n", start) - start));
}

bool same_family_as_bind(const std::vector<std::string>& bind, const std::string& candidate) {
  const auto address = ip_bytes(candidate_address(candidate));
  if (!address) return true;
  for (const auto& b : bind) {
    if (b == "all" || ip_bytes(b).value_or("").size() == address->size()) return true;
  }
  return false;
}
}  // namespace tandem::cli
