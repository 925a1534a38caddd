// negotiate(): what the transport and media stack need once an offer and its answer are both known.
#include <algorithm>

#include "core/transport/sdp/offer_answer.h"
#include "core/transport/sdp/sdp_text.h"

namespace tandem::transport::sdp {
namespace {

Error protocol_error(std::string message) { return Error{Errc::protocol_error, std::move(message)}; }

std::optional<uint8_t> payload_type_of(const MediaSection& m, std::string_view name, uint32_t clock_rate) {
  if (const Codec* codec = m.find_codec(name, clock_rate)) return codec->payload_type;
  return std::nullopt;
}

// Our DTLS role from the answer's a=setup (RFC 8842 section 5): the "active" side is the DTLS client.
Result<DtlsRole> dtls_role(std::optional<Setup> answer_setup, bool local_is_answer) {
  // RFC 4145 section 4: no a=setup means active.
  const Setup setup = answer_setup.value_or(Setup::active);
  if (setup != Setup::active && setup != Setup::passive) {
    return protocol_error("the answer's a=setup is " + std::string(to_string(setup)) + ", not active or passive");
  }
  const bool answerer_is_client = setup == Setup::active;
  return answerer_is_client == local_is_answer ? DtlsRole::client : DtlsRole::server;
}

NegotiatedMedia negotiated_media(const MediaSection& local, const MediaSection& remote, const MediaSection& answer) {
  NegotiatedMedia n;
  n.mid = answer.mid;
  n.kind = answer.kind;
  n.direction = local.effective_direction();
  n.codecs = answer.codecs;
  n.opus_payload_type = payload_type_of(answer, "opus", 48000);
  n.pcmu_payload_type = payload_type_of(answer, "PCMU", 8000);
  // Static PCMU (RFC 3551) may come without an a=rtpmap.
  if (!n.pcmu_payload_type) {
    if (const Codec* c = answer.find_codec(0); c && c->name.empty()) n.pcmu_payload_type = 0;
  }
  n.vp8_payload_type = payload_type_of(answer, "VP8", 90000);
  n.remote_ssrcs = remote.ssrcs();
  n.remote_ssrc_groups = remote.ssrc_groups;
  n.extmaps = answer.extmaps;
  n.rtcp_mux = answer.rtcp_mux;
  n.rtcp_rsize = answer.rtcp_rsize;
  return n;
}

}  // namespace

const NegotiatedMedia* NegotiatedSession::find(MediaKind kind) const {
  for (const auto& m : media) {
    if (m.kind == kind) return &m;
  }
  return nullptr;
}

Result<NegotiatedSession> negotiate(const SessionDescription& local, const SessionDescription& remote) {
  const bool local_is_offer = local.type == SdpType::offer;
  if (local_is_offer == (remote.type == SdpType::offer)) {
    return Error{Errc::invalid_argument, "negotiate needs one offer and one answer"};
  }
  const SessionDescription& offer = local_is_offer ? local : remote;
  const SessionDescription& answer = local_is_offer ? remote : local;
  if (offer.media.size() != answer.media.size()) return protocol_error("the answer has another number of sections");
  for (size_t i = 0; i < offer.media.size(); ++i) {
    if (offer.media[i].mid != answer.media[i].mid || offer.media[i].kind != answer.media[i].kind) {
      return protocol_error("section " + std::to_string(i) + " of the answer does not match the offer's");
    }
  }

  NegotiatedSession out;
  // The transport: the answer's BUNDLE group's first mid (RFC 8843 section 7.3.1), else the first accepted one.
  std::optional<size_t> transport;
  if (const Group* bundle = answer.bundle_group()) {
    for (const auto& mid : bundle->mids) {
      const MediaSection* m = answer.find_media(mid);
      if (!m || m->rejected()) return protocol_error("the answer bundles mid " + mid + ", not an accepted section");
      out.bundle.push_back(mid);
    }
    if (!out.bundle.empty()) {
      transport = static_cast<size_t>(answer.find_media(out.bundle.front()) - answer.media.data());
    }
  }
  for (size_t i = 0; !transport && i < answer.media.size(); ++i) {
    if (!answer.media[i].rejected()) transport = i;
  }
  if (!transport) return protocol_error("the answer accepts no section");
  const MediaSection& remote_transport = remote.media[*transport];
  out.transport_mid = remote_transport.mid;
  out.remote_ice_ufrag = effective_ice_ufrag(remote, remote_transport);
  out.remote_ice_pwd = effective_ice_pwd(remote, remote_transport);
  if (out.remote_ice_ufrag.empty() || out.remote_ice_pwd.empty()) {
    return protocol_error("the remote description has no ICE credentials for mid " + out.transport_mid);
  }
  out.remote_ice_lite = remote.ice_lite;
  const auto& options = effective_ice_options(remote, remote_transport);
  out.remote_trickle = std::find(options.begin(), options.end(), "trickle") != options.end();
  out.remote_fingerprints = effective_fingerprints(remote, remote_transport);
  if (out.remote_fingerprints.empty()) return protocol_error("the remote description has no a=fingerprint");
  out.remote_fingerprint = out.remote_fingerprints.front();
  auto role = dtls_role(effective_setup(answer, answer.media[*transport]), !local_is_offer);
  if (!role) return role.error();
  out.local_dtls_role = *role;
  out.remote_candidates = remote_transport.candidates;
  out.remote_end_of_candidates = remote_transport.end_of_candidates;

  for (size_t i = 0; i < answer.media.size(); ++i) {
    const MediaSection& a = answer.media[i];
    if (a.rejected() || offer.media[i].rejected()) continue;
    if (a.is_rtp() && (a.kind == MediaKind::audio || a.kind == MediaKind::video)) {
      out.media.push_back(negotiated_media(local.media[i], remote.media[i], a));
    } else if (a.is_sctp() && !out.sctp) {
      // RFC 8841 section 5: no a=sctp-port means 5000.
      out.sctp = NegotiatedSctp{a.mid, local.media[i].sctp_port.value_or(kDefaultSctpPort),
                                remote.media[i].sctp_port.value_or(kDefaultSctpPort),
                                remote.media[i].max_message_size.value_or(kImpliedMaxMessageSize)};
    }
  }
  return out;
}

}  // namespace tandem::transport::sdp
