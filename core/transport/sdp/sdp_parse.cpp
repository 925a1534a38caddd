// The SDP parser: one pass over the lines, session level until the first m= line, then one section per m=.
#include <algorithm>
#include <string>

#include "core/transport/sdp/sdp.h"
#include "core/transport/sdp/sdp_text.h"

namespace tandem::transport::sdp {
namespace {

using text::parse_uint;
using text::split_once;
using text::split_spaces;

std::optional<Direction> direction_from(std::string_view name) {
  if (name == "sendrecv") return Direction::sendrecv;
  if (name == "sendonly") return Direction::sendonly;
  if (name == "recvonly") return Direction::recvonly;
  if (name == "inactive") return Direction::inactive;
  return std::nullopt;
}

std::optional<Setup> setup_from(std::string_view name) {
  if (name == "actpass") return Setup::actpass;
  if (name == "active") return Setup::active;
  if (name == "passive") return Setup::passive;
  if (name == "holdconn") return Setup::holdconn;
  return std::nullopt;
}

MediaKind kind_from(std::string_view name) {
  if (name == "audio") return MediaKind::audio;
  if (name == "video") return MediaKind::video;
  if (name == "application") return MediaKind::application;
  return MediaKind::other;
}

// The transport attributes JSEP allows at either level, as references into a session or a section.
struct TransportAttributes {
  std::string& ice_ufrag;
  std::string& ice_pwd;
  std::vector<std::string>& ice_options;
  std::vector<Fingerprint>& fingerprints;
  std::optional<Setup>& setup;
};

class Parser {
 public:
  explicit Parser(SdpType type) { session_.type = type; }

  Result<SessionDescription> run(std::string_view input) {
    bool seen_version = false;
    while (!input.empty()) {
      ++line_number_;
      const size_t end = input.find('\n');
      std::string_view line = input.substr(0, end);
      input = end == std::string_view::npos ? std::string_view{} : input.substr(end + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;  // blank lines (and the one after the last \n) carry nothing
      for (const char c : line) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte < 0x20 && c != '\t') || byte == 0x7f) return fail("control character in line");
      }
      if (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z') {
        return fail("not a <letter>=<value> line");
      }
      const char type = line[0];
      const std::string_view value = line.substr(2);
      if (!seen_version) {
        if (type != 'v' || value != "0") return fail("the description must start with v=0");
        seen_version = true;
        continue;
      }
      const Result<void> handled = section_ ? media_line(type, value) : session_line(type, value);
      if (!handled) return handled.error();
    }
    if (!seen_version) return Error{Errc::malformed_packet, "line 0: empty description"};
    if (!seen_origin_) return Error{Errc::malformed_packet, "line 0: no o= line"};
    if (!seen_name_) return Error{Errc::malformed_packet, "line 0: no s= line"};
    if (!seen_timing_) return Error{Errc::malformed_packet, "line 0: no t= line"};
    return std::move(session_);
  }

 private:
  Error fail(std::string_view reason) const {
    return Error{Errc::malformed_packet, "line " + std::to_string(line_number_) + ": " + std::string(reason)};
  }

  Result<void> session_line(char type, std::string_view value) {
    switch (type) {
      case 'v': return fail("a second v= line");
      case 'o': return origin(value);
      case 's':
        if (seen_name_) return fail("a second s= line");
        seen_name_ = true;
        session_.session_name = value;
        return {};
      case 't':
        if (seen_timing_) break;  // later time descriptions are kept as they are
        seen_timing_ = true;
        session_.timing = value;
        return {};
      case 'c': return connection(value, session_.connection);
      case 'm': return media(value);
      case 'a': return session_attribute(value);
      default: break;
    }
    session_.other_lines.push_back(Line{type, std::string(value)});
    return {};
  }

  Result<void> media_line(char type, std::string_view value) {
    switch (type) {
      case 'v': case 'o': case 's': case 't': return fail("a session-level line inside a media section");
      case 'c': return connection(value, section_->connection);
      case 'm': return media(value);
      case 'a': return media_attribute(value);
      default: break;
    }
    section_->other_lines.push_back(Line{type, std::string(value)});
    return {};
  }

  Result<void> origin(std::string_view value) {
    if (seen_origin_) return fail("a second o= line");
    seen_origin_ = true;
    const auto f = split_spaces(value);
    if (f.size() != 6) return fail("o= needs 6 fields");
    const auto id = parse_uint<uint64_t>(f[1]);
    const auto version = parse_uint<uint64_t>(f[2]);
    if (!id || !version) return fail("o= session id and version must be 64-bit numbers");
    session_.origin = Origin{std::string(f[0]), *id, *version, std::string(f[3]), std::string(f[4]),
                             std::string(f[5])};
    return {};
  }

