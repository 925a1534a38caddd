// A WebRTC peer connection, sans-IO: ICE, DTLS-SRTP and SCTP data channels on one 5-tuple (RFC 7983
// demultiplexing, BUNDLE, rtcp-mux), negotiated by SDP offer/answer (JSEP).
//
//   add_local_address(base)           a socket the caller has bound: a host candidate
//   create_offer() / create_answer()  our description (applied as the local description at once)
//   set_remote_description(type, sdp), add_remote_candidate(line)
//   handle_datagram(local, remote, bytes, now)   one received datagram, whatever protocol it carries
//   transmits() / clear_transmits()   the datagrams to send: from which local address, to which remote one
//   poll_event()                      candidates to signal, states, remote tracks, data channel traffic
//   next_timeout() / handle_timeout(now)
//   create_data_channel / send / close_data_channel, add_track, close
//
// How the layers join: STUN goes to the IceAgent; DTLS records, once ICE has a valid pair for their 5-tuple,
// to the DtlsEndpoint (server role: started when the description is negotiated; client role: when ICE
// selects a pair); the DTLS application records to the DataChannelTransport (SCTP starts once DTLS is
// connected); SRTP/SRTCP to the attached MediaSession, which the DTLS-SRTP keys key. Everything we send
// leaves on ICE's selected pair (before ICE selects one, a DTLS server answers where the ClientHello came
// from).
//
// Output is collected in one batch (transmits()) so that a caller can hand it to sendmmsg in one go: the
// bytes are copied once from the protocol objects, whose views live only until their next call.
//
// Not thread-safe: a peer belongs to the runtime thread that drives it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/common/error.h"
#include "core/media/pipeline/media_session.h"
#include "core/transport/dtls/certificate.h"
#include "core/transport/ice/ice_agent.h"
#include "core/transport/peer/transport_metrics.h"
#include "core/transport/sctp/data_channel_transport.h"
#include "tandem/platform/net.h"

namespace tandem::transport {

struct PeerConnectionConfig {
  EntropySource entropy;                              // required: ICE credentials, transaction ids, DTLS
  std::shared_ptr<const DtlsCertificate> certificate;  // required: our DTLS identity (one per peer is fine)
  uint32_t ice_pacing_ms = 50;                         // Ta
  // DTLS retransmission starts here (RFC 6347 says 1 s; on a path ICE has just measured, less is safe).
  uint32_t dtls_timeout_min_ms = 400;
  std::string cname = "tandem";  // the a=ssrc cname of our tracks
  // Offer sections to receive media even without a local track (W3C offerToReceiveAudio/Video).
  bool offer_to_receive_audio = false;
  bool offer_to_receive_video = false;
  DataChannelTransportOptions sctp;  // ports, tuning; dtls_client and the remote values are negotiated
};

enum class PeerState : uint8_t { new_, connecting, connected, disconnected, failed, closed };
std::string_view to_string(PeerState state);

enum class SdpKind : uint8_t { offer, answer };

struct LocalMediaTrack {
  media::MediaKind kind = media::MediaKind::audio;
  uint32_t ssrc = 0;
  uint8_t payload_type = 0;  // what the source sends: it must be the negotiated one for its codec
  std::string codec;         // "opus", "PCMU", "VP8"
  std::string stream_id = "tandem";
  std::string track_id;
};

struct RemoteMediaTrack {
  std::string mid;
  media::MediaKind kind = media::MediaKind::audio;
  uint32_t ssrc = 0;
  uint8_t payload_type = 0;
  std::string codec;
  std::string stream_id;
  std::string track_id;
};

enum class PeerEventKind : uint8_t {
  local_candidate,     // `text`: "candidate:..." to signal
  gathering_complete,  // signal end-of-candidates
  ice_state,           // `ice_state`
  dtls_state,          // `dtls_state`
  connection_state,    // `state`
  remote_track,        // `track`
  data_channel,        // `channel_event`: open, message, buffered_amount_low, closed (see DataChannelEvent)
  error,               // `text`: why the connection failed or a negotiated track cannot be sent
};

struct PeerEvent {
  PeerEventKind kind = PeerEventKind::error;
  std::string text;
  IceState ice_state = IceState::new_;
  DtlsState dtls_state = DtlsState::idle;
  PeerState state = PeerState::new_;
  std::optional<RemoteMediaTrack> track;
  // data_channel: the channel's key (see create_data_channel; the peer's own channels get keys there, the
  // remote side's on their channel_open) and the event, whose views are valid until the next poll_event().
  uint32_t channel = 0;
  DataChannelEvent channel_event;
};

struct PeerTransmit {
  platform::SocketAddress local;
  platform::SocketAddress remote;
  std::span<const uint8_t> bytes;  // valid until clear_transmits()
};

struct PeerStats {
  uint64_t datagrams_received = 0;
  uint64_t datagrams_sent = 0;
  uint64_t stun_received = 0, dtls_received = 0, srtp_received = 0;
  uint64_t unknown_received = 0;   // not STUN, DTLS or RTP/RTCP (RFC 7983), or not from a valid pair
  uint64_t unrouted_drops = 0;     // wanted to send before any pair was known
  uint64_t media_before_keys = 0;  // SRTP received before DTLS finished
};

class PeerConnection {
 public:
  // Errc::invalid_argument for a missing entropy source or certificate.
  static Result<std::unique_ptr<PeerConnection>> create(PeerConnectionConfig config, TransportMetrics metrics);
  ~PeerConnection();
  PeerConnection(const PeerConnection&) = delete;
  PeerConnection& operator=(const PeerConnection&) = delete;

