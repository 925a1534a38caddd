// PeerHub's request handlers (peer.proto). The hub's lifecycle and output are in peer_hub.cpp.
#include <algorithm>

#include "core/ffi/core.h"
#include "core/ffi/media_hub.h"
#include "core/ffi/peer_hub.h"
#include "core/ffi/peer_objects.h"
#include "core/transport/dtls/certificate.h"
#include "core/transport/net/address_text.h"
#include "proto/tandem.pb.h"

namespace tandem::ffi {
namespace {

Result<void> fail(Errc code, std::string message) { return Error{code, std::move(message)}; }

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

template <class T>
Result<T*> PeerHub::lookup(uint64_t handle, HandleType type) {
  auto ref = core_.handles().retrieve(handle, type);
  if (!ref.ok()) return ref.error();
  auto* object = ref.value().template as<T>();
  if constexpr (std::is_same_v<T, PeerObject>) {
    if (object->torn_down) return Error{Errc::stale_handle, "the peer connection was dropped"};
  } else {
    if (!object->peer || object->peer->torn_down) return Error{Errc::stale_handle, "its peer connection is gone"};
  }
  return object;
}

Result<void> PeerHub::handle(const api::FfiRequest& req, api::FfiResponse& resp) {
  if (closed_.load()) return fail(Errc::disposed, "the core was disposed");
  switch (req.message_case()) {
    case api::FfiRequest::kCreatePeer: return create_peer(req, resp);
    case api::FfiRequest::kCreateOffer: return describe(req, resp, true);
    case api::FfiRequest::kCreateAnswer: return describe(req, resp, false);
    case api::FfiRequest::kSetRemoteDescription: return set_remote_description(req, resp);
    case api::FfiRequest::kAddIceCandidate: return add_ice_candidate(req, resp);
    case api::FfiRequest::kAddTrack: return add_track(req, resp);
    case api::FfiRequest::kCreateDataChannel: return create_data_channel(req, resp);
    case api::FfiRequest::kSendData: return send_data(req, resp);
    case api::FfiRequest::kSetBufferedAmountLowThreshold: return set_low_threshold(req, resp);
    case api::FfiRequest::kCloseDataChannel: return close_data_channel(req, resp);
    case api::FfiRequest::kClosePeer: return close_peer(req, resp);
    case api::FfiRequest::kDeliverPeerDatagrams: return deliver(req, resp);
    case api::FfiRequest::kGetPeerStats: return get_stats(req, resp);
    default: return fail(Errc::internal, "not a peer request");
  }
}

Result<void> PeerHub::create_peer(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.create_peer();
  auto& platform = core_.platform();
  if (r.use_platform_sockets() && platform.net == nullptr)
    return fail(Errc::invalid_argument, "this platform has no UDP sockets: give local_addresses and carry datagrams");
  if (!r.use_platform_sockets() && r.local_addresses().empty())
    return fail(Errc::invalid_argument, "without platform sockets the peer needs local_addresses");
  if (!r.use_platform_sockets() && !r.bind_addresses().empty())
    return fail(Errc::invalid_argument, "bind_addresses needs use_platform_sockets");
  std::vector<platform::SocketAddress> binds;
  for (const std::string& text : r.bind_addresses()) {
    auto address = transport::parse_socket_address(text);
    if (!address) return fail(Errc::invalid_argument, "bind address \"" + text + "\" is not ip:port / [ipv6]:port");
    // A wildcard (0.0.0.0, ::) would make a candidate no peer can reach: name the interface's address.
    if (address->ip == platform::IpAddress{} || address->ip == platform::IpAddress::v6({}))
      return fail(Errc::invalid_argument, "bind address \"" + text + "\" is a wildcard: give an interface's address");
    binds.push_back(*address);
  }
  std::vector<platform::SocketAddress> virtual_addresses;
  for (const std::string& text : r.local_addresses()) {
    auto address = transport::parse_socket_address(text);
    if (!address || address->port == 0)
      return fail(Errc::invalid_argument, "local address \"" + text + "\" is not ip:port / [ipv6]:port");
    virtual_addresses.push_back(*address);
  }
  transport::EntropySource entropy = [&platform](std::span<uint8_t> out) { return platform.entropy.fill(out); };
  std::shared_ptr<const transport::DtlsCertificate> certificate;
  if (!r.certificate_pem().empty() || !r.private_key_pem().empty()) {
    auto supplied = transport::DtlsCertificate::from_pem(r.certificate_pem(), r.private_key_pem());
    if (!supplied) return supplied.error();
    certificate = supplied.value();
  } else {
    if (!certificate_) {
      auto generated = transport::DtlsCertificate::generate(entropy);
      if (!generated) return generated.error();
      certificate_ = generated.value();
    }
    certificate = certificate_;
  }
  if (!metrics_) metrics_.emplace(transport::TransportMetrics::in(core_.metrics(), platform.clock));

  transport::PeerConnectionConfig config;
  config.entropy = entropy;
  config.certificate = certificate;
  if (r.ice_check_interval_ms() != 0) config.ice_pacing_ms = r.ice_check_interval_ms();
  if (!r.cname().empty()) config.cname = r.cname();
  auto connection = transport::PeerConnection::create(std::move(config), *metrics_);
  if (!connection) return connection.error();

  auto object = std::make_unique<PeerObject>(*this);
  PeerObject& p = *object;
  p.peer = std::move(connection.value());
  p.platform_sockets = r.use_platform_sockets();
  const uint64_t now = platform.clock.now_ns();
  if (p.platform_sockets && !binds.empty()) {
    for (const auto& address : binds) {
      auto opened = platform.net->open(address, p);
      if (opened.id == 0) {
        p.teardown();
        return fail(Errc::invalid_argument, "cannot bind " + transport::to_string(address) + ": " + opened.error);
      }
      p.sockets.push_back({opened.id, opened.bound});
    }
    for (const auto& s : p.sockets) virtual_addresses.push_back(s.bound);
  } else if (p.platform_sockets) {
    std::vector<platform::IpAddress> ips;
    if (r.loopback_only()) {
      for (const auto& ip : platform.net->interface_addresses(true))
        if (ip.is_loopback()) ips.push_back(ip);
    } else {
      ips = platform.net->interface_addresses(r.include_loopback());
    }
    for (const auto& ip : ips) {
      auto opened = platform.net->open({ip, 0}, p);
      if (opened.id == 0) continue;  // an address we cannot bind (e.g. a vanishing interface): skip it
      p.sockets.push_back({opened.id, opened.bound});
    }
    if (p.sockets.empty()) {
      p.teardown();
      return fail(Errc::resource_exhausted, "could not open a UDP socket on any interface");
    }
    for (const auto& s : p.sockets) virtual_addresses.push_back(s.bound);
  }
  for (const auto& address : virtual_addresses) {
    if (auto added = p.peer->add_local_address(address, now); !added) {
      p.teardown();
      return added.error();
    }
  }
  p.peer->set_local_gathering_complete();  // host candidates only: gathering is immediate

  auto session = media_.create_peer_session(r.cname());
  if (!session) {
    p.teardown();
    return session.error();
  }
  p.session = session.value();
  p.session->route = &p;
  p.peer->attach_media(p.session->session.get());

  auto handle = core_.handles().store(HandleType::peer_connection, &p, [](void* o) {
    auto* peer = static_cast<PeerObject*>(o);
    peer->hub.on_handle_dropped(peer);
  });
  if (!handle) {
    p.teardown();
    return handle.error();
  }
  p.handle = handle.value();
  peers_.push_back(std::move(object));
  auto* out = resp.mutable_create_peer();
  out->set_peer(p.handle);
  out->set_media_session(p.session->handle);
  out->set_fingerprint(certificate->fingerprint().to_sdp());
  for (const auto& address : virtual_addresses) out->add_local_addresses(transport::to_string(address));
  request_flush(p);  // the local candidates
  return {};
}

Result<void> PeerHub::describe(const api::FfiRequest& req, api::FfiResponse& resp, bool offer) {
  auto p = lookup<PeerObject>(offer ? req.create_offer().peer() : req.create_answer().peer(),
                              HandleType::peer_connection);
  if (!p) return p.error();
  const uint64_t now = core_.platform().clock.now_ns();
  auto sdp = offer ? p.value()->peer->create_offer(now) : p.value()->peer->create_answer(now);
  request_flush(*p.value());
  if (!sdp) return sdp.error();
  auto* out = offer ? resp.mutable_create_offer() : resp.mutable_create_answer();
  out->set_type(offer ? api::OFFER : api::ANSWER);
  out->set_sdp(sdp.value());
  return {};
}

Result<void> PeerHub::set_remote_description(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.set_remote_description();
  auto p = lookup<PeerObject>(r.peer(), HandleType::peer_connection);
  if (!p) return p.error();
  if (r.type() != api::OFFER && r.type() != api::ANSWER) return fail(Errc::invalid_argument, "type must be OFFER or ANSWER");
  const auto kind = r.type() == api::OFFER ? transport::SdpKind::offer : transport::SdpKind::answer;
  auto set = p.value()->peer->set_remote_description(kind, r.sdp(), core_.platform().clock.now_ns());
  request_flush(*p.value());
  if (!set) return set;
  resp.mutable_set_remote_description();
  return {};
}

Result<void> PeerHub::add_ice_candidate(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.add_ice_candidate();
  auto p = lookup<PeerObject>(r.peer(), HandleType::peer_connection);
  if (!p) return p.error();
  auto added = p.value()->peer->add_remote_candidate(r.candidate(), core_.platform().clock.now_ns());
  request_flush(*p.value());
  if (!added) return added;
  resp.mutable_add_ice_candidate();
  return {};
}

Result<void> PeerHub::add_track(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.add_track();
  auto p = lookup<PeerObject>(r.peer(), HandleType::peer_connection);
  if (!p) return p.error();
  PeerObject& peer = *p.value();
  transport::LocalMediaTrack track;
  track.stream_id = r.stream_id().empty() ? "tandem" : r.stream_id();
  MediaObject* source = nullptr;
  for (const HandleType type : {HandleType::audio_source, HandleType::video_source}) {
    auto ref = core_.handles().retrieve(r.source(), type);
    if (ref.ok()) source = ref.value().as<MediaObject>();
  }
  if (!source || source->torn_down) return fail(Errc::invalid_argument, "source must be a live AUDIO_SOURCE or VIDEO_SOURCE");
  if (&static_cast<AttachedObject*>(source)->session != peer.session)
    return fail(Errc::invalid_argument, "the source belongs to another media session than the peer's");
  if (source->type == HandleType::audio_source) {
    auto* audio = static_cast<AudioSourceObject*>(source);
    track.kind = media::MediaKind::audio;
    track.ssrc = audio->sender->ssrc();
    track.payload_type = audio->payload_type;
    track.codec = audio->codec_name;
  } else {
    auto* video = static_cast<VideoSourceObject*>(source);
    track.kind = media::MediaKind::video;
    track.ssrc = video->sender->ssrc();
    track.payload_type = video->payload_type;
    track.codec = "VP8";
  }
  track.track_id = (track.kind == media::MediaKind::audio ? "audio-" : "video-") + std::to_string(track.ssrc);
  if (auto added = peer.peer->add_track(track); !added) return added;
  resp.mutable_add_track();
  return {};
}

Result<void> PeerHub::create_data_channel(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.create_data_channel();
  auto p = lookup<PeerObject>(r.peer(), HandleType::peer_connection);
  if (!p) return p.error();
  PeerObject& peer = *p.value();
  const auto& i = r.init();
  transport::DataChannelInit init;
  init.label = i.label();
  init.protocol = i.protocol();
  init.ordered = !i.unordered();
  if (i.has_max_retransmits()) init.max_retransmits = i.max_retransmits();
  if (i.has_max_packet_lifetime()) init.max_packet_lifetime_ms = i.max_packet_lifetime_ms();
  if (i.negotiated()) {
    if (i.id() > 65534) return fail(Errc::invalid_argument, "a negotiated id must be 0..65534");
    init.negotiated_id = static_cast<uint16_t>(i.id());
  }
  auto key = peer.peer->create_data_channel(init, core_.platform().clock.now_ns());
  if (!key) return key.error();
  auto handle = adopt_channel(peer, key.value());
  if (!handle) return handle.error();
  request_flush(peer);
  auto* out = resp.mutable_create_data_channel();
  out->set_channel(handle.value());
  out->set_id(peer.peer->stream_id(key.value()).value_or(65535));
  return {};
}

Result<void> PeerHub::send_data(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.send_data();
  auto c = lookup<DataChannelObject>(r.channel(), HandleType::data_channel);
  if (!c) return c.error();
  DataChannelObject& channel = *c.value();
  if (channel.closed) return fail(Errc::invalid_argument, "the data channel is closed");
  PeerObject& peer = *channel.peer;
  auto sent = peer.peer->send_data(channel.key, bytes_of(r.data()), r.binary(), core_.platform().clock.now_ns());
  if (!sent) return sent;
  // Sent at once rather than at the end of the task: a burst of sends then leaves in sendmmsg batches of what
  // SCTP's window allows, and the response's buffered amount is current.
  send_transmits(peer);
  schedule(peer);
  resp.mutable_send_data()->set_buffered_amount(peer.peer->buffered_amount(channel.key));
  return {};
}

Result<void> PeerHub::set_low_threshold(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.set_buffered_amount_low_threshold();
  auto c = lookup<DataChannelObject>(r.channel(), HandleType::data_channel);
  if (!c) return c.error();
  if (auto set = c.value()->peer->peer->set_buffered_amount_low_threshold(c.value()->key, r.threshold()); !set) return set;
  resp.mutable_set_buffered_amount_low_threshold();
  return {};
}

Result<void> PeerHub::close_data_channel(const api::FfiRequest& req, api::FfiResponse& resp) {
  auto c = lookup<DataChannelObject>(req.close_data_channel().channel(), HandleType::data_channel);
  if (!c) return c.error();
  PeerObject& peer = *c.value()->peer;
  auto closed = peer.peer->close_data_channel(c.value()->key, core_.platform().clock.now_ns());
  request_flush(peer);
  if (!closed) return closed;
  resp.mutable_close_data_channel();
  return {};
}

Result<void> PeerHub::close_peer(const api::FfiRequest& req, api::FfiResponse& resp) {
  auto p = lookup<PeerObject>(req.close_peer().peer(), HandleType::peer_connection);
  if (!p) return p.error();
  PeerObject& peer = *p.value();
  peer.peer->close(core_.platform().clock.now_ns());
  flush(peer);  // close_notify and the CLOSED state leave now; the handle stays valid until dropped
  resp.mutable_close_peer();
  return {};
}

Result<void> PeerHub::deliver(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.deliver_peer_datagrams();
  auto p = lookup<PeerObject>(r.peer(), HandleType::peer_connection);
  if (!p) return p.error();
  PeerObject& peer = *p.value();
  if (peer.platform_sockets) return fail(Errc::invalid_argument, "this peer receives on its own sockets");
  const uint64_t now = core_.platform().clock.now_ns();
  uint32_t accepted = 0, rejected = 0;
  for (const auto& d : r.datagrams()) {
    auto local = transport::parse_socket_address(d.local());
    auto remote = transport::parse_socket_address(d.remote());
    if (!local || !remote) {
      ++rejected;
      continue;
    }
    // SRTP unprotects in place: the parsed request's bytes are ours to overwrite.
    auto* bytes = reinterpret_cast<uint8_t*>(const_cast<char*>(d.data().data()));
    const bool ok = peer.peer->handle_datagram(*local, *remote, std::span<uint8_t>(bytes, d.data().size()), now).ok();
    (ok ? accepted : rejected) += 1;
  }
  flush(peer);
  auto* out = resp.mutable_deliver_peer_datagrams();
  out->set_accepted(accepted);
  out->set_rejected(rejected);
  return {};
}

Result<void> PeerHub::get_stats(const api::FfiRequest& req, api::FfiResponse& resp) {
  auto p = lookup<PeerObject>(req.get_peer_stats().peer(), HandleType::peer_connection);
  if (!p) return p.error();
  const transport::PeerConnection& peer = *p.value()->peer;
  auto* out = resp.mutable_get_peer_stats();
  auto add = [out](const char* name, double value) {
    auto* s = out->add_stats();
    s->set_name(name);
    s->set_value(value);
  };
  const auto& s = peer.stats();
  add("datagrams_received", static_cast<double>(s.datagrams_received));
  add("datagrams_sent", static_cast<double>(s.datagrams_sent));
  add("stun_received", static_cast<double>(s.stun_received));
  add("dtls_received", static_cast<double>(s.dtls_received));
  add("srtp_received", static_cast<double>(s.srtp_received));
  add("unknown_received", static_cast<double>(s.unknown_received));
  add("media_before_keys", static_cast<double>(s.media_before_keys));
  add("connection_state", static_cast<double>(peer.state()));
  if (const auto* ice = peer.ice_stats()) {
    add("ice_checks_sent", static_cast<double>(ice->checks_sent));
    add("ice_checks_received", static_cast<double>(ice->checks_received));
    add("ice_retransmissions", static_cast<double>(ice->retransmissions));
    add("ice_role_conflicts", static_cast<double>(ice->role_conflicts));
    add("ice_consent_checks_sent", static_cast<double>(ice->consent_checks_sent));
    add("ice_prflx_candidates", static_cast<double>(ice->prflx_candidates));
    add("stun_malformed", static_cast<double>(ice->malformed_stun));
    add("stun_integrity_failures", static_cast<double>(ice->integrity_failures));
  }
  if (const auto* dtls = peer.dtls_stats()) {
    add("dtls_records_sent", static_cast<double>(dtls->records_sent));
    add("dtls_records_received", static_cast<double>(dtls->records_received));
    add("dtls_records_dropped", static_cast<double>(dtls->records_dropped));
    add("dtls_datagrams_rejected", static_cast<double>(dtls->datagrams_rejected));
  }
  if (const auto sctp = peer.sctp_stats()) {
    add("dc_messages_sent", static_cast<double>(sctp->messages_sent));
    add("dc_bytes_sent", static_cast<double>(sctp->bytes_sent));
    add("dc_messages_received", static_cast<double>(sctp->messages_received));
    add("dc_bytes_received", static_cast<double>(sctp->bytes_received));
    add("sctp_packets_sent", static_cast<double>(sctp->sctp.packets_sent));
    add("sctp_packets_received", static_cast<double>(sctp->sctp.packets_received));
    add("sctp_retransmitted_chunks", static_cast<double>(sctp->sctp.retransmitted_data_chunks));
    add("sctp_abandoned_chunks", static_cast<double>(sctp->sctp.abandoned_data_chunks));
    add("dc_messages_dropped", static_cast<double>(sctp->messages_dropped));
    add("dcep_errors", static_cast<double>(sctp->dcep_errors));
    add("sctp_malformed_packets", static_cast<double>(sctp->sctp.malformed_packets));
    add("sctp_oversized_messages_dropped", static_cast<double>(sctp->sctp.oversized_messages_dropped));
    add("sctp_partial_messages_aborted", static_cast<double>(sctp->sctp.partial_messages_aborted));
    add("sctp_association_restarts", static_cast<double>(sctp->sctp.association_restarts));
  }
  return {};
}

}  // namespace tandem::ffi
