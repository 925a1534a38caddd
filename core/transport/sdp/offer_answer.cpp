// create_offer and create_answer (negotiate() is in negotiate.cpp).
#include "core/transport/sdp/offer_answer.h"

#include <algorithm>

#include "core/transport/sdp/sdp_text.h"

namespace tandem::transport::sdp {
namespace {

constexpr std::string_view kRtpProtocol = "UDP/TLS/RTP/SAVPF";
constexpr std::string_view kSctpProtocol = "UDP/DTLS/SCTP";
constexpr std::string_view kSctpFormat = "webrtc-datachannel";

Error bad_option(std::string message) { return Error{Errc::invalid_argument, std::move(message)}; }

bool sends(Direction d) { return d == Direction::sendrecv || d == Direction::sendonly; }
bool receives(Direction d) { return d == Direction::sendrecv || d == Direction::recvonly; }

Direction direction_of(bool send, bool receive) {
  if (send) return receive ? Direction::sendrecv : Direction::sendonly;
  return receive ? Direction::recvonly : Direction::inactive;
}

Result<void> check_track(const std::optional<MediaOptions>& media, std::string_view kind) {
  if (!media || !sends(media->direction)) return {};
  const std::string what = "the " + std::string(kind) + " track";
  if (!media->track) return bad_option(std::string(kind) + " sends but has no track");
  const LocalTrack& t = *media->track;
  const bool cname_ok = !t.cname.empty() && std::none_of(t.cname.begin(), t.cname.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
  if (!cname_ok) return bad_option(what + " needs a cname without spaces");
  if (!text::is_token(t.stream_id) || !text::is_token(t.track_id)) {
    return bad_option(what + " needs token stream and track ids");
  }
  return {};
}

Result<void> check_options(const LocalDescriptionOptions& o) {
  if (o.session_id >= (uint64_t{1} << 63)) return bad_option("session_id must be below 2^63");
  if (o.ice_ufrag.size() < 4 || o.ice_ufrag.size() > 256 || !text::is_ice_chars(o.ice_ufrag)) {
    return bad_option("ice_ufrag must be 4 to 256 ice-chars");
  }
  if (o.ice_pwd.size() < 22 || o.ice_pwd.size() > 256 || !text::is_ice_chars(o.ice_pwd)) {
    return bad_option("ice_pwd must be 22 to 256 ice-chars");
  }
  if (!text::is_token(o.fingerprint.algorithm) || !text::is_fingerprint_value(o.fingerprint.value)) {
    return bad_option("fingerprint must be <hash function> and hex pairs separated by ':'");
  }
  if (o.sctp_port == 0) return bad_option("sctp_port must not be 0");
  for (const auto& candidate : o.candidates) {
    if (text::trim(candidate).empty() || candidate.find_first_of("\r\n") != std::string::npos) {
      return bad_option("a candidate is empty or spans lines");
    }
  }
  if (auto r = check_track(o.audio, "audio"); !r) return r;
  return check_track(o.video, "video");
}

SessionDescription new_session(const LocalDescriptionOptions& o, SdpType type) {
  SessionDescription d;
  d.type = type;
  d.origin.session_id = o.session_id;
  d.origin.session_version = o.session_version;
  return d;
}

// m=, c=, ICE, DTLS and mid: what every accepted section of ours carries.
MediaSection new_section(const LocalDescriptionOptions& o, MediaKind kind, std::string_view protocol,
                         std::string mid, Setup setup) {
  MediaSection m;
  m.kind = kind;
  m.protocol = protocol;
  m.connection = Connection{};
  m.mid = std::move(mid);
  m.ice_ufrag = o.ice_ufrag;
  m.ice_pwd = o.ice_pwd;
  m.ice_options = {"trickle"};
  m.fingerprints = {o.fingerprint};
  m.setup = setup;
  m.candidates = o.candidates;
  m.end_of_candidates = o.end_of_candidates;
  return m;
}

// Our track's a=msid and a=ssrc lines, when the section sends.
void add_track(MediaSection& m, SessionDescription& d, const std::optional<LocalTrack>& track) {
  if (!track || !sends(m.effective_direction())) return;
  m.msids.push_back(Msid{track->stream_id, track->track_id});
  m.ssrc_attributes.push_back(SsrcAttribute{track->ssrc, "cname", track->cname, true});
  m.ssrc_attributes.push_back(SsrcAttribute{track->ssrc, "msid", track->stream_id + ' ' + track->track_id, true});
  if (!d.msid_semantic) d.msid_semantic = MsidSemantic{"WMS", {}};
  auto& ids = d.msid_semantic->stream_ids;
  if (track->stream_id != "-" && std::find(ids.begin(), ids.end(), track->stream_id) == ids.end()) {
    ids.push_back(track->stream_id);
  }
}

void set_formats_from_codecs(MediaSection& m) {
  m.formats.clear();
  for (const auto& c : m.codecs) m.formats.push_back(std::to_string(c.payload_type));
}

std::vector<std::string> video_feedback(bool goog_remb) {
  std::vector<std::string> fb = {"nack", "nack pli", "ccm fir"};
  if (goog_remb) fb.insert(fb.begin(), "goog-remb");
  return fb;
}

std::vector<Codec> our_codecs(MediaKind kind, bool goog_remb) {
  if (kind == MediaKind::audio) {
    const Fmtp opus_fmtp = Fmtp::from_parameters({{"minptime", "10"}, {"useinbandfec", "1"}});
    return {Codec{kOpusPayloadType, "opus", 48000, 2, opus_fmtp, {}}, Codec{kPcmuPayloadType, "PCMU", 8000, 0, {}, {}}};
  }
  return {Codec{kVp8PayloadType, "VP8", 90000, 0, {}, video_feedback(goog_remb)}};
}

// Ours when an offered codec is one we support: the offerer's payload type and fmtp, our rtcp-fb subset.
std::optional<Codec> accept_codec(const Codec& offered, MediaKind kind, bool goog_remb) {
  const bool named = !offered.name.empty();
  bool supported = false;
  if (kind == MediaKind::audio) {
    supported = (text::iequals(offered.name, "opus") && offered.clock_rate == 48000 && offered.channels == 2) ||
                (text::iequals(offered.name, "PCMU") && offered.clock_rate == 8000 && offered.channels <= 1) ||
                (!named && offered.payload_type == kPcmuPayloadType);  // static PCMU (RFC 3551)
  } else if (kind == MediaKind::video) {
    supported = text::iequals(offered.name, "VP8") && offered.clock_rate == 90000;
  }
  if (!supported) return std::nullopt;
  Codec codec = offered;
  const std::vector<std::string> ours = kind == MediaKind::video ? video_feedback(goog_remb)
                                                                 : std::vector<std::string>{};
  std::erase_if(codec.rtcp_fb, [&](const std::string& fb) {
    return std::find(ours.begin(), ours.end(), fb) == ours.end();
  });
  return codec;
}

// A rejected section: port 0 and the offer's m= line (RFC 8829 5.3.1), with its mid so the sections still pair.
MediaSection rejected_section(const MediaSection& offered) {
  MediaSection m;
  m.kind = offered.kind;
  m.kind_text = offered.kind_text;
  m.port = 0;
  m.protocol = offered.protocol;
  m.formats = offered.formats;
  for (const auto& c : offered.codecs) m.codecs.emplace_back().payload_type = c.payload_type;
  m.connection = Connection{};
  m.mid = offered.mid;
  return m;
}

uint64_t smaller_limit(uint64_t a, uint64_t b) {  // 0 means no limit
  if (a == 0) return b;
  if (b == 0) return a;
  return std::min(a, b);
}

}  // namespace

Result<SessionDescription> create_offer(const OfferOptions& options) {
  if (auto r = check_options(options); !r) return r.error();
  if (!options.audio && !options.video && !options.data_channel) return bad_option("an offer needs a section");
  SessionDescription d = new_session(options, SdpType::offer);
  Group bundle{"BUNDLE", {}};
  const auto add_rtp = [&](MediaKind kind, const MediaOptions& media) {
    MediaSection m = new_section(options, kind, kRtpProtocol, std::to_string(d.media.size()), Setup::actpass);
    m.direction = media.direction;
    m.rtcp_mux = true;
    m.rtcp_rsize = true;
    m.codecs = our_codecs(kind, options.goog_remb);
    set_formats_from_codecs(m);
    add_track(m, d, media.track);
    bundle.mids.push_back(m.mid);
    d.media.push_back(std::move(m));
  };
  if (options.audio) add_rtp(MediaKind::audio, *options.audio);
  if (options.video) add_rtp(MediaKind::video, *options.video);
  if (options.data_channel) {
    MediaSection m = new_section(options, MediaKind::application, kSctpProtocol, std::to_string(d.media.size()),
                                 Setup::actpass);
    m.formats = {std::string(kSctpFormat)};
    m.sctp_port = options.sctp_port;
    m.max_message_size = options.max_message_size;
    bundle.mids.push_back(m.mid);
    d.media.push_back(std::move(m));
  }
  d.groups.push_back(std::move(bundle));
  return d;
}

Result<SessionDescription> create_answer(const SessionDescription& offer, const AnswerOptions& options) {
  if (auto r = check_options(options); !r) return r.error();
  if (offer.type != SdpType::offer) return bad_option("create_answer needs an offer");
  for (size_t i = 0; i < offer.media.size(); ++i) {
    const auto& mid = offer.media[i].mid;
    if (mid.empty()) return Error{Errc::protocol_error, "offered section " + std::to_string(i) + " has no a=mid"};
    for (size_t j = 0; j < i; ++j) {
      if (offer.media[j].mid == mid) return Error{Errc::protocol_error, "offer repeats a=mid:" + mid};
    }
  }
  const Group* offered_bundle = offer.bundle_group();
  SessionDescription d = new_session(options, SdpType::answer);
  bool have_audio = false, have_video = false, have_data = false;
  for (const MediaSection& o : offer.media) {
    // One transport: with BUNDLE, only sections in the offer's group; without it, only the first we accept.
    const bool in_bundle = offered_bundle
        ? std::find(offered_bundle->mids.begin(), offered_bundle->mids.end(), o.mid) != offered_bundle->mids.end()
        : !(have_audio || have_video || have_data);
    const std::optional<Setup> offered_setup = effective_setup(offer, o);
    const bool transport_ok = in_bundle && !o.rejected() && !effective_ice_ufrag(offer, o).empty() &&
                              !effective_ice_pwd(offer, o).empty() && !effective_fingerprints(offer, o).empty() &&
                              offered_setup != Setup::holdconn;
    // RFC 4145: an absent a=setup means active, so we take the passive (DTLS server) side then.
    const Setup our_setup = offered_setup == Setup::active || !offered_setup ? Setup::passive : Setup::active;
    const bool is_audio = o.kind == MediaKind::audio && options.audio && !have_audio;
    const bool is_video = o.kind == MediaKind::video && options.video && !have_video;
    if (transport_ok && (is_audio || is_video) && o.protocol == kRtpProtocol && o.rtcp_mux) {
      const MediaOptions& ours = is_audio ? *options.audio : *options.video;
      MediaSection m = new_section(options, o.kind, o.protocol, o.mid, our_setup);
      for (const auto& offered : o.codecs) {
        if (auto codec = accept_codec(offered, o.kind, options.goog_remb)) m.codecs.push_back(std::move(*codec));
      }
      if (!m.codecs.empty()) {
        set_formats_from_codecs(m);
        const Direction theirs = o.effective_direction();
        m.direction =
            direction_of(sends(ours.direction) && receives(theirs), receives(ours.direction) && sends(theirs));
        m.rtcp_mux = true;
        m.rtcp_rsize = o.rtcp_rsize;
        add_track(m, d, ours.track);
        (is_audio ? have_audio : have_video) = true;
        d.media.push_back(std::move(m));
        continue;
      }
    }
    const bool offers_datachannel = std::find(o.formats.begin(), o.formats.end(), kSctpFormat) != o.formats.end();
    if (transport_ok && o.kind == MediaKind::application && options.data_channel && !have_data &&
        o.protocol == kSctpProtocol && offers_datachannel) {
      MediaSection m = new_section(options, o.kind, o.protocol, o.mid, our_setup);
      m.formats = {std::string(kSctpFormat)};
      m.sctp_port = options.sctp_port;
      m.max_message_size = smaller_limit(options.max_message_size, o.max_message_size.value_or(kImpliedMaxMessageSize));
      have_data = true;
      d.media.push_back(std::move(m));
      continue;
    }
    d.media.push_back(rejected_section(o));
  }
  if (offered_bundle) {
    Group bundle{"BUNDLE", {}};
    for (const auto& mid : offered_bundle->mids) {
      const MediaSection* m = d.find_media(mid);
      if (m && !m->rejected()) bundle.mids.push_back(mid);
    }
    if (!bundle.mids.empty()) d.groups.push_back(std::move(bundle));
  }
  return d;
}

}  // namespace tandem::transport::sdp