  // --- signalling
  Result<void> add_local_address(const platform::SocketAddress& base, uint64_t now_ns);
  void set_local_gathering_complete();
  // A section for the track in the next description. Errc::invalid_argument for a second track of a kind
  // (one audio and one video section are supported) or a codec we do not negotiate.
  Result<void> add_track(const LocalMediaTrack& track);
  Result<std::string> create_offer(uint64_t now_ns);
  Result<std::string> create_answer(uint64_t now_ns);
  // Errc::malformed_packet for SDP that does not parse, Errc::protocol_error for one that cannot be
  // negotiated, Errc::invalid_argument for the wrong type in this state (e.g. an answer without an offer).
  Result<void> set_remote_description(SdpKind kind, std::string_view sdp, uint64_t now_ns);
  // A trickled "candidate:..." line (empty: end of candidates). Before the remote description it is kept.
  Result<void> add_remote_candidate(std::string_view candidate, uint64_t now_ns);

  // --- media: a session the caller owns; the peer keys it and carries its datagrams
  void attach_media(media::MediaSession* session) { media_ = session; }
  // One protected SRTP/SRTCP datagram from the attached session, sent on the selected pair.
  void send_media(std::span<const uint8_t> datagram);

  // --- data channels. A channel is named by a key the peer assigns (never reused by this peer), because a
  // channel created before the answer has no SCTP stream id yet: the id's parity follows the DTLS role.
  Result<uint32_t> create_data_channel(const DataChannelInit& init, uint64_t now_ns);
  Result<void> send_data(uint32_t channel, std::span<const uint8_t> payload, bool binary, uint64_t now_ns);
  Result<void> close_data_channel(uint32_t channel, uint64_t now_ns);
  Result<void> set_buffered_amount_low_threshold(uint32_t channel, uint64_t bytes);
  uint64_t buffered_amount(uint32_t channel) const;
  std::optional<uint16_t> stream_id(uint32_t channel) const;

  // --- I/O
  // One datagram received on `local` (one of our bases) from `remote`. Writable: SRTP is unprotected in place.
  Result<void> handle_datagram(const platform::SocketAddress& local, const platform::SocketAddress& remote,
                               std::span<uint8_t> datagram, uint64_t now_ns);
  // The batch since clear_transmits(); valid until the next non-const call.
  std::span<const PeerTransmit> transmits();
  void clear_transmits();
  std::optional<PeerEvent> poll_event();
  std::optional<uint64_t> next_timeout() const;
  void handle_timeout(uint64_t now_ns);

  void close(uint64_t now_ns);

  PeerState state() const { return state_; }
  IceState ice_state() const;
  DtlsState dtls_state() const;
  std::optional<IceCandidatePairInfo> selected_pair() const;
  const DtlsCertificate& certificate() const { return *config_.certificate; }
  const PeerStats& stats() const { return stats_; }
  const IceStats* ice_stats() const;
  const DtlsStats* dtls_stats() const;
  std::optional<DataChannelStats> sctp_stats() const;

