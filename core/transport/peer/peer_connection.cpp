#include "core/transport/peer/peer_connection.h"

#include <algorithm>

#include "core/transport/ice/ice_candidate.h"
#include "core/transport/peer/peer_internal.h"
#include "core/transport/stun/demux.h"

namespace tandem::transport {
namespace {

using peer_detail::make_event;
using peer_detail::since;

constexpr uint64_t kNsPerMs = 1'000'000;
constexpr size_t kMaxEarlyDtls = 8;

// RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/". 64 of them, so one random byte's low 6 bits pick one evenly.
std::string random_ice_chars(const EntropySource& entropy, size_t n) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<uint8_t> bytes(n);
  entropy(bytes);
  std::string out(n, 'A');
  for (size_t i = 0; i < n; ++i) out[i] = kChars[bytes[i] & 63];
  return out;
}

uint64_t random_u63(const EntropySource& entropy) {
  uint8_t b[8] = {};
  entropy(b);
  uint64_t v = 0;
  for (uint8_t x : b) v = (v << 8) | x;
  return v >> 1;  // RFC 8829 5.2.1: the session id fits in 63 bits
}





}  // namespace

std::string_view to_string(PeerState state) {
  switch (state) {
    case PeerState::new_: return "new";
    case PeerState::connecting: return "connecting";
    case PeerState::connected: return "connected";
    case PeerState::disconnected: return "disconnected";
    case PeerState::failed: return "failed";
    case PeerState::closed: return "closed";
  }
  return "unknown";
}


PeerConnection::PeerConnection(PeerConnectionConfig config, TransportMetrics metrics)
    : config_(std::move(config)), metrics_(metrics) {}

PeerConnection::~PeerConnection() = default;

Result<std::unique_ptr<PeerConnection>> PeerConnection::create(PeerConnectionConfig config,
                                                               TransportMetrics metrics) {
  if (!config.entropy) return Error{Errc::invalid_argument, "peer connection: an entropy source is required"};
  if (!config.certificate) return Error{Errc::invalid_argument, "peer connection: a DTLS certificate is required"};
  std::unique_ptr<PeerConnection> peer(new PeerConnection(std::move(config), metrics));
  peer->ice_ufrag_ = random_ice_chars(peer->config_.entropy, 8);
  peer->ice_pwd_ = random_ice_chars(peer->config_.entropy, 24);
  peer->session_id_ = random_u63(peer->config_.entropy);
  return peer;
}

// ---- data channels ------------------------------------------------------------------------------------------

PeerConnection::Channel* PeerConnection::find_channel(uint32_t key) {
  auto it = channels_.find(key);
  return it == channels_.end() ? nullptr : &it->second;
}
const PeerConnection::Channel* PeerConnection::find_channel(uint32_t key) const {
  auto it = channels_.find(key);
  return it == channels_.end() ? nullptr : &it->second;
}

Result<uint32_t> PeerConnection::create_data_channel(const DataChannelInit& init, uint64_t now_ns) {
  if (closed_) return Error{Errc::invalid_argument, "peer connection is closed"};
  if (init.max_retransmits && init.max_packet_lifetime_ms)
    return Error{Errc::invalid_argument, "max_retransmits and max_packet_lifetime_ms exclude each other"};
  const uint32_t key = next_channel_key_++;
  Channel channel{init, std::nullopt, now_ns};
  if (sctp_) {
    auto id = sctp_->create_channel(init);
    if (!id) return id.error();
    channel.id = id.value();
    channel_keys_[id.value()] = key;
  }
  channels_.emplace(key, std::move(channel));
  pump(now_ns);
  return key;
}

Result<void> PeerConnection::open_pending_channels() {
  for (auto& [key, channel] : channels_) {
    if (channel.id) continue;
    auto id = sctp_->create_channel(channel.init);
    if (!id) return id.error();
    channel.id = id.value();
    channel_keys_[id.value()] = key;
  }
  return {};
}

