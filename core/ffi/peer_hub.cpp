#include "core/ffi/peer_hub.h"

#include <algorithm>

#include "core/ffi/core.h"
#include "core/ffi/media_hub.h"
#include "core/ffi/peer_objects.h"
#include "core/ffi/wire.h"
#include "core/transport/net/address_text.h"
#include "proto/tandem.pb.h"

namespace tandem::ffi {
namespace {

api::IceConnectionState to_api(transport::IceState s) {
  switch (s) {
    case transport::IceState::new_: return api::ICE_NEW;
    case transport::IceState::checking: return api::ICE_CHECKING;
    case transport::IceState::connected: return api::ICE_CONNECTED;
    case transport::IceState::completed: return api::ICE_COMPLETED;
    case transport::IceState::failed: return api::ICE_FAILED;
    case transport::IceState::disconnected: return api::ICE_DISCONNECTED;
    case transport::IceState::closed: return api::ICE_CLOSED;
  }
  return api::ICE_NEW;
}

api::DtlsTransportState to_api(transport::DtlsState s) {
  switch (s) {
    case transport::DtlsState::idle: return api::DTLS_NEW;
    case transport::DtlsState::connecting: return api::DTLS_CONNECTING;
    case transport::DtlsState::connected: return api::DTLS_CONNECTED;
    case transport::DtlsState::closed: return api::DTLS_CLOSED;
    case transport::DtlsState::failed: return api::DTLS_FAILED;
  }
  return api::DTLS_NEW;
}

api::PeerConnectionState to_api(transport::PeerState s) {
  switch (s) {
    case transport::PeerState::new_: return api::PEER_NEW;
    case transport::PeerState::connecting: return api::PEER_CONNECTING;
    case transport::PeerState::connected: return api::PEER_CONNECTED;
    case transport::PeerState::disconnected: return api::PEER_DISCONNECTED;
    case transport::PeerState::failed: return api::PEER_FAILED;
    case transport::PeerState::closed: return api::PEER_CLOSED;
  }
  return api::PEER_NEW;
}

}  // namespace

// ---- objects ------------------------------------------------------------------------------------------------

void PeerObject::on_datagrams(platform::SocketId socket, std::span<const platform::ReceivedDatagram> datagrams) {
  if (torn_down) return;
  const Socket* local = nullptr;
  for (const Socket& s : sockets) {
    if (s.id == socket) local = &s;
  }
  if (!local) return;
  const uint64_t now = hub.core().platform().clock.now_ns();
  for (const auto& d : datagrams) {
    // The receive buffer is the platform's and SRTP unprotects in place: the buffer is ours during the callback.
    auto* bytes = const_cast<uint8_t*>(d.bytes.data());
    (void)peer->handle_datagram(local->bound, d.from, std::span<uint8_t>(bytes, d.bytes.size()), now);
  }
  hub.flush(*this);
}

void PeerObject::send_datagram(std::span<const uint8_t> datagram) {
  if (torn_down) return;
  peer->send_media(datagram);
  hub.request_flush(*this);
}

void PeerObject::teardown() {
  if (torn_down) return;
  torn_down = true;
  *live = false;
  auto& platform = hub.core().platform();
  if (timer != 0) platform.runner.cancel(timer);
  if (peer) peer->close(platform.clock.now_ns());
  for (const Socket& s : sockets) platform.net->close(s.id);
  sockets.clear();
  if (session) {
    session->route = nullptr;
    hub.media().detach_user(*session);
    session = nullptr;
  }
  peer.reset();
}

// ---- hub ----------------------------------------------------------------------------------------------------

PeerHub::PeerHub(Core& core, MediaHub& media) : core_(core), media_(media) {}

PeerHub::~PeerHub() { close(); }

bool PeerHub::serves(int c) { return c >= api::FfiRequest::kCreatePeer && c <= api::FfiRequest::kGetPeerStats; }

void PeerHub::post(std::function<void()> task) {
  core_.platform().runner.post([alive = alive_, task = std::move(task)] {
    if (alive->load()) task();
  });
}

void PeerHub::close() {
  if (closed_.exchange(true)) return;
  alive_->store(false);
  for (auto& p : peers_) p->teardown();
  for (auto& c : channels_) c->peer = nullptr;
}

void PeerHub::on_handle_dropped(PeerObject* peer) {
  if (closed_.load()) return;
  post([this, peer] { release(peer); });
}

void PeerHub::on_handle_dropped(DataChannelObject* channel) {
  if (closed_.load()) return;
  post([this, channel] { release(channel); });
}

void PeerHub::release(PeerObject* peer) {
  if (closed_.load()) return;
  peer->teardown();
  for (auto& c : channels_) {
    if (c->peer == peer) c->peer = nullptr;
  }
  std::erase_if(peers_, [&](const auto& p) { return p.get() == peer; });
}

void PeerHub::release(DataChannelObject* channel) {
  if (closed_.load()) return;
  if (channel->peer && !channel->peer->torn_down) {
    PeerObject& peer = *channel->peer;
    if (!channel->closed) (void)peer.peer->close_data_channel(channel->key, core_.platform().clock.now_ns());
    peer.channel_handles.erase(channel->key);
    request_flush(peer);
  }
  std::erase_if(channels_, [&](const auto& c) { return c.get() == channel; });
}

Result<Handle> PeerHub::adopt_channel(PeerObject& peer, uint32_t key) {
  auto object = std::make_unique<DataChannelObject>(peer, key);
  DataChannelObject* raw = object.get();
  auto handle = core_.handles().store(HandleType::data_channel, raw, [](void* p) {
    auto* c = static_cast<DataChannelObject*>(p);
    if (c->peer) c->peer->hub.on_handle_dropped(c);
  });
  if (!handle) return handle.error();
  raw->handle = handle.value();
  peer.channel_handles[key] = handle.value();
  channels_.push_back(std::move(object));
  return handle;
}

// ---- output -------------------------------------------------------------------------------------------------

void PeerHub::request_flush(PeerObject& peer) {
  if (peer.flush_posted) return;
  peer.flush_posted = true;
  post([this, &peer, live = peer.live] {
    if (!*live) return;
    peer.flush_posted = false;
    flush(peer);
  });
}

void PeerHub::flush(PeerObject& peer) {
  if (peer.torn_down) return;
  // Events first: reading received messages may queue SCTP acknowledgements, which the transmits then carry.
  publish_events(peer);
  send_transmits(peer);
  schedule(peer);
}

void PeerHub::send_transmits(PeerObject& p) {
  auto transmits = p.peer->transmits();
  if (transmits.empty()) return;
  if (p.platform_sockets) {
    // One sendmmsg batch per local socket (usually there is one: the selected pair's).
    for (const auto& socket : p.sockets) {
      p.send_scratch.clear();
      for (const auto& t : transmits) {
        if (t.local == socket.bound) p.send_scratch.push_back({t.remote, t.bytes});
      }
      if (!p.send_scratch.empty()) core_.platform().net->send(socket.id, p.send_scratch);
    }
  } else {
    core_.bus().publish(events::EventKind::peer_datagrams, p.handle, [&](std::string& out) {
      api::FfiEvent ev;
      ev.set_key(p.handle);
      auto* e = ev.mutable_peer_datagrams();
      e->set_peer(p.handle);
      for (const auto& t : transmits) {
        auto* d = e->add_datagrams();
        d->set_local(transport::to_string(t.local));
        d->set_remote(transport::to_string(t.remote));
        d->set_data(t.bytes.data(), t.bytes.size());
      }
      ev.SerializeToString(&out);
    });
  }
  p.peer->clear_transmits();
}

void PeerHub::publish_events(PeerObject& p) {
  while (auto e = p.peer->poll_event()) {
    using K = transport::PeerEventKind;
    if (e->kind == K::data_channel) {
      using D = transport::DataChannelEventKind;
      const auto& ce = e->channel_event;
      if (ce.kind == D::connected || ce.kind == D::closed) continue;  // the peer's states say it
      if (ce.kind == D::channel_open && !p.channel_handles.contains(e->channel)) {
        // Opened by the remote side: a new handle, announced on the peer.
        auto handle = adopt_channel(p, e->channel);
        if (!handle) continue;
        core_.bus().publish(events::EventKind::peer_event, p.handle, [&](std::string& out) {
          api::FfiEvent ev;
          ev.set_key(p.handle);
          auto* pe = ev.mutable_peer_event();
          pe->set_peer(p.handle);
          auto* dc = pe->mutable_data_channel();
          dc->set_channel(handle.value());
          dc->set_id(ce.id);
          if (const auto* info = ce.channel) {
            dc->set_label(info->label);
            dc->set_protocol(info->protocol);
            dc->set_unordered(!info->ordered);
            dc->set_has_max_retransmits(info->max_retransmits.has_value());
            dc->set_max_retransmits(info->max_retransmits.value_or(0));
            dc->set_has_max_packet_lifetime(info->max_packet_lifetime_ms.has_value());
            dc->set_max_packet_lifetime_ms(info->max_packet_lifetime_ms.value_or(0));
            dc->set_negotiated(info->negotiated);
          }
          ev.SerializeToString(&out);
        });
      }
      auto it = p.channel_handles.find(e->channel);
      if (it == p.channel_handles.end()) continue;
      const Handle channel = it->second;
      if (ce.kind == D::message) {
        // DataChannelMessageEvent by hand, straight into the bus buffer: 1 channel, 2 data, 3 binary.
        const size_t size = wire::uint_field_size(1, channel) + wire::bytes_field_size(2, ce.payload.size()) +
                            wire::uint_field_size(3, ce.binary ? 1 : 0);
        core_.bus().publish(events::EventKind::data_channel_message, channel, [&](std::string& out) {
          out.clear();
          wire::put_uint_field(out, 1, channel);  // FfiEvent.key
          wire::put_length_header(out, static_cast<uint32_t>(events::EventKind::data_channel_message), size);
          wire::put_uint_field(out, 1, channel);
          wire::put_bytes_field(out, 2, ce.payload);
          wire::put_uint_field(out, 3, ce.binary ? 1 : 0);
        });
        continue;
      }
      api::DataChannelState state = api::DATA_CHANNEL_STATE_UNSPECIFIED;
      if (ce.kind == D::channel_open) state = api::CHANNEL_OPEN;
      if (ce.kind == D::buffered_amount_low) state = api::BUFFERED_AMOUNT_LOW;
      if (ce.kind == D::channel_closed) state = api::CHANNEL_CLOSED;
      if (state == api::DATA_CHANNEL_STATE_UNSPECIFIED) continue;  // DCEP errors: counted in stats
      for (auto& c : channels_) {
        if (c->handle == channel && state == api::CHANNEL_CLOSED) c->closed = true;
      }
      const uint64_t buffered = p.peer->buffered_amount(e->channel);
      core_.bus().publish(events::EventKind::data_channel_state, channel, [&](std::string& out) {
        api::FfiEvent ev;
        ev.set_key(channel);
        auto* s = ev.mutable_data_channel_state();
        s->set_channel(channel);
        s->set_state(state);
        s->set_buffered_amount(buffered);
        if (state == api::CHANNEL_OPEN) {
          if (const auto id = p.peer->stream_id(e->channel)) s->set_id(*id);
        }
        ev.SerializeToString(&out);
      });
      continue;
    }
    core_.bus().publish(events::EventKind::peer_event, p.handle, [&](std::string& out) {
      api::FfiEvent ev;
      ev.set_key(p.handle);
      auto* pe = ev.mutable_peer_event();
      pe->set_peer(p.handle);
      switch (e->kind) {
        case K::local_candidate: pe->set_local_candidate(e->text); break;
        case K::gathering_complete: pe->set_gathering_complete(true); break;
        case K::ice_state: pe->set_ice_state(to_api(e->ice_state)); break;
        case K::dtls_state: pe->set_dtls_state(to_api(e->dtls_state)); break;
        case K::connection_state: pe->set_connection_state(to_api(e->state)); break;
        case K::remote_track: {
          auto* t = pe->mutable_remote_track();
          t->set_mid(e->track->mid);
          t->set_kind(e->track->kind == media::MediaKind::audio ? "audio" : "video");
          t->set_ssrc(e->track->ssrc);
          t->set_payload_type(e->track->payload_type);
          t->set_codec(e->track->codec);
          t->set_stream_id(e->track->stream_id);
          t->set_track_id(e->track->track_id);
          break;
        }
        case K::error: pe->set_error(e->text); break;
        case K::data_channel: break;
      }
      ev.SerializeToString(&out);
    });
  }
}

void PeerHub::schedule(PeerObject& p) {
  if (p.torn_down) return;
  auto& runner = core_.platform().runner;
  const std::optional<uint64_t> t = p.peer->next_timeout();
  if (!t) {
    if (p.timer != 0) runner.cancel(p.timer);
    p.timer = 0;
    return;
  }
  if (p.timer != 0 && p.timer_deadline <= *t) return;  // armed early enough; the timer re-arms
  if (p.timer != 0) runner.cancel(p.timer);
  const uint64_t now = core_.platform().clock.now_ns();
  p.timer_deadline = *t;
  p.timer = runner.post_delayed(*t > now ? *t - now : 0, [alive = alive_, this, &p, live = p.live] {
    if (!alive->load() || !*live) return;
    p.timer = 0;
    const uint64_t now = core_.platform().clock.now_ns();
    if (auto due = p.peer->next_timeout(); due && *due <= now) p.peer->handle_timeout(now);
    flush(p);
  });
}

}  // namespace tandem::ffi