 private:
  struct Negotiated;
  explicit PeerConnection(PeerConnectionConfig config, TransportMetrics metrics);

  Result<void> ensure_ice(IceRole role);
  Result<std::string> describe(bool offer, uint64_t now_ns);
  Result<void> apply_negotiation(uint64_t now_ns);
  void pump(uint64_t now_ns);
  void pump_ice(uint64_t now_ns);
  void pump_dtls(uint64_t now_ns);
  void pump_sctp(uint64_t now_ns);
  void on_dtls_connected(uint64_t now_ns);
  void update_state(uint64_t now_ns);
  void fail(std::string reason);
  void emit(PeerEvent event);
  void queue_transmit(const platform::SocketAddress& local, const platform::SocketAddress& remote,
                      std::span<const uint8_t> bytes);
  bool route(platform::SocketAddress& local, platform::SocketAddress& remote) const;

  PeerConnectionConfig config_;
  TransportMetrics metrics_;
  std::string ice_ufrag_, ice_pwd_;
  uint64_t session_id_ = 0;
  uint64_t session_version_ = 1;

  std::vector<platform::SocketAddress> local_addresses_;
  bool local_gathering_complete_ = false;
  std::vector<LocalMediaTrack> tracks_;
  std::optional<IceAgent> ice_;
  // DTLS writes its datagrams straight into the send batch (routed like any other; unrouted ones dropped).
  // Declared before dtls_ so that it outlives the endpoint, as a sink must.
  struct DtlsToBatch final : DtlsDatagramSink {
    explicit DtlsToBatch(PeerConnection& p) : peer(p) {}
    void on_datagram(std::span<const uint8_t> datagram) override;
    PeerConnection& peer;
  };
  DtlsToBatch dtls_to_batch_{*this};
  std::optional<DtlsEndpoint> dtls_;
  std::optional<DataChannelTransport> sctp_;
  struct Channel {
    DataChannelInit init;
    std::optional<uint16_t> id;  // SCTP stream id, once the transport exists
    uint64_t created_ns = 0;
  };
  std::unordered_map<uint32_t, Channel> channels_;      // by key
  std::unordered_map<uint16_t, uint32_t> channel_keys_;  // stream id -> key
  uint32_t next_channel_key_ = 1;
  Result<void> open_pending_channels();
  Channel* find_channel(uint32_t key);
  const Channel* find_channel(uint32_t key) const;
  // DTLS datagrams that arrived before ICE validated their 5-tuple (a ClientHello racing our triggered
  // check): replayed when ICE selects a pair.
  std::vector<std::pair<std::pair<platform::SocketAddress, platform::SocketAddress>, std::vector<uint8_t>>>
      early_dtls_;
  std::unique_ptr<Negotiated> negotiated_;
  media::MediaSession* media_ = nullptr;

  std::string local_sdp_kind_;  // "offer"/"answer" once a local description exists
  std::string local_sdp_, remote_sdp_;
  bool have_remote_offer_ = false;
  std::vector<std::string> early_candidates_;  // trickled before the remote description
  bool remote_end_of_candidates_ = false;
  // The 5-tuple DTLS last heard from, used until ICE selects a pair (a server answering a ClientHello).
  std::optional<std::pair<platform::SocketAddress, platform::SocketAddress>> dtls_path_;

  PeerState state_ = PeerState::new_;
  bool closed_ = false;
  bool failed_ = false;
  uint64_t created_ns_ = 0;
  uint64_t last_now_ = 0;  // the latest time passed in (poll_event has none of its own)
  uint64_t checks_started_ns_ = 0, dtls_started_ns_ = 0, sctp_started_ns_ = 0;
  bool dtls_was_connected_ = false;  // a DTLS close after this still counts as up (W3C aggregate state)

  std::vector<PeerEvent> events_;  // FIFO of owned events (candidates, states, tracks)
  size_t events_head_ = 0;

  std::vector<PeerTransmit> transmits_;
  std::vector<uint8_t> transmit_bytes_;  // the batch's bytes back to back; transmits_ index into it
  std::vector<size_t> transmit_offsets_;
  PeerStats stats_;
};

}  // namespace tandem::transport
