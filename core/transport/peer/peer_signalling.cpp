// PeerConnection, part 1: signalling (descriptions, candidates, tracks) and starting the transports once both
// descriptions are known. The I/O side is in peer_connection.cpp.
#include <algorithm>

#include "core/transport/ice/ice_candidate.h"
#include "core/transport/peer/peer_internal.h"

namespace tandem::transport {
namespace {

using peer_detail::make_event;
using peer_detail::since;

std::optional<std::string> codec_name(const sdp::NegotiatedMedia& m, uint8_t payload_type) {
  if (m.opus_payload_type == payload_type) return "opus";
  if (m.pcmu_payload_type == payload_type) return "PCMU";
  if (m.vp8_payload_type == payload_type) return "VP8";
  return std::nullopt;
}

// The payload type the negotiation gave a codec of ours, if it did.
std::optional<uint8_t> negotiated_payload_type(const sdp::NegotiatedMedia& m, std::string_view codec) {
  if (codec == "opus") return m.opus_payload_type;
  if (codec == "PCMU") return m.pcmu_payload_type;
  if (codec == "VP8") return m.vp8_payload_type;
  return std::nullopt;
}

}  // namespace

// ---- signalling ---------------------------------------------------------------------------------------------

Result<void> PeerConnection::ensure_ice(IceRole role) {
  if (ice_) return {};
  IceAgentConfig c;
  c.role = role;
  c.local_ufrag = ice_ufrag_;
  c.local_pwd = ice_pwd_;
  c.entropy = config_.entropy;
  c.pacing_ms = config_.ice_pacing_ms;
  auto agent = IceAgent::create(std::move(c));
  if (!agent) return agent.error();
  ice_.emplace(std::move(agent.value()));
  for (const auto& base : local_addresses_) {
    if (auto added = ice_->add_local_address(base); !added) return added.error();
  }
  if (local_gathering_complete_) ice_->set_local_gathering_complete();
  return {};
}

Result<void> PeerConnection::add_local_address(const platform::SocketAddress& base, uint64_t now_ns) {
  if (closed_) return Error{Errc::invalid_argument, "peer connection is closed"};
  if (std::find(local_addresses_.begin(), local_addresses_.end(), base) != local_addresses_.end())
    return Error{Errc::invalid_argument, "local address added twice"};
  if (ice_) {
    if (auto added = ice_->add_local_address(base); !added) return added.error();
  }
  local_addresses_.push_back(base);
  if (created_ns_ == 0) created_ns_ = now_ns;
  pump(now_ns);
  return {};
}

void PeerConnection::set_local_gathering_complete() {
  if (local_gathering_complete_) return;
  local_gathering_complete_ = true;
  if (ice_) ice_->set_local_gathering_complete();
}

Result<void> PeerConnection::add_track(const LocalMediaTrack& track) {
  if (closed_) return Error{Errc::invalid_argument, "peer connection is closed"};
  for (const auto& t : tracks_) {
    if (t.kind == track.kind) return Error{Errc::invalid_argument, "one audio and one video track per peer"};
  }
  const bool audio = track.kind == media::MediaKind::audio;
  if (audio ? (track.codec != "opus" && track.codec != "PCMU") : track.codec != "VP8")
    return Error{Errc::invalid_argument, "unsupported codec for this track: " + track.codec};
  if (track.ssrc == 0) return Error{Errc::invalid_argument, "a track needs its SSRC"};
  tracks_.push_back(track);
  return {};
}

Result<std::string> PeerConnection::describe(bool offer, uint64_t now_ns) {
  if (closed_) return Error{Errc::invalid_argument, "peer connection is closed"};
  if (created_ns_ == 0) created_ns_ = now_ns;
  sdp::LocalDescriptionOptions o;
  o.session_id = session_id_;
  o.session_version = ++session_version_;
  o.ice_ufrag = ice_ufrag_;
  o.ice_pwd = ice_pwd_;
  const DtlsFingerprint& fp = config_.certificate->fingerprint();
  o.fingerprint = {std::string(to_string(fp.algorithm)), fp.value()};
  for (const auto& t : tracks_) {
    sdp::MediaOptions m;
    m.direction = sdp::Direction::sendrecv;
    m.track = sdp::LocalTrack{t.ssrc, config_.cname, t.stream_id, t.track_id.empty() ? t.codec : t.track_id};
    (t.kind == media::MediaKind::audio ? o.audio : o.video) = m;
  }
  // Receive-only sections: when offering if asked; when answering whatever the offer has (create_answer
  // rejects sections we left out).
  const bool answer_all = !offer;
  if (!o.audio && (answer_all || config_.offer_to_receive_audio)) o.audio = sdp::MediaOptions{sdp::Direction::recvonly, {}};
  if (!o.video && (answer_all || config_.offer_to_receive_video)) o.video = sdp::MediaOptions{sdp::Direction::recvonly, {}};
  o.data_channel = true;
  o.sctp_port = config_.sctp.sctp.local_port;
  o.max_message_size = config_.sctp.sctp.max_message_size;

  Result<sdp::SessionDescription> description = Error{Errc::internal, ""};
  if (offer) {
    if (auto ice = ensure_ice(IceRole::controlling); !ice) return ice.error();
    description = sdp::create_offer(o);
  } else {
    if (!have_remote_offer_ || !negotiated_) return Error{Errc::invalid_argument, "create_answer needs a remote offer"};
    if (auto ice = ensure_ice(IceRole::controlled); !ice) return ice.error();
    description = sdp::create_answer(negotiated_->remote, o);
  }
  if (!description) return description.error();
  std::string text = sdp::serialize(description.value());
  if (!negotiated_) negotiated_ = std::make_unique<Negotiated>();
  negotiated_->local = std::move(description.value());
  local_sdp_kind_ = offer ? "offer" : "answer";
  if (!offer) {
    have_remote_offer_ = false;
    if (auto applied = apply_negotiation(now_ns); !applied) return applied.error();
  }
  pump(now_ns);
  return text;
}

Result<std::string> PeerConnection::create_offer(uint64_t now_ns) { return describe(true, now_ns); }
Result<std::string> PeerConnection::create_answer(uint64_t now_ns) { return describe(false, now_ns); }

Result<void> PeerConnection::set_remote_description(SdpKind kind, std::string_view text, uint64_t now_ns) {
  if (closed_) return Error{Errc::invalid_argument, "peer connection is closed"};
  if (created_ns_ == 0) created_ns_ = now_ns;
  if (kind == SdpKind::answer && local_sdp_kind_ != "offer")
    return Error{Errc::invalid_argument, "an answer needs our offer first"};
  if (kind == SdpKind::offer && sctp_)
    return Error{Errc::invalid_argument, "renegotiation is not supported: the session is negotiated"};
  auto parsed = sdp::parse(text, kind == SdpKind::offer ? sdp::SdpType::offer : sdp::SdpType::answer);
  if (!parsed) return parsed.error();
  if (!negotiated_) negotiated_ = std::make_unique<Negotiated>();
  negotiated_->remote = std::move(parsed.value());
  if (kind == SdpKind::offer) {
    have_remote_offer_ = true;
    return {};
  }
  auto applied = apply_negotiation(now_ns);
  pump(now_ns);
  return applied;
}

// Both descriptions are known: start ICE checks, DTLS, SCTP; announce remote tracks.
Result<void> PeerConnection::apply_negotiation(uint64_t now_ns) {
  auto session = sdp::negotiate(negotiated_->local, negotiated_->remote);
  if (!session) return session.error();
  negotiated_->session = std::move(session.value());
  const sdp::NegotiatedSession& n = negotiated_->session;

  if (auto creds = ice_->set_remote_credentials(n.remote_ice_ufrag, n.remote_ice_pwd); !creds) return creds.error();
  checks_started_ns_ = now_ns;
  for (const auto& line : n.remote_candidates) (void)add_remote_candidate(line, now_ns);
  for (const auto& line : early_candidates_) (void)add_remote_candidate(line, now_ns);
  early_candidates_.clear();
  if (n.remote_end_of_candidates || remote_end_of_candidates_) ice_->set_remote_gathering_complete();

  auto remote_fp = parse_fingerprint(n.remote_fingerprint.algorithm, n.remote_fingerprint.value);
  if (!remote_fp) return Error{Errc::protocol_error, "remote fingerprint: " + remote_fp.error().message};
  DtlsConfig dc;
  dc.role = n.local_dtls_role == sdp::DtlsRole::client ? DtlsRole::client : DtlsRole::server;
  dc.entropy = config_.entropy;
  dc.certificate = config_.certificate;
  dc.remote_fingerprint = remote_fp.value();
  dc.handshake_timeout_min_ms = config_.dtls_timeout_min_ms;
  auto dtls = DtlsEndpoint::create(std::move(dc));
  if (!dtls) return dtls.error();
  dtls_.emplace(std::move(dtls.value()));
  dtls_->set_datagram_sink(&dtls_to_batch_);
  // A server waits for the ClientHello from now on; a client speaks once ICE has a pair (pump_ice).
  if (dtls_->role() == DtlsRole::server) {
    if (auto started = dtls_->start(now_ns); !started) return started.error();
    dtls_started_ns_ = now_ns;
  }

  if (n.sctp) {
    DataChannelTransportOptions so = config_.sctp;
    so.dtls_client = dtls_->role() == DtlsRole::client;
    so.remote_port = n.sctp->remote_port;
    so.remote_max_message_size = static_cast<uint32_t>(std::min<uint64_t>(n.sctp->remote_max_message_size, UINT32_MAX));
    so.sctp.local_port = n.sctp->local_port;
    so.sctp.verify_checksum = false;  // inside DTLS: every packet is authenticated by its record already
    auto transport = DataChannelTransport::create(so);
    if (!transport) return transport.error();
    sctp_.emplace(std::move(transport.value()));
    if (auto opened = open_pending_channels(); !opened) return opened.error();
  }

  for (const auto& m : n.media) {
    const media::MediaKind kind = m.kind == sdp::MediaKind::audio ? media::MediaKind::audio : media::MediaKind::video;
    for (const auto& t : tracks_) {
      if (t.kind != kind) continue;
      const auto pt = negotiated_payload_type(m, t.codec);
      if (!pt || *pt != t.payload_type) {
        emit(make_event(PeerEventKind::error, "the " + t.codec + " track sends payload type " + std::to_string(t.payload_type) +
                                        " but the negotiation gave " + (pt ? std::to_string(*pt) : "none")));
      }
    }
    const bool receives = m.direction == sdp::Direction::sendrecv || m.direction == sdp::Direction::recvonly;
    if (!receives || m.codecs.empty()) continue;
    // The first SSRC that is not the secondary of an FID group (RTX) is the track's media SSRC.
    for (const auto& info : m.remote_ssrcs) {
      bool secondary = false;
      for (const auto& g : m.remote_ssrc_groups) {
        if (g.semantics == "FID" && g.ssrcs.size() > 1 &&
            std::find(g.ssrcs.begin() + 1, g.ssrcs.end(), info.ssrc) != g.ssrcs.end())
          secondary = true;
      }
      if (secondary) continue;
      RemoteMediaTrack track;
      track.mid = m.mid;
      track.kind = kind;
      track.ssrc = info.ssrc;
      track.payload_type = m.codecs.front().payload_type;
      track.codec = codec_name(m, track.payload_type).value_or(m.codecs.front().name);
      const size_t space = info.msid.find(' ');
      track.stream_id = info.msid.substr(0, space);
      if (space != std::string::npos) track.track_id = info.msid.substr(space + 1);
      PeerEvent e = make_event(PeerEventKind::remote_track);
      e.track = std::move(track);
      emit(std::move(e));
      break;
    }
  }
  if (state_ == PeerState::new_) {
    state_ = PeerState::connecting;
    PeerEvent e = make_event(PeerEventKind::connection_state);
    e.state = state_;
    emit(std::move(e));
  }
  return {};
}

Result<void> PeerConnection::add_remote_candidate(std::string_view line, uint64_t now_ns) {
  if (closed_) return Error{Errc::invalid_argument, "peer connection is closed"};
  if (line.empty()) {
    remote_end_of_candidates_ = true;
    if (ice_ && negotiated_ && dtls_) ice_->set_remote_gathering_complete();
    return {};
  }
  auto candidate = IceCandidate::parse(line);
  if (!candidate) return candidate.error();
  if (!ice_ || !dtls_) {  // before the remote description: kept until it arrives
    early_candidates_.emplace_back(line);
    return {};
  }
  auto added = ice_->add_remote_candidate(candidate.value());
  pump(now_ns);
  return added;
}

}  // namespace tandem::transport
