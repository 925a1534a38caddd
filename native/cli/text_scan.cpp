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

}  // namespace tandem::cli
