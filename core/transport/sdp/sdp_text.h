// Small text helpers shared by the SDP parser, serializer and offer/answer code (internal to core/transport/sdp).
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::transport::sdp::text {

// Digits only (no sign, no spaces), fitting in T and at most `max`.
template <class T>
std::optional<T> parse_uint(std::string_view s, T max = std::numeric_limits<T>::max()) {
  if (s.empty()) return std::nullopt;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  T value{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size() || value > max) return std::nullopt;
  return value;
}

// Splits on runs of spaces; no empty pieces.
std::vector<std::string_view> split_spaces(std::string_view s);
// Splits at the first `separator`: {before, after}; `after` is nullopt when there is none.
std::pair<std::string_view, std::optional<std::string_view>> split_once(std::string_view s, char separator);
std::string_view trim(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
// RFC 8866 token characters (mids, group semantics, media types).
bool is_token(std::string_view s);
// RFC 8839 ice-char (ALPHA / DIGIT / "+" / "/").
bool is_ice_chars(std::string_view s);
// "AB:CD:..." hex byte pairs separated by colons (RFC 8122), at least one.
bool is_fingerprint_value(std::string_view s);

}  // namespace tandem::transport::sdp::text