  Result<void> connection(std::string_view value, std::optional<Connection>& out) {
    if (out) return fail("a second c= line");
    const auto f = split_spaces(value);
    if (f.size() != 3) return fail("c= needs 3 fields");
    out = Connection{std::string(f[0]), std::string(f[1]), std::string(f[2])};
    return {};
  }

  Result<void> media(std::string_view value) {
    const auto f = split_spaces(value);
    if (f.size() < 4) return fail("m= needs a media type, a port, a protocol and at least one format");
    MediaSection m;
    if (!text::is_token(f[0])) return fail("m= media type is not a token");
    m.kind = kind_from(f[0]);
    if (m.kind == MediaKind::other) m.kind_text = f[0];
    const auto [port_text, count_text] = split_once(f[1], '/');
    const auto port = parse_uint<uint16_t>(port_text);
    if (!port) return fail("m= port is not a number up to 65535");
    m.port = *port;
    if (count_text) {
      const auto count = parse_uint<uint16_t>(*count_text);
      if (!count || *count == 0) return fail("m= port count is not a positive number");
      m.port_count = *count;
    }
    m.protocol = f[2];
    for (size_t i = 3; i < f.size(); ++i) m.formats.emplace_back(f[i]);
    if (m.is_rtp()) {
      for (const auto& format : m.formats) {
        const auto pt = parse_uint<uint8_t>(format, 127);
        if (!pt) return fail("m= payload type is not a number from 0 to 127");
        if (m.find_codec(*pt)) return fail("m= lists a payload type twice");
        m.codecs.emplace_back().payload_type = *pt;
      }
    }
    session_.media.push_back(std::move(m));
    section_ = &session_.media.back();
    return {};
  }

  // ICE credentials, options, fingerprint and setup: at either level. Returns false when `name` is none of them.
  Result<bool> transport_attribute(std::string_view name, std::optional<std::string_view> value,
                                   TransportAttributes out) {
    if (name == "ice-ufrag" || name == "ice-pwd") {
      const bool ufrag = name == "ice-ufrag";
      std::string& field = ufrag ? out.ice_ufrag : out.ice_pwd;
      if (!field.empty()) return fail("a second a=" + std::string(name));
      // RFC 8839 5.4: ufrag 4-256 and pwd 22-256 ice-chars.
      const size_t min = ufrag ? 4 : 22;
      if (!value || value->size() < min || value->size() > 256 || !text::is_ice_chars(*value)) {
        return fail("a=" + std::string(name) + " is not " + std::to_string(min) + " to 256 ice-chars");
      }
      field = *value;
      return true;
    }
    if (name == "ice-options") {
      const auto tokens = split_spaces(value.value_or(""));
      if (tokens.empty()) return fail("a=ice-options without options");
      for (const auto token : tokens) out.ice_options.emplace_back(token);
      return true;
    }
    if (name == "fingerprint") {
      const auto f = split_spaces(value.value_or(""));
      if (f.size() != 2 || !text::is_token(f[0]) || !text::is_fingerprint_value(f[1])) {
        return fail("a=fingerprint is not <hash function> <hex pairs separated by ':'>");
      }
      out.fingerprints.push_back(Fingerprint{std::string(f[0]), std::string(f[1])});
      return true;
    }
    if (name == "setup") {
      if (out.setup) return fail("a second a=setup");
      out.setup = setup_from(value.value_or(""));
      if (!out.setup) return fail("a=setup is not actpass, active, passive or holdconn");
      return true;
    }
    return false;
  }

  Result<void> session_attribute(std::string_view line) {
    const auto [name, value] = split_once(line, ':');
    const auto handled = transport_attribute(name, value, {session_.ice_ufrag, session_.ice_pwd,
                                                           session_.ice_options, session_.fingerprints,
                                                           session_.setup});
    if (!handled) return handled.error();
    if (handled.value()) return {};
    if (name == "group") {
      const auto f = split_spaces(value.value_or(""));
      if (f.empty() || !std::all_of(f.begin(), f.end(), text::is_token)) return fail("a=group is not tokens");
      Group group{std::string(f[0]), {}};
      for (size_t i = 1; i < f.size(); ++i) group.mids.emplace_back(f[i]);
      session_.groups.push_back(std::move(group));
      return {};
    }
    if (name == "ice-lite") {
      if (value) return fail("a=ice-lite takes no value");
      session_.ice_lite = true;
      return {};
    }
    if (name == "msid-semantic") {
      if (session_.msid_semantic) return fail("a second a=msid-semantic");
      const auto f = split_spaces(value.value_or(""));
      if (f.empty()) return fail("a=msid-semantic without a semantic");
      MsidSemantic semantic{std::string(f[0]), {}};
      for (size_t i = 1; i < f.size(); ++i) semantic.stream_ids.emplace_back(f[i]);
      session_.msid_semantic = std::move(semantic);
      return {};
    }
    session_.attributes.push_back(Attribute{std::string(name), std::string(value.value_or("")), value.has_value()});
    return {};
  }

