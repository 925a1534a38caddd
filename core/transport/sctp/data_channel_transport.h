// WebRTC data channels (RFC 8831) over one SCTP association, sans-IO.
//
// A DataChannelTransport owns one SctpEndpoint and adds the channel layer on top: DCEP (RFC 8832) to open
// channels in-band, negotiated channels (no DCEP), stream ids by DTLS role, WebRTC's PPIDs (string, binary
// and their empty forms), per-channel send queues with bufferedAmount, and closing by SCTP stream reset.
//
//   create(options)              one per PeerConnection (one SCTP association over its DTLS transport)
//   start(now)                   when DTLS is connected: both sides start the association at once
//   handle_datagram(bytes, now)  one SCTP packet DTLS decrypted
//   poll_event()                 connected/closed, channel_open, message, buffered_amount_low, channel_closed,
//                                error; drain it after every call, then:
//   poll_transmit()              the next SCTP packet for DTLS to encrypt, until it returns nothing
//   next_timeout(), handle_timeout(now)
//
// Receiving is lazy: SCTP messages are read from usrsctp and handled (DCEP answered, channels opened and
// closed) inside poll_event(), so a caller that stops polling stops reading, and SCTP's receive window then
// throttles the peer. poll_event() may therefore queue packets (a DATA_CHANNEL_ACK, a window update, a stream
// reset): poll events before packets.
//
// bufferedAmount (what we chose): the bytes of user messages send() accepted that usrsctp has not yet taken
// into its send buffer, i.e. our own per-channel queue. That is libwebrtc's definition in its usrsctp years
// (and libdatachannel's): usrsctp does not say, per stream, how much of its buffer is still unsent or
// unacknowledged, so those bytes cannot be attributed to a channel. In practice the first
// SctpTuning::send_buffer_bytes (1 MiB by default, shared by all channels) go straight to usrsctp and do not
// show; everything beyond waits in the channel's queue, counts, and moves to usrsctp as acknowledgements free
// its buffer (in handle_datagram and handle_timeout), round-robin over channels. Reliable data is never
// dropped; a partially reliable message whose max_packet_lifetime passes while still in our queue is dropped
// there (counted in stats().messages_expired_in_queue). The buffered_amount_low event fires when the amount
// falls from above the channel's threshold to at or below it (W3C RTCDataChannel semantics).
//
// Allocation: after warm-up, sending (direct or queued) and receiving a message allocate nothing in this layer
// (queues, event rings and the receive buffer reuse their capacity). usrsctp itself allocates internally per
// message (mbufs and chunk records in usrsctp_sendv, their release on acknowledgement); see the tests for
// the measured counts. Opening and closing channels allocate (labels, records).
//
// One transport is used by one thread at a time (its core's runtime).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/transport/sctp/sctp_stack.h"