Result<void> PeerConnection::send_data(uint32_t key, std::span<const uint8_t> payload, bool binary, uint64_t now_ns) {
  const Channel* channel = find_channel(key);
  if (!channel) return Error{Errc::invalid_argument, "unknown data channel"};
  if (!channel->id || !sctp_) return Error{Errc::invalid_argument, "the data channel is not open yet"};
  Result<void> sent;
  {
    const uint64_t start = metrics_.clock ? metrics_.clock->now_ns() : 0;
    sent = sctp_->send(*channel->id, payload, binary, now_ns);
    if (sent) pump_sctp(now_ns);
    if (metrics_.clock) record(metrics_.dc_send, since(start, metrics_.clock->now_ns()));
  }
  if (sent) {
    count(metrics_.dc_messages_sent);
    count(metrics_.dc_bytes_sent, payload.size());
  }
  return sent;
}

Result<void> PeerConnection::close_data_channel(uint32_t key, uint64_t now_ns) {
  Channel* channel = find_channel(key);
  if (!channel) return Error{Errc::invalid_argument, "unknown data channel"};
  if (!channel->id || !sctp_) {  // never opened: it just goes away
    channels_.erase(key);
    return {};
  }
  auto closed = sctp_->close_channel(*channel->id);
  pump(now_ns);
  return closed;
}

Result<void> PeerConnection::set_buffered_amount_low_threshold(uint32_t key, uint64_t bytes) {
  const Channel* channel = find_channel(key);
  if (!channel) return Error{Errc::invalid_argument, "unknown data channel"};
  if (!channel->id || !sctp_) return Error{Errc::invalid_argument, "the data channel is not open yet"};
  return sctp_->set_buffered_amount_low_threshold(*channel->id, bytes);
}

uint64_t PeerConnection::buffered_amount(uint32_t key) const {
  const Channel* channel = find_channel(key);
  return channel && channel->id && sctp_ ? sctp_->buffered_amount(*channel->id) : 0;
}

std::optional<uint16_t> PeerConnection::stream_id(uint32_t key) const {
  const Channel* channel = find_channel(key);
  return channel ? channel->id : std::nullopt;
}

// ---- I/O ----------------------------------------------------------------------------------------------------

Result<void> PeerConnection::handle_datagram(const platform::SocketAddress& local,
                                             const platform::SocketAddress& remote, std::span<uint8_t> datagram,
                                             uint64_t now_ns) {
  ++stats_.datagrams_received;
  if (closed_) return Error{Errc::invalid_argument, "peer connection is closed"};
  Result<void> result;
  switch (classify(datagram)) {
    case PacketClass::stun:
      ++stats_.stun_received;
      count(metrics_.stun_received);
      if (!ice_) return Error{Errc::invalid_argument, "STUN before ICE started"};
      result = ice_->handle_stun(local, remote, datagram, now_ns);
      break;
    case PacketClass::dtls:
      ++stats_.dtls_received;
      count(metrics_.dtls_received);
      if (!ice_) {
        result = Error{Errc::invalid_argument, "DTLS before ICE started"};
        break;
      }
      // Kept too before our DTLS endpoint exists: an answerer's checks can succeed and its ClientHello arrive
      // before its answer reaches us (signalling is slower than loopback UDP); dropped, it costs a retransmission.
      if (!dtls_ || !ice_->note_received(local, remote, now_ns)) {
        if (early_dtls_.size() < kMaxEarlyDtls)
          early_dtls_.push_back({{local, remote}, std::vector<uint8_t>(datagram.begin(), datagram.end())});
        break;
      }
      dtls_path_ = {{local, remote}};
      result = dtls_->handle_datagram(datagram, now_ns);
      break;
    case PacketClass::rtp_rtcp:
      ++stats_.srtp_received;
      count(metrics_.srtp_received);
      if (!ice_ || !ice_->note_received(local, remote, now_ns)) {
        ++stats_.unknown_received;
        count(metrics_.unknown_received);
        result = Error{Errc::invalid_argument, "media from an address ICE has not validated"};
        break;
      }
      if (!media_ || !media_->keyed()) {
        ++stats_.media_before_keys;
        break;
      }
      if (const Errc e = media_->receive(datagram, now_ns); e != Errc::ok) result = Error{e, "media datagram dropped"};
      break;
    default:
      ++stats_.unknown_received;
      count(metrics_.unknown_received);
      result = Error{Errc::malformed_packet, "not STUN, DTLS or RTP (RFC 7983)"};
      break;
  }
  pump(now_ns);
  return result;
}