  // A flag attribute (no value) that may appear once.
  Result<void> flag(bool& field, std::string_view name, std::optional<std::string_view> value) {
    if (value) return fail("a=" + std::string(name) + " takes no value");
    if (field) return fail("a second a=" + std::string(name));
    field = true;
    return {};
  }

  // The codec of a payload type the m= line lists, nullptr for any other.
  Codec* codec_for(uint8_t payload_type) {
    for (auto& codec : section_->codecs) {
      if (codec.payload_type == payload_type) return &codec;
    }
    return nullptr;
  }

  Result<void> media_attribute(std::string_view line) {
    MediaSection& m = *section_;
    const auto [name, value] = split_once(line, ':');
    const auto handled = transport_attribute(name, value, {m.ice_ufrag, m.ice_pwd, m.ice_options,
                                                           m.fingerprints, m.setup});
    if (!handled) return handled.error();
    if (handled.value()) return {};
    if (const auto direction = direction_from(name)) {
      if (value) return fail("a direction attribute takes no value");
      if (m.direction) return fail("a second direction attribute");
      m.direction = direction;
      return {};
    }
    if (name == "mid") {
      if (!m.mid.empty()) return fail("a second a=mid");
      if (!value || !text::is_token(*value)) return fail("a=mid is not a token");
      m.mid = *value;
      return {};
    }
    if (name == "candidate") {
      if (!value || text::trim(*value).empty()) return fail("a=candidate without a value");
      m.candidates.emplace_back(*value);
      return {};
    }
    if (name == "rtcp-mux") return flag(m.rtcp_mux, name, value);
    if (name == "rtcp-rsize") return flag(m.rtcp_rsize, name, value);
    if (name == "end-of-candidates") return flag(m.end_of_candidates, name, value);
    if (name == "bundle-only") return flag(m.bundle_only, name, value);
    if (name == "sctp-port") {
      if (m.sctp_port) return fail("a second a=sctp-port");
      m.sctp_port = parse_uint<uint16_t>(value.value_or(""));
      if (!m.sctp_port) return fail("a=sctp-port is not a number up to 65535");
      return {};
    }
    if (name == "max-message-size") {
      if (m.max_message_size) return fail("a second a=max-message-size");
      m.max_message_size = parse_uint<uint64_t>(value.value_or(""));
      if (!m.max_message_size) return fail("a=max-message-size is not a number");
      return {};
    }
    if (name == "msid") {
      const auto f = split_spaces(value.value_or(""));
      if (f.empty() || f.size() > 2) return fail("a=msid is not <stream id> [<track id>]");
      m.msids.push_back(Msid{std::string(f[0]), f.size() == 2 ? std::string(f[1]) : std::string()});
      return {};
    }
    if (name == "extmap") return extmap(value.value_or(""));
    if (name == "ssrc") return ssrc(value.value_or(""));
    if (name == "ssrc-group") return ssrc_group(value.value_or(""));
    if (m.is_rtp() && value) {
      const Result<bool> done = codec_attribute(name, *value);
      if (!done) return done.error();
      if (done.value()) return {};
    }
    m.attributes.push_back(Attribute{std::string(name), std::string(value.value_or("")), value.has_value()});
    return {};
  }

