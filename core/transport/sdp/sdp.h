// SDP (RFC 8866) as WebRTC uses it (JSEP, RFC 8829; BUNDLE, RFC 8843): a model, a parser and a serializer.
//
// The model interprets what a WebRTC transport and media stack act on (ICE credentials, DTLS fingerprint and
// setup role, mids and BUNDLE, codecs, SSRCs, SCTP parameters) and keeps every other line verbatim, so a
// description Chromium sends survives parse -> serialize with the same set of lines. Serialization writes the
// lines in a fixed order (Chromium's where it has one), so text from other stacks may come back re-ordered
// within a section, and a few lines normalised (e.g. "a=msid-semantic:WMS" comes back "a=msid-semantic: WMS").
// serialize(parse(serialize(d))) == serialize(d) for any parsed d.
//
// Parse errors are values: Errc::malformed_packet (SDP comes from the network) with "line N: <reason>",
// N counted from 1. The parser is tolerant of what it does not interpret (unknown attributes, unknown line
// types, blank lines, \n or \r\n endings) and strict on what it does: a malformed line it interprets, or a
// duplicate of a single-valued one (two a=mid, two direction attributes, ...), is an error.
// Allocates freely: SDP is exchanged at set-up, never on a hot path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"

namespace tandem::transport::sdp {

// The SDP text itself does not say which it is; callers set it (parse() takes it as an argument).
enum class SdpType : uint8_t { offer, pranswer, answer };
enum class MediaKind : uint8_t { audio, video, application, other };
enum class Direction : uint8_t { sendrecv, sendonly, recvonly, inactive };
// a=setup (RFC 4145 / RFC 8842). In WebRTC: offers say actpass, answers active or passive.
enum class Setup : uint8_t { actpass, active, passive, holdconn };

std::string_view to_string(SdpType type);
std::string_view to_string(MediaKind kind);
std::string_view to_string(Direction direction);
std::string_view to_string(Setup setup);

// An a=<name>[:<value>] line the model does not interpret, kept verbatim.
struct Attribute {
  std::string name;
  std::string value;
  bool has_value = false;  // "a=name:" (empty value) and "a=name" differ on the wire
  bool operator==(const Attribute&) const = default;
};

// A line of another type than a=, m=, v=, o=, s=, t= and c= (b=, i=, k=, unknown letters), kept verbatim.
struct Line {
  char type = 0;
  std::string value;
  bool operator==(const Line&) const = default;
};

// c=<net type> <address type> <address>. WebRTC sends "IN IP4 0.0.0.0" or the default candidate's address.
struct Connection {
  std::string net_type = "IN";
  std::string address_type = "IP4";
  std::string address = "0.0.0.0";
  bool operator==(const Connection&) const = default;
};

// o=<username> <session id> <session version> <net type> <address type> <address>.
struct Origin {
  std::string username = "-";
  uint64_t session_id = 0;
  uint64_t session_version = 0;
  std::string net_type = "IN";
  std::string address_type = "IP4";
  std::string address = "127.0.0.1";
  bool operator==(const Origin&) const = default;
};

// a=fingerprint:<algorithm> <value> (RFC 8122), e.g. "sha-256" and "8F:B1:...". Both kept as sent; the parser
// checks that the value is colon-separated hex byte pairs.
struct Fingerprint {
  std::string algorithm;
  std::string value;
  bool operator==(const Fingerprint&) const = default;
};

// a=group:<semantics> <mid>... ("BUNDLE", RFC 8843).
struct Group {
  std::string semantics;
  std::vector<std::string> mids;
  bool operator==(const Group&) const = default;
};

// a=msid-semantic: <semantic> [<stream id>...] ("WMS", session level).
struct MsidSemantic {
  std::string semantic;
  std::vector<std::string> stream_ids;
  bool operator==(const MsidSemantic&) const = default;
};

// a=msid:<stream id> [<track id>] (RFC 8830); the stream id is "-" for a track without a stream.
struct Msid {
  std::string stream_id;
  std::string track_id;  // empty when absent
  bool operator==(const Msid&) const = default;
};

struct FmtpParameter {
  std::string name;
  std::string value;  // empty when the parameter has no '=' (e.g. RED's "111/111" is a name without a value)
  bool operator==(const FmtpParameter&) const = default;
};

// The text of an a=fmtp line after the payload type, and its ';'-separated name=value parameters in order.
// `text` is what serialization writes; build one with from_text() or from_parameters() to keep both in step.
struct Fmtp {
  std::string text;
  std::vector<FmtpParameter> parameters;

