// The objects behind the API's PEER_CONNECTION and DATA_CHANNEL handles (proto/peer.proto), and the requests
// that drive them. Same rules as MediaHub (media_hub.h): objects live on the runtime, Core hops there before
// handle(); the hub owns them and a dropped handle posts their teardown.
//
// Each peer gets a MEDIA_SESSION (created through the MediaHub, unkeyed) whose datagrams the peer carries and
// which DTLS-SRTP keys once the handshake is done; sources and streams are created on it as on any session.
//
// Datagrams: with platform sockets (natively) the hub opens one UDP socket per local address and hands the
// peer's output to DatagramTransport::send in batches per socket; otherwise the output becomes PEER_DATAGRAMS
// events and the application delivers what it receives with deliver_peer_datagrams.
//
// Output and events are flushed once per runtime task (like media batches): after a request, a timer or a
// batch of received datagrams the hub drains the peer: transmits, then events (PEER_EVENT, DATA_CHANNEL_STATE,
// DATA_CHANNEL_MESSAGE, the last hand-encoded straight into the bus's buffer).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/common/error.h"
#include "core/handle/handle_table.h"
#include "core/transport/peer/transport_metrics.h"

namespace tandem::api {
class FfiRequest;
class FfiResponse;
}  // namespace tandem::api

namespace tandem::transport {
class DtlsCertificate;
}

namespace tandem::ffi {

class Core;
class MediaHub;
class PeerObject;
class DataChannelObject;

class PeerHub {
 public:
  PeerHub(Core& core, MediaHub& media);
  ~PeerHub();
  PeerHub(const PeerHub&) = delete;
  PeerHub& operator=(const PeerHub&) = delete;

  // True for the FfiRequest oneof cases handle() serves.
  static bool serves(int request_case);
  // Runtime only.
  Result<void> handle(const api::FfiRequest& req, api::FfiResponse& resp);
  // Runtime only. Idempotent.
  void close();

  // For the objects.
  Core& core() { return core_; }
  MediaHub& media() { return media_; }
  void request_flush(PeerObject& peer);  // drain the peer at the end of this runtime task
  void flush(PeerObject& peer);          // drain it now: datagrams, events, timer
  void on_handle_dropped(PeerObject* peer);
  void on_handle_dropped(DataChannelObject* channel);

 private:
  template <class T>
  Result<T*> lookup(uint64_t handle, HandleType type);
  void post(std::function<void()> task);
  void schedule(PeerObject& peer);
  void send_transmits(PeerObject& peer);
  void publish_events(PeerObject& peer);
  void release(PeerObject* peer);
  void release(DataChannelObject* channel);
  Result<Handle> adopt_channel(PeerObject& peer, uint32_t key);

  Result<void> create_peer(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> describe(const api::FfiRequest& req, api::FfiResponse& resp, bool offer);
  Result<void> set_remote_description(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> add_ice_candidate(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> add_track(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> create_data_channel(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> send_data(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> set_low_threshold(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> close_data_channel(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> close_peer(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> deliver(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> get_stats(const api::FfiRequest& req, api::FfiResponse& resp);

  Core& core_;
  MediaHub& media_;
  std::optional<transport::TransportMetrics> metrics_;
  std::shared_ptr<const transport::DtlsCertificate> certificate_;  // generated once, shared by this core's peers
  std::vector<std::unique_ptr<PeerObject>> peers_;
  std::vector<std::unique_ptr<DataChannelObject>> channels_;
  std::atomic<bool> closed_{false};
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace tandem::ffi