  // a=rtpmap, a=fmtp and a=rtcp-fb of an RTP section. False when the line belongs in `attributes` (a payload
  // type the m= line does not list, "*" in rtcp-fb, another attribute).
  Result<bool> codec_attribute(std::string_view name, std::string_view value) {
    if (name != "rtpmap" && name != "fmtp" && name != "rtcp-fb") return false;
    const auto [pt_text, rest] = split_once(value, ' ');
    if (name == "rtcp-fb" && pt_text == "*") return false;
    const auto pt = parse_uint<uint8_t>(pt_text, 127);
    if (!pt) return fail("a=" + std::string(name) + " payload type is not a number from 0 to 127");
    Codec* const codec = codec_for(*pt);
    if (name == "rtpmap") {
      // <encoding name>/<clock rate>[/<channels>]
      const auto f = split_spaces(rest.value_or(""));
      if (f.size() != 1) return fail("a=rtpmap is not <payload type> <name>/<clock rate>[/<channels>]");
      const auto [encoding, rate_and_channels] = split_once(f[0], '/');
      if (encoding.empty() || !rate_and_channels) return fail("a=rtpmap without a name and a clock rate");
      const auto [rate_text, channels_text] = split_once(*rate_and_channels, '/');
      const auto rate = parse_uint<uint32_t>(rate_text);
      if (!rate || *rate == 0) return fail("a=rtpmap clock rate is not a positive number");
      std::optional<uint16_t> channels = uint16_t{0};
      if (channels_text) channels = parse_uint<uint16_t>(*channels_text);
      if (!channels || (channels_text && *channels == 0)) return fail("a=rtpmap channels is not a positive number");
      if (!codec) return false;
      if (!codec->name.empty()) return fail("a second a=rtpmap for a payload type");
      codec->name = encoding;
      codec->clock_rate = *rate;
      codec->channels = *channels;
      return true;
    }
    if (!rest || text::trim(*rest).empty()) return fail("a=" + std::string(name) + " without parameters");
    if (!codec) return false;
    if (name == "fmtp") {
      if (!codec->fmtp.empty()) return fail("a second a=fmtp for a payload type");
      codec->fmtp = Fmtp::from_text(*rest);
    } else {
      codec->rtcp_fb.emplace_back(*rest);
    }
    return true;
  }

  Result<void> extmap(std::string_view value) {
    const auto f = split_spaces(value);
    if (f.size() < 2) return fail("a=extmap is not <id>[/<direction>] <uri> [<attributes>]");
    const auto [id_text, direction_text] = split_once(f[0], '/');
    const auto id = parse_uint<uint16_t>(id_text);
    // RFC 8285 section 5: 1-14 one-byte, 1-255 two-byte, 4096-4351 reserved for negotiation.
    if (!id || *id == 0 || (*id > 255 && (*id < 4096 || *id > 4351))) return fail("a=extmap id out of range");
    Extmap e;
    e.id = *id;
    e.uri = f[1];
    if (direction_text) {
      e.direction = direction_from(*direction_text);
      if (!e.direction) return fail("a=extmap direction is not a direction");
    }
    // Extension attributes: everything after the URI, as written.
    const size_t uri_end = static_cast<size_t>(f[1].data() - value.data()) + f[1].size();
    e.attributes = text::trim(value.substr(uri_end));
    section_->extmaps.push_back(std::move(e));
    return {};
  }

  Result<void> ssrc(std::string_view value) {
    const auto [ssrc_text, rest] = split_once(value, ' ');
    const auto ssrc = parse_uint<uint32_t>(ssrc_text);
    if (!ssrc) return fail("a=ssrc id is not a 32-bit number");
    if (!rest || rest->empty() || rest->front() == ' ') return fail("a=ssrc without an attribute");
    const auto [attribute, attribute_value] = split_once(*rest, ':');
    if (!text::is_token(attribute)) return fail("a=ssrc attribute is not a token");
    section_->ssrc_attributes.push_back(SsrcAttribute{*ssrc, std::string(attribute),
                                                      std::string(attribute_value.value_or("")),
                                                      attribute_value.has_value()});
    return {};
  }

  Result<void> ssrc_group(std::string_view value) {
    const auto f = split_spaces(value);
    if (f.empty() || !text::is_token(f[0])) return fail("a=ssrc-group without semantics");
    SsrcGroup group{std::string(f[0]), {}};
    for (size_t i = 1; i < f.size(); ++i) {
      const auto ssrc = parse_uint<uint32_t>(f[i]);
      if (!ssrc) return fail("a=ssrc-group id is not a 32-bit number");
      group.ssrcs.push_back(*ssrc);
    }
    section_->ssrc_groups.push_back(std::move(group));
    return {};
  }

  SessionDescription session_;
  MediaSection* section_ = nullptr;  // the section being parsed; nullptr at session level
  size_t line_number_ = 0;
  bool seen_origin_ = false;
  bool seen_name_ = false;
  bool seen_timing_ = false;
};

}  // namespace

Result<SessionDescription> parse(std::string_view text, SdpType type) { return Parser(type).run(text); }

}  // namespace tandem::transport::sdp
