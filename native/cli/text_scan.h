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
// For ip_bytes() output: 127.0.0.0/8 or ::1.
bool is_loopback(const std::string& bytes);
// "ip:port" / "[ipv6]:port" -> "ip" / "ipv6".
std::string host_of(const std::string& address);
// "candidate:<foundation> <component> <transport> <priority> <address> <port> typ ..." -> "<address>".
std::string candidate_address(std::string_view candidate);
// Whether a candidate's address family is that of one of `bind` ("all" matches any; a name such as an mDNS
// .local one matches too: the core decides about it).
bool same_family_as_bind(const std::vector<std::string>& bind, const std::string& candidate);

bool iequals(std::string_view a, std::string_view b);
// The payload type of `codec` in an SDP: the first "a=rtpmap:<pt> <codec>/..." (codec name case-insensitive).
std::optional<uint32_t> payload_type_in(std::string_view sdp, std::string_view codec);
// The first a=mid value ("0" if there is none): the sdpMid our candidates carry.
std::string first_mid(std::string_view sdp);

}  // namespace tandem::cli