void PeerConnection::send_media(std::span<const uint8_t> datagram) {
  platform::SocketAddress local, remote;
  if (!route(local, remote)) {
    ++stats_.unrouted_drops;
    return;
  }
  queue_transmit(local, remote, datagram);
}

bool PeerConnection::route(platform::SocketAddress& local, platform::SocketAddress& remote) const {
  if (ice_) {
    if (auto pair = ice_->selected_pair()) {
      local = pair->local;
      remote = pair->remote;
      return true;
    }
  }
  if (dtls_path_) {
    local = dtls_path_->first;
    remote = dtls_path_->second;
    return true;
  }
  return false;
}

void PeerConnection::queue_transmit(const platform::SocketAddress& local, const platform::SocketAddress& remote,
                                    std::span<const uint8_t> bytes) {
  transmit_offsets_.push_back(transmit_bytes_.size());
  transmit_bytes_.insert(transmit_bytes_.end(), bytes.begin(), bytes.end());
  transmits_.push_back({local, remote, {}});
  ++stats_.datagrams_sent;
  count(metrics_.datagrams_sent);
}

std::span<const PeerTransmit> PeerConnection::transmits() {
  // Spans are made here rather than in queue_transmit: the byte buffer may have grown (moved) since.
  for (size_t i = 0; i < transmits_.size(); ++i) {
    const size_t begin = transmit_offsets_[i];
    const size_t end = i + 1 < transmits_.size() ? transmit_offsets_[i + 1] : transmit_bytes_.size();
    transmits_[i].bytes = std::span<const uint8_t>(transmit_bytes_).subspan(begin, end - begin);
  }
  return transmits_;
}

void PeerConnection::clear_transmits() {
  transmits_.clear();
  transmit_offsets_.clear();
  transmit_bytes_.clear();  // keeps its capacity: steady state does not allocate
}

std::optional<uint64_t> PeerConnection::next_timeout() const {
  std::optional<uint64_t> t;
  auto take = [&t](std::optional<uint64_t> d) {
    if (d && (!t || *d < *t)) t = d;
  };
  if (ice_) take(ice_->next_timeout());
  if (dtls_) take(dtls_->next_timeout());
  if (sctp_) take(sctp_->next_timeout());
  return t;
}

void PeerConnection::handle_timeout(uint64_t now_ns) {
  if (closed_) return;
  if (ice_) ice_->handle_timeout(now_ns);
  if (dtls_) {
    if (auto r = dtls_->handle_timeout(now_ns); !r && dtls_->state() == DtlsState::failed) fail(r.error().message);
  }
  if (sctp_) (void)sctp_->handle_timeout(now_ns);
  pump(now_ns);
}

void PeerConnection::pump(uint64_t now_ns) {
  last_now_ = std::max(last_now_, now_ns);
  pump_ice(now_ns);
  pump_dtls(now_ns);
  pump_sctp(now_ns);
}

void PeerConnection::pump_ice(uint64_t now_ns) {
  if (!ice_) return;
  while (auto t = ice_->poll_transmit()) queue_transmit(t->local, t->remote, t->bytes);
  while (auto e = ice_->poll_event()) {
    switch (e->type) {
      case IceEventType::local_candidate: emit(make_event(PeerEventKind::local_candidate, e->candidate)); break;
      case IceEventType::gathering_complete:
        record(metrics_.gathering, since(created_ns_, now_ns));
        emit(make_event(PeerEventKind::gathering_complete));
        break;
      case IceEventType::state_changed: {
        PeerEvent pe = make_event(PeerEventKind::ice_state);
        pe.ice_state = e->state;
        emit(std::move(pe));
        if (e->state == IceState::failed) fail("ICE failed: no candidate pair works (or consent expired)");
        update_state(now_ns);
        break;
      }
      case IceEventType::selected_pair_changed:
        if (!e->pair) break;
        if (dtls_ && dtls_->state() == DtlsState::idle && dtls_->role() == DtlsRole::client) {
          record(metrics_.ice_checks, since(checks_started_ns_, now_ns));
          dtls_started_ns_ = now_ns;
          if (auto started = dtls_->start(now_ns); !started) fail(started.error().message);
        } else if (dtls_started_ns_ != 0 && checks_started_ns_ != 0 && dtls_->role() == DtlsRole::server) {
          record(metrics_.ice_checks, since(checks_started_ns_, now_ns));
        }
        // DTLS that raced the checks: its 5-tuple may be valid now.
        for (auto& [path, bytes] : std::exchange(early_dtls_, {})) {
          if (dtls_ && ice_->note_received(path.first, path.second, now_ns)) {
            dtls_path_ = path;
            (void)dtls_->handle_datagram(bytes, now_ns);
          }
        }
        break;
      case IceEventType::role_changed: break;
    }
  }
}