namespace tandem::transport {

struct DataChannelTransportOptions {
  // Our DTLS role decides the parity of the stream ids we pick (RFC 8832 section 6): client even, server odd.
  bool dtls_client = true;
  uint16_t remote_port = 5000;  // the peer's a=sctp-port
  // The peer's a=max-message-size (RFC 8841); 0: not known, only our own limit (sctp.max_message_size)
  // applies. Messages larger than either are refused by send() with Errc::invalid_argument.
  uint32_t remote_max_message_size = 0;
  SctpOptions sctp;  // local port, MTU, streams, our max message size (256 KiB), throughput tuning
};

struct DataChannelInit {
  std::string label;
  std::string protocol;
  bool ordered = true;
  // At most one of the two (Errc::invalid_argument otherwise); neither: reliable.
  std::optional<uint32_t> max_retransmits;
  std::optional<uint32_t> max_packet_lifetime_ms;
  // Set: a channel both applications create with this id, without DCEP (W3C `negotiated: true`).
  std::optional<uint16_t> negotiated_id;
  uint16_t priority = 256;  // DCEP priority (RFC 8831 section 6.4)
};

enum class DataChannelState : uint8_t { connecting, open, closing, closed };

// A channel as the application sees it. Reached through channel() or a channel_open event; the pointer is
// valid until the next non-const call on the transport.
struct DataChannelInfo {
  uint16_t id = 0;
  std::string label;
  std::string protocol;
  bool ordered = true;
  std::optional<uint32_t> max_retransmits;
  std::optional<uint32_t> max_packet_lifetime_ms;
  bool negotiated = false;
  bool remote = false;  // opened by the peer (DCEP)
  uint16_t priority = 256;
  DataChannelState state = DataChannelState::connecting;
  uint64_t buffered_amount = 0;
  uint64_t buffered_amount_low_threshold = 0;
  uint64_t messages_sent = 0, bytes_sent = 0;  // handed to SCTP
  uint64_t messages_received = 0, bytes_received = 0;
};

enum class DataChannelEventKind : uint8_t {
  connected,            // the SCTP association is up: channels open, send() works
  closed,               // the association ended (`reason`); every channel was closed before this event
  channel_open,         // `channel` is open: created locally (after start) or by the peer (DCEP)
  message,              // a message on channel `id`: `binary`, `payload`
  buffered_amount_low,  // channel `id`'s buffered amount fell to its threshold or below
  channel_closed,       // channel `id` is closed (both stream directions reset) and its id reusable
  error,                // a malformed or unexpected DCEP message on stream `id` was rejected (`reason`);
                        // informational, also counted in stats().dcep_errors
};

struct DataChannelEvent {
  DataChannelEventKind kind = DataChannelEventKind::message;
  uint16_t id = 0;
  bool binary = false;
  // message: valid until the next poll_event() call (or the transport's destruction); empty for empty messages
  std::span<const uint8_t> payload;
  const DataChannelInfo* channel = nullptr;  // channel_open: label, protocol, options; see DataChannelInfo
  std::string_view reason;                   // closed, error: static text
};

struct DataChannelStats {
  uint64_t messages_sent = 0, bytes_sent = 0;          // user messages handed to SCTP
  uint64_t messages_received = 0, bytes_received = 0;  // user messages delivered by poll_event
  uint64_t messages_expired_in_queue = 0;  // max_packet_lifetime passed before SCTP took them (never sent)
  uint64_t messages_dropped = 0;  // received for no open channel or with an unknown PPID
  uint64_t dcep_errors = 0;       // malformed or unexpected DCEP messages
  uint64_t channels_opened = 0, channels_closed = 0;
  uint64_t stream_reset_failures = 0;  // the peer denied a reset of our outgoing stream
  SctpStats sctp;  // packets, retransmitted and abandoned DATA chunks, malformed packets
};

class DataChannelTransport {
 public:
  static Result<DataChannelTransport> create(const DataChannelTransportOptions& options = {});

  DataChannelTransport(DataChannelTransport&&) noexcept;
  DataChannelTransport& operator=(DataChannelTransport&&) noexcept;
  ~DataChannelTransport();

  Result<void> start(uint64_t now_ns);
  // Aborts the association; every channel is closed (channel_closed events, then closed).
  void close();

  // Errc::malformed_packet for packets SCTP rejects outright (short, bad checksum); counted in stats().
  Result<void> handle_datagram(std::span<const uint8_t> packet, uint64_t now_ns);
  // The view is valid until the next poll_transmit() call (or the transport's destruction).
  std::optional<std::span<const uint8_t>> poll_transmit();
  std::optional<DataChannelEvent> poll_event();
  std::optional<uint64_t> next_timeout() const;
  Result<void> handle_timeout(uint64_t now_ns);

  // A new channel's id. Before start() or before the association is up the channel waits in `connecting` and
  // opens (DATA_CHANNEL_OPEN sent, channel_open event) once connected. Errc::invalid_argument for both
  // max_retransmits and max_packet_lifetime_ms, a label or protocol over 65535 bytes, or a negotiated id that
  // is out of range or in use; Errc::resource_exhausted when no stream id of our parity is free.
  Result<uint16_t> create_channel(const DataChannelInit& init);
  // Sends one message (string or binary, possibly empty). Errc::invalid_argument for an unknown channel, one
  // not open (connecting, closing, closed), or a message over the max message size. Accepted messages either
  // go to SCTP at once or wait in the channel's queue (buffered_amount).
  Result<void> send(uint16_t id, std::span<const uint8_t> payload, bool binary, uint64_t now_ns);
  // 0 for an unknown channel.
  uint64_t buffered_amount(uint16_t id) const;
  Result<void> set_buffered_amount_low_threshold(uint16_t id, uint64_t bytes);
  // Starts closing: queued messages are still sent, then the outgoing stream is reset; the peer resets its
  // own, and channel_closed follows on both sides. Closing a closing channel does nothing.
  Result<void> close_channel(uint16_t id);

  const DataChannelInfo* channel(uint16_t id) const;  // nullptr if there is none
  bool is_connected() const;
  DataChannelStats stats() const;

 private:
  struct Impl;
  explicit DataChannelTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::transport
