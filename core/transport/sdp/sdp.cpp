// The SDP model's helpers and the serializer.
#include "core/transport/sdp/sdp.h"

#include "core/transport/sdp/sdp_text.h"

namespace tandem::transport::sdp {

std::string_view to_string(SdpType type) {
  switch (type) {
    case SdpType::offer: return "offer";
    case SdpType::pranswer: return "pranswer";
    case SdpType::answer: return "answer";
  }
  return "?";
}

std::string_view to_string(MediaKind kind) {
  switch (kind) {
    case MediaKind::audio: return "audio";
    case MediaKind::video: return "video";
    case MediaKind::application: return "application";
    case MediaKind::other: return "other";
  }
  return "?";
}

std::string_view to_string(Direction direction) {
  switch (direction) {
    case Direction::sendrecv: return "sendrecv";
    case Direction::sendonly: return "sendonly";
    case Direction::recvonly: return "recvonly";
    case Direction::inactive: return "inactive";
  }
  return "?";
}

std::string_view to_string(Setup setup) {
  switch (setup) {
    case Setup::actpass: return "actpass";
    case Setup::active: return "active";
    case Setup::passive: return "passive";
    case Setup::holdconn: return "holdconn";
  }
  return "?";
}

Fmtp Fmtp::from_text(std::string_view text) {
  Fmtp fmtp{std::string(text), {}};
  while (!text.empty()) {
    const auto [piece, rest] = text::split_once(text, ';');
    const auto [name, value] = text::split_once(text::trim(piece), '=');
    if (!name.empty() || value) {
      fmtp.parameters.push_back(FmtpParameter{std::string(name), std::string(value.value_or(""))});
    }
    text = rest.value_or("");
  }
  return fmtp;
}

Fmtp Fmtp::from_parameters(std::vector<FmtpParameter> parameters) {
  Fmtp fmtp{{}, std::move(parameters)};
  for (const auto& p : fmtp.parameters) {
    if (!fmtp.text.empty()) fmtp.text += ';';
    fmtp.text += p.name;
    if (!p.value.empty()) fmtp.text += '=' + p.value;
  }
  return fmtp;
}

std::optional<std::string_view> Fmtp::get(std::string_view name) const {
  for (const auto& p : parameters) {
    if (text::iequals(p.name, name)) return std::string_view(p.value);
  }
  return std::nullopt;
}

bool MediaSection::is_rtp() const { return protocol.find("RTP/") != std::string::npos; }

bool MediaSection::is_sctp() const {
  return protocol == "UDP/DTLS/SCTP" || protocol == "TCP/DTLS/SCTP" || protocol == "DTLS/SCTP";
}

const Codec* MediaSection::find_codec(uint8_t payload_type) const {
  for (const auto& codec : codecs) {
    if (codec.payload_type == payload_type) return &codec;
  }
  return nullptr;
}

const Codec* MediaSection::find_codec(std::string_view name, uint32_t clock_rate) const {
  for (const auto& codec : codecs) {
    if (text::iequals(codec.name, name) && codec.clock_rate == clock_rate) return &codec;
  }
  return nullptr;
}

std::vector<SsrcInfo> MediaSection::ssrcs() const {
  std::vector<SsrcInfo> out;
  for (const auto& line : ssrc_attributes) {
    SsrcInfo* info = nullptr;
    for (auto& known : out) {
      if (known.ssrc == line.ssrc) info = &known;
    }
    if (!info) info = &out.emplace_back(SsrcInfo{line.ssrc, {}, {}});
    if (line.attribute == "cname" && info->cname.empty()) info->cname = line.value;
    if (line.attribute == "msid" && info->msid.empty()) info->msid = line.value;
  }
  return out;
}

const Group* SessionDescription::bundle_group() const {
  for (const auto& group : groups) {
    if (group.semantics == "BUNDLE") return &group;
  }
  return nullptr;
}

const MediaSection* SessionDescription::find_media(std::string_view mid) const {
  for (const auto& m : media) {
    if (!m.mid.empty() && m.mid == mid) return &m;
  }
  return nullptr;
}

MediaSection* SessionDescription::find_media(std::string_view mid) {
  return const_cast<MediaSection*>(std::as_const(*this).find_media(mid));
}

std::string_view effective_ice_ufrag(const SessionDescription& session, const MediaSection& section) {
  return section.ice_ufrag.empty() ? session.ice_ufrag : section.ice_ufrag;
}

std::string_view effective_ice_pwd(const SessionDescription& session, const MediaSection& section) {
  return section.ice_pwd.empty() ? session.ice_pwd : section.ice_pwd;
}

const std::vector<std::string>& effective_ice_options(const SessionDescription& session,
                                                      const MediaSection& section) {
  return section.ice_options.empty() ? session.ice_options : section.ice_options;
}

const std::vector<Fingerprint>& effective_fingerprints(const SessionDescription& session,
                                                       const MediaSection& section) {
  return section.fingerprints.empty() ? session.fingerprints : section.fingerprints;
}

std::optional<Setup> effective_setup(const SessionDescription& session, const MediaSection& section) {
  return section.setup ? section.setup : session.setup;
}

namespace {

class Writer {
 public:
  void line(char type, std::string_view value) {
    out_ += type;
    out_ += '=';
    out_ += value;
    out_ += "\r\n";
  }
  // a=<name>[:<value>]
  void attribute(std::string_view name, std::string_view value = {}, bool has_value = true) {
    out_ += "a=";
    out_ += name;
    if (has_value) {
      out_ += ':';
      out_ += value;
    }
    out_ += "\r\n";
  }
  void flag(bool set, std::string_view name) {
    if (set) attribute(name, {}, false);
  }
  void connection(const std::optional<Connection>& c) {
    if (c) line('c', c->net_type + ' ' + c->address_type + ' ' + c->address);
  }
  // The kept lines whose type is in `types`, in their order.
  void other_lines(const std::vector<Line>& lines, std::string_view types) {
    for (const auto& l : lines) {
      if (types.find(l.type) != std::string_view::npos) line(l.type, l.value);
    }
  }
  void other_lines_except(const std::vector<Line>& lines, std::string_view types) {
    for (const auto& l : lines) {
      if (types.find(l.type) == std::string_view::npos) line(l.type, l.value);
    }
  }
  void attributes(const std::vector<Attribute>& list) {
    for (const auto& a : list) attribute(a.name, a.value, a.has_value);
  }
  void transport(std::string_view ufrag, std::string_view pwd, const std::vector<std::string>& options,
                 const std::vector<Fingerprint>& fingerprints, const std::optional<Setup>& setup) {
    if (!ufrag.empty()) attribute("ice-ufrag", ufrag);
    if (!pwd.empty()) attribute("ice-pwd", pwd);
    if (!options.empty()) attribute("ice-options", join(options));
    for (const auto& f : fingerprints) attribute("fingerprint", f.algorithm + ' ' + f.value);
    if (setup) attribute("setup", to_string(*setup));
  }
  static std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) {
      if (!out.empty()) out += ' ';
      out += w;
    }
    return out;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

void write_codecs(Writer& w, const MediaSection& m) {
  for (const auto& c : m.codecs) {
    const std::string pt = std::to_string(c.payload_type);
    if (!c.name.empty()) {
      std::string map = pt + ' ' + c.name + '/' + std::to_string(c.clock_rate);
      if (c.channels != 0) map += '/' + std::to_string(c.channels);
      w.attribute("rtpmap", map);
    }
    for (const auto& fb : c.rtcp_fb) w.attribute("rtcp-fb", pt + ' ' + fb);
    if (!c.fmtp.empty()) w.attribute("fmtp", pt + ' ' + c.fmtp.text);
  }
}

void write_media(Writer& w, const MediaSection& m) {
  std::string mline = m.kind == MediaKind::other ? m.kind_text : std::string(to_string(m.kind));
  mline += ' ' + std::to_string(m.port);
  if (m.port_count != 0) mline += '/' + std::to_string(m.port_count);
  mline += ' ' + m.protocol;
  for (const auto& f : m.formats) mline += ' ' + f;
  w.line('m', mline);
  w.other_lines(m.other_lines, "i");
  w.connection(m.connection);
  w.other_lines_except(m.other_lines, "i");
  // Chromium's order from here on; kept attributes (a=rtcp, ...) first as Chromium writes a=rtcp there.
  w.attributes(m.attributes);
  for (const auto& c : m.candidates) w.attribute("candidate", c);
  w.flag(m.end_of_candidates, "end-of-candidates");
  w.transport(m.ice_ufrag, m.ice_pwd, m.ice_options, m.fingerprints, m.setup);
  if (!m.mid.empty()) w.attribute("mid", m.mid);
  w.flag(m.bundle_only, "bundle-only");
  for (const auto& e : m.extmaps) {
    std::string value = std::to_string(e.id);
    if (e.direction) value += '/' + std::string(to_string(*e.direction));
    value += ' ' + e.uri;
    if (!e.attributes.empty()) value += ' ' + e.attributes;
    w.attribute("extmap", value);
  }
  if (m.direction) w.attribute(to_string(*m.direction), {}, false);
  for (const auto& msid : m.msids) w.attribute("msid", msid.track_id.empty() ? msid.stream_id
                                                                            : msid.stream_id + ' ' + msid.track_id);
  w.flag(m.rtcp_mux, "rtcp-mux");
  w.flag(m.rtcp_rsize, "rtcp-rsize");
  write_codecs(w, m);
  for (const auto& g : m.ssrc_groups) {
    std::string value = g.semantics;
    for (const uint32_t ssrc : g.ssrcs) value += ' ' + std::to_string(ssrc);
    w.attribute("ssrc-group", value);
  }
  for (const auto& s : m.ssrc_attributes) {
    std::string value = std::to_string(s.ssrc) + ' ' + s.attribute;
    if (s.has_value) value += ':' + s.value;
    w.attribute("ssrc", value);
  }
  if (m.sctp_port) w.attribute("sctp-port", std::to_string(*m.sctp_port));
  if (m.max_message_size) w.attribute("max-message-size", std::to_string(*m.max_message_size));
}

}  // namespace

std::string serialize(const SessionDescription& d) {
  Writer w;
  // RFC 8866 section 5 order: v o s i u e p c b t r z k a, then the media sections.
  w.line('v', "0");
  const Origin& o = d.origin;
  w.line('o', o.username + ' ' + std::to_string(o.session_id) + ' ' + std::to_string(o.session_version) + ' ' +
                  o.net_type + ' ' + o.address_type + ' ' + o.address);
  w.line('s', d.session_name);
  w.other_lines(d.other_lines, "iuep");
  w.connection(d.connection);
  w.other_lines(d.other_lines, "b");
  w.line('t', d.timing);
  w.other_lines_except(d.other_lines, "iuepb");
  for (const auto& g : d.groups) {
    w.attribute("group", g.mids.empty() ? g.semantics : g.semantics + ' ' + Writer::join(g.mids));
  }
  w.flag(d.ice_lite, "ice-lite");
  w.transport(d.ice_ufrag, d.ice_pwd, d.ice_options, d.fingerprints, d.setup);
  w.attributes(d.attributes);
  if (d.msid_semantic) {
    std::string value = ' ' + d.msid_semantic->semantic;
    for (const auto& id : d.msid_semantic->stream_ids) value += ' ' + id;
    w.attribute("msid-semantic", value);
  }
  for (const auto& m : d.media) write_media(w, m);
  return w.take();
}

}  // namespace tandem::transport::sdp