void PeerConnection::pump_dtls(uint64_t now_ns) {
  if (!dtls_) return;
  while (auto e = dtls_->poll_event()) {
    PeerEvent pe = make_event(PeerEventKind::dtls_state);
    pe.dtls_state = e->state;
    emit(std::move(pe));
    if (e->state == DtlsState::connected) on_dtls_connected(now_ns);
    if (e->state == DtlsState::failed) {
      const Error* error = dtls_->last_error();
      fail("DTLS failed: " + (error ? error->message : std::string("unknown")));
    }
    update_state(now_ns);
  }
  while (auto record = dtls_->poll_received()) {
    if (sctp_) (void)sctp_->handle_datagram(*record, now_ns);
  }
}

void PeerConnection::DtlsToBatch::on_datagram(std::span<const uint8_t> datagram) {
  platform::SocketAddress local, remote;
  if (peer.route(local, remote)) {
    peer.queue_transmit(local, remote, datagram);
  } else {
    ++peer.stats_.unrouted_drops;
  }
}

// SCTP packets to DTLS records, which go straight into the batch (DtlsToBatch).
void PeerConnection::pump_sctp(uint64_t now_ns) {
  if (!sctp_ || !dtls_ || dtls_->state() != DtlsState::connected) return;
  while (auto packet = sctp_->poll_transmit()) (void)dtls_->send(*packet);
  pump_dtls(now_ns);
}

void PeerConnection::on_dtls_connected(uint64_t now_ns) {
  dtls_was_connected_ = true;
  record(metrics_.dtls_handshake, since(dtls_started_ns_, now_ns));
  if (media_) {
    auto keys = dtls_->srtp_keys();
    if (!keys) {
      if (negotiated_ && !negotiated_->session.media.empty()) emit(make_event(PeerEventKind::error, keys.error().message));
    } else {
      const DtlsSrtpKeys& k = keys.value();
      if (auto set = media_->set_keys(k.profile, k.local.key(), k.local.salt(), k.remote.key(), k.remote.salt());
          !set) {
        emit(make_event(PeerEventKind::error, "keying the media session: " + set.error().message));
      }
    }
  }
  if (sctp_) {
    sctp_started_ns_ = now_ns;
    (void)sctp_->start(now_ns);
  }
}

void PeerConnection::update_state(uint64_t now_ns) {
  PeerState next = state_;
  if (closed_) {
    next = PeerState::closed;
  } else if (failed_) {
    next = PeerState::failed;
  } else if (ice_ && dtls_) {
    // The W3C aggregate: a DTLS transport the remote closed (close_notify) after connecting counts as up, so
    // a peer whose remote side went away stays connected until ICE notices (consent) and then goes
    // disconnected, rather than passing through connecting. One closed during its handshake does not.
    const IceState ice = ice_->state();
    const bool ice_up = ice == IceState::connected || ice == IceState::completed;
    const bool dtls_up = dtls_->state() == DtlsState::connected ||
                         (dtls_->state() == DtlsState::closed && dtls_was_connected_);
    if (ice == IceState::disconnected) {
      next = PeerState::disconnected;
    } else if (ice_up && dtls_up) {
      next = PeerState::connected;
    } else if (state_ != PeerState::new_) {
      next = PeerState::connecting;
    }
  }
  if (next == state_) return;
  if (next == PeerState::connected && created_ns_ != 0 && state_ == PeerState::connecting)
    record(metrics_.connect_total, since(created_ns_, now_ns));
  state_ = next;
  PeerEvent e = make_event(PeerEventKind::connection_state);
  e.state = next;
  emit(std::move(e));
}

