#include "core/transport/sdp/sdp_text.h"

#include <cstring>

namespace tandem::transport::sdp::text {

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    const size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

std::pair<std::string_view, std::optional<std::string_view>> split_once(std::string_view s, char separator) {
  const size_t at = s.find(separator);
  if (at == std::string_view::npos) return {s, std::nullopt};
  return {s.substr(0, at), s.substr(at + 1)};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

namespace {
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f'); }
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!is_alnum(c) && std::strchr("!#$%&'*+-.^_`{|}~", c) == nullptr) return false;
  }
  return true;
}

bool is_ice_chars(std::string_view s) {
  for (const char c : s) {
    if (!is_alnum(c) && c != '+' && c != '/') return false;
  }
  return true;
}

bool is_fingerprint_value(std::string_view s) {
  if (s.size() < 2 || (s.size() + 1) % 3 != 0) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i % 3 == 2 ? s[i] != ':' : !is_hex(s[i])) return false;
  }
  return true;
}

}  // namespace tandem::transport::sdp::text