  static Fmtp from_text(std::string_view text);
  static Fmtp from_parameters(std::vector<FmtpParameter> parameters);
  bool empty() const { return text.empty(); }
  // The value of the first parameter called `name` (case-insensitive), if any.
  std::optional<std::string_view> get(std::string_view name) const;
  bool operator==(const Fmtp&) const = default;
};

// One payload type of an RTP section: its a=rtpmap, a=fmtp and a=rtcp-fb lines.
struct Codec {
  uint8_t payload_type = 0;
  std::string name;          // "opus", "VP8" as sent; empty when there is no a=rtpmap (static payload types)
  uint32_t clock_rate = 0;
  uint16_t channels = 0;     // 0 when the rtpmap has no channel count (which means 1 for audio)
  Fmtp fmtp;
  std::vector<std::string> rtcp_fb;  // "nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"
  bool operator==(const Codec&) const = default;
};

// a=extmap:<id>[/<direction>] <uri> [<extension attributes>] (RFC 8285).
struct Extmap {
  uint16_t id = 0;
  std::optional<Direction> direction;
  std::string uri;
  std::string attributes;
  bool operator==(const Extmap&) const = default;
};

// a=ssrc:<ssrc> <attribute>[:<value>] (RFC 5576), one per line, in order.
struct SsrcAttribute {
  uint32_t ssrc = 0;
  std::string attribute;  // "cname", "msid", ...
  std::string value;
  bool has_value = false;
  bool operator==(const SsrcAttribute&) const = default;
};

// a=ssrc-group:<semantics> <ssrc>... ("FID" pairs a stream with its RTX stream, "SIM" lists simulcast layers).
struct SsrcGroup {
  std::string semantics;
  std::vector<uint32_t> ssrcs;
  bool operator==(const SsrcGroup&) const = default;
};

// The a=ssrc lines of one SSRC folded together.
struct SsrcInfo {
  uint32_t ssrc = 0;
  std::string cname;
  std::string msid;  // "<stream id> <track id>" as in "a=ssrc:1 msid:..."
};

struct MediaSection {
  // m=<kind> <port>[/<port count>] <protocol> <format>...
  MediaKind kind = MediaKind::audio;
  std::string kind_text;     // the media type as sent when kind is `other` ("text", "message", ...)
  uint16_t port = 9;         // 9 (discard) while trickling; 0 rejects the section (or marks it bundle-only)
  uint16_t port_count = 0;   // 0 when the m= line has none
  std::string protocol;      // "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", anything else kept
  std::vector<std::string> formats;  // payload type numbers for RTP, "webrtc-datachannel" for SCTP
  std::optional<Connection> connection;

  std::string mid;  // empty when absent
  std::optional<Direction> direction;  // absent means sendrecv (RFC 8866 6.7); see effective_direction()
  std::string ice_ufrag;  // empty when absent (then the session-level value applies)
  std::string ice_pwd;
  std::vector<std::string> ice_options;  // "trickle", ...
  std::vector<Fingerprint> fingerprints;
  std::optional<Setup> setup;
  bool rtcp_mux = false;
  bool rtcp_rsize = false;
  // RTP sections: one entry per payload type listed on the m= line, in that order. A payload type with no
  // a=rtpmap has an empty name. rtpmap/fmtp/rtcp-fb lines for a payload type the m= line does not list (or
  // for "*") are kept in `attributes` instead.
  std::vector<Codec> codecs;
  std::vector<Extmap> extmaps;
  std::vector<SsrcAttribute> ssrc_attributes;
  std::vector<SsrcGroup> ssrc_groups;
  std::vector<Msid> msids;
  std::optional<uint16_t> sctp_port;          // a=sctp-port (RFC 8841)
  std::optional<uint64_t> max_message_size;   // a=max-message-size; 0 means no limit
  // a=candidate values without the "candidate:" prefix (the ICE module parses them), in order.
  std::vector<std::string> candidates;
  bool end_of_candidates = false;
  bool bundle_only = false;
  std::vector<Attribute> attributes;  // everything else (a=rtcp, a=rtcp-xr, a=sctpmap, ...), in order
  std::vector<Line> other_lines;      // i=, b=, k=, unknown letters, in order

  bool is_rtp() const;    // the protocol carries RTP ("RTP/" in it)
  bool is_sctp() const;   // "UDP/DTLS/SCTP", "TCP/DTLS/SCTP" or the legacy "DTLS/SCTP"
  // Port 0 without a=bundle-only: the section is rejected (RFC 8829 5.3.1 / RFC 8843 7.3.3).
  bool rejected() const { return port == 0 && !bundle_only; }
  Direction effective_direction() const { return direction.value_or(Direction::sendrecv); }
  const Codec* find_codec(uint8_t payload_type) const;
  // The first codec with this rtpmap name (case-insensitive) and clock rate, if any.
  const Codec* find_codec(std::string_view name, uint32_t clock_rate) const;
  // The a=ssrc lines grouped per SSRC, in order of first appearance.
  std::vector<SsrcInfo> ssrcs() const;
  bool operator==(const MediaSection&) const = default;
};

struct SessionDescription {
  SdpType type = SdpType::offer;
  Origin origin;
  std::string session_name = "-";
  std::string timing = "0 0";  // the first t= line; further t= lines (and r=, z=) stay in other_lines
  std::optional<Connection> connection;
  std::vector<Group> groups;
  bool ice_lite = false;
  // Session-level transport attributes; JSEP allows them here or per section (a section's own value wins).
  std::string ice_ufrag;
  std::string ice_pwd;
  std::vector<std::string> ice_options;
  std::vector<Fingerprint> fingerprints;
  std::optional<Setup> setup;
  std::optional<MsidSemantic> msid_semantic;
  std::vector<Attribute> attributes;  // everything else (a=extmap-allow-mixed, ...), in order
  std::vector<Line> other_lines;
  std::vector<MediaSection> media;

  // The first a=group:BUNDLE, if any.
  const Group* bundle_group() const;
  const MediaSection* find_media(std::string_view mid) const;
  MediaSection* find_media(std::string_view mid);
  bool operator==(const SessionDescription&) const = default;
};

// Parses SDP text. Errors: Errc::malformed_packet, message "line N: reason".
Result<SessionDescription> parse(std::string_view text, SdpType type = SdpType::offer);
// SDP text with \r\n line endings.
std::string serialize(const SessionDescription& description);

// Section values that fall back to the session level when a section leaves them out (JSEP allows both).
std::string_view effective_ice_ufrag(const SessionDescription& session, const MediaSection& section);
std::string_view effective_ice_pwd(const SessionDescription& session, const MediaSection& section);
const std::vector<std::string>& effective_ice_options(const SessionDescription& session,
                                                      const MediaSection& section);
const std::vector<Fingerprint>& effective_fingerprints(const SessionDescription& session,
                                                       const MediaSection& section);
std::optional<Setup> effective_setup(const SessionDescription& session, const MediaSection& section);

}  // namespace tandem::transport::sdp