void PeerConnection::fail(std::string reason) {
  if (failed_ || closed_) return;
  failed_ = true;
  count(metrics_.connections_failed);
  emit(make_event(PeerEventKind::error, std::move(reason)));
}

void PeerConnection::emit(PeerEvent event) { events_.push_back(std::move(event)); }

std::optional<PeerEvent> PeerConnection::poll_event() {
  if (events_head_ < events_.size()) {
    PeerEvent e = std::move(events_[events_head_++]);
    if (events_head_ == events_.size()) {
      events_.clear();
      events_head_ = 0;
    }
    return e;
  }
  if (!sctp_) return std::nullopt;
  const uint64_t start = metrics_.clock ? metrics_.clock->now_ns() : 0;
  auto e = sctp_->poll_event();
  pump_sctp(last_now_);  // reading may have queued SCTP packets (acknowledgements, DCEP ACK, resets)
  if (!e) return std::nullopt;
  PeerEvent pe = make_event(PeerEventKind::data_channel);
  pe.channel_event = *e;
  switch (e->kind) {
    case DataChannelEventKind::connected:
      record(metrics_.sctp_association, since(sctp_started_ns_, last_now_));
      break;
    case DataChannelEventKind::channel_open: {
      auto it = channel_keys_.find(e->id);
      if (it == channel_keys_.end()) {  // opened by the peer
        const uint32_t key = next_channel_key_++;
        Channel channel;
        if (e->channel) {
          channel.init.label = e->channel->label;
          channel.init.protocol = e->channel->protocol;
          channel.init.ordered = e->channel->ordered;
        }
        channel.id = e->id;
        channels_.emplace(key, std::move(channel));
        it = channel_keys_.emplace(e->id, key).first;
      } else if (const Channel* c = find_channel(it->second)) {
        record(metrics_.channel_open, since(c->created_ns, last_now_));
      }
      pe.channel = it->second;
      break;
    }
    case DataChannelEventKind::message: {
      auto it = channel_keys_.find(e->id);
      pe.channel = it == channel_keys_.end() ? 0 : it->second;
      count(metrics_.dc_messages_received);
      count(metrics_.dc_bytes_received, e->payload.size());
      if (metrics_.clock) record(metrics_.dc_receive, since(start, metrics_.clock->now_ns()));
      break;
    }
    case DataChannelEventKind::buffered_amount_low:
    case DataChannelEventKind::error: {
      auto it = channel_keys_.find(e->id);
      pe.channel = it == channel_keys_.end() ? 0 : it->second;
      break;
    }
    case DataChannelEventKind::channel_closed: {
      auto it = channel_keys_.find(e->id);
      if (it != channel_keys_.end()) {
        pe.channel = it->second;
        channels_.erase(it->second);
        channel_keys_.erase(it);
      }
      break;
    }
    case DataChannelEventKind::closed: break;
  }
  return pe;
}

void PeerConnection::close(uint64_t now_ns) {
  if (closed_) return;
  if (sctp_) sctp_->close();
  pump_sctp(now_ns);
  if (dtls_) dtls_->close();
  pump_dtls(now_ns);
  if (ice_) ice_->close();
  closed_ = true;
  update_state(now_ns);
}

IceState PeerConnection::ice_state() const { return ice_ ? ice_->state() : IceState::new_; }
DtlsState PeerConnection::dtls_state() const { return dtls_ ? dtls_->state() : DtlsState::idle; }
std::optional<IceCandidatePairInfo> PeerConnection::selected_pair() const {
  return ice_ ? ice_->selected_pair() : std::nullopt;
}
const IceStats* PeerConnection::ice_stats() const { return ice_ ? &ice_->stats() : nullptr; }
const DtlsStats* PeerConnection::dtls_stats() const { return dtls_ ? &dtls_->stats() : nullptr; }
std::optional<DataChannelStats> PeerConnection::sctp_stats() const {
  return sctp_ ? std::optional(sctp_->stats()) : std::nullopt;
}

}  // namespace tandem::transport
