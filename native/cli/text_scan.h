// Small readers of the texts `tandem peer` handles itself: IP addresses, candidate lines, SDP lines. (The core
// parses SDP and candidates for real; the CLI only picks out the few fields it acts on.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::cli {

// The binary form of an IPv4 / IPv6 address text ("[...]" allowed): 4 or 16 bytes, so that two spellings of
// one address compare equal. Nothing for other text.
std::optional<std::string> ip_bytes(std::string text);

bool iequals(std::string_view a, std::string_view b);
// The payload type of `codec` in an SDP: the first "a=rtpmap:<pt> <codec>/..." (codec name case-insensitive).
std::optional<uint32_t> payload_type_in(std::string_view sdp, std::string_view codec);
// The first a=mid value ("0" if there is none): the sdpMid our candidates carry.
std::string first_mid(std::string_view sdp);

}  // namespace tandem::cli
