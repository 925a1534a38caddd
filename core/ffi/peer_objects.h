// What PeerHub keeps behind PEER_CONNECTION and DATA_CHANNEL handles.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/ffi/media_objects.h"
#include "core/ffi/peer_hub.h"
#include "core/transport/peer/peer_connection.h"
#include "tandem/platform/datagram.h"

namespace tandem::ffi {

class PeerObject final : public platform::DatagramReceiver, public media::DatagramSink {
 public:
  explicit PeerObject(PeerHub& hub) : hub(hub) {}

  // Platform sockets: what arrived on one of ours.
  void on_datagrams(platform::SocketId socket, std::span<const platform::ReceivedDatagram> datagrams) override;
  // The media session's protected datagrams: out on the selected pair.
  void send_datagram(std::span<const uint8_t> datagram) override;
  // Closes sockets, detaches the media session and frees the connection (runtime only). Idempotent.
  void teardown();

  struct Socket {
    platform::SocketId id = 0;
    platform::SocketAddress bound;
  };

  PeerHub& hub;
  Handle handle = 0;
  std::unique_ptr<transport::PeerConnection> peer;
  SessionObject* session = nullptr;  // its MEDIA_SESSION; we count as one of its users
  bool platform_sockets = false;
  std::vector<Socket> sockets;
  std::unordered_map<uint32_t, Handle> channel_handles;  // channel key -> DATA_CHANNEL handle
  std::vector<platform::OutgoingDatagram> send_scratch;
  bool flush_posted = false;
  platform::TimerId timer = 0;
  uint64_t timer_deadline = 0;
  bool torn_down = false;
  // Tasks and timers posted for this peer check it: the object may be freed before they run.
  std::shared_ptr<bool> live = std::make_shared<bool>(true);
};

class DataChannelObject {
 public:
  DataChannelObject(PeerObject& peer, uint32_t key) : peer(&peer), key(key) {}
  PeerObject* peer;  // null once the peer is gone
  uint32_t key;
  Handle handle = 0;
  bool closed = false;  // CHANNEL_CLOSED was reported; sends fail
};

}  // namespace tandem::ffi
