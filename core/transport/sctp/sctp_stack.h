// SCTP (RFC 4960) over usrsctp in AF_CONN mode, sans-IO: the transport for WebRTC data channels (RFC 8261,
// SCTP over DTLS).
//
// An SctpEndpoint is one SCTP association whose packets never touch a socket: handle_datagram() feeds a packet
// that arrived (from DTLS), poll_transmit() hands out the packets usrsctp wants to send, poll_event() the
// association events and received messages, and handle_timeout(now) drives usrsctp's timers (usrsctp runs with
// no threads of its own: usrsctp_init_nothreads). Time is always an argument.
//
// All of usrsctp's time is ours: besides the timers we drive, stock usrsctp reads the wall clock
// (gettimeofday) for RTT samples, to decide which chunks a T3 timeout retransmits (those sent more than one RTO
// ago) and for PR-SCTP lifetimes; our builds of usrsctp (scripts/patches/usrsctp-clock-hook.patch) read a clock
// that usrsctp_runtime.cpp advances with the time passed in here instead. So a simulation may run faster than
// real time (without the hook, a T3 timeout there would retransmit nothing and the association would stall).
//
// usrsctp is process-global: one stack, one timer wheel and one output callback for every association in the
// process. usrsctp_runtime.h keeps that in one place: it initialises usrsctp when the first endpoint is created
// and finishes it after the last one is gone, gives each endpoint an opaque AF_CONN address, and routes the
// output callback to the endpoint owning that address. usrsctp calls it re-entrantly (a packet fed in can make it send
// packets before usrsctp_conninput returns, and a timer that fires while one endpoint drives time can concern
// another one), so it only appends to the owning endpoint's packet queue, under that endpoint's lock.
// Received messages and notifications are not pushed by callbacks: poll_event() reads them from the socket
// (usrsctp_recvv into a buffer the endpoint reuses), so nothing is copied twice and a receiver that stops
// polling closes its receive window (real flow control) instead of growing a queue.
//
// Both peers call connect(): WebRTC's SCTP association opens simultaneously from both sides (the INIT
// collision case of RFC 4960 section 5.2.1), which is how libwebrtc and Firefox drive usrsctp too.
//
// One endpoint is used by one thread at a time (its core's runtime); endpoints of different cores may run on
// different threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/common/error.h"

namespace tandem::transport {

// Throughput tuning. 0 in any field leaves usrsctp's own default (SctpTuning::usrsctp_defaults() is all 0).
//
// What we chose and why (usrsctp defaults in brackets; libdatachannel's published settings for reference):
//  - send/receive buffer 1 MiB [256 KiB send, 128 KiB receive; libdatachannel 1 MiB]. The receive buffer is
//    the window the peer may have in flight: 128 KiB caps a 50 ms RTT path at ~21 Mbit/s, 1 MiB at ~168.
//    The send buffer must hold at least one maximum-size message (usrsctp refuses a larger one with EMSGSIZE)
//    and should cover a window's worth of unacknowledged data; beyond it our own per-channel queues take over
//    (DataChannelTransport), so a larger one would only hide more from bufferedAmount.
//    The receive buffer also keeps usrsctp's partial delivery (handing over a message before it is complete,
//    from half the buffer on) away from messages up to max_message_size (256 KiB): in usrsctp 0.9.5, when
//    PR-SCTP abandons an ordered message that was half handed over, the socket stops delivering data (tested
//    in data_channel_lossy_test.cpp). Keep it at 2 x max_message_size or more.
//  - initial congestion window 10 MTUs [3; libdatachannel 10]: the RFC 6928 value TCP has used for a decade;
//    a short burst of messages (a chat history, a small file) leaves in the first round trip instead of three.
//    usrsctp caps it at max_burst, hence the next line. PROCESS-WIDE in usrsctp (a sysctl): set just before
//    each connect(), so endpoints that connect concurrently on different threads with different values race.
//  - max burst 10 packets [4; libdatachannel 10]: how many packets one SACK may release at once; 4 throttles
//    slow start when SACKs are delayed or lost, 10 matches the initial window above.
//  - delayed SACK 20 ms [200 ms; libdatachannel 20 ms]: SCTP acknowledges every few packets anyway; the
//    timer only matters for a lone packet (the last of a burst, a single small message), where a 200 ms wait
//    stalls the sender's window and delays its RTO estimate. 20 ms stays above our timer granularity (10 ms).
//  - SACK every 4th packet [2; RFC 4960 6.2 SHOULD every 2nd]: a deliberate deviation. For a bulk sender,
//    decrypting and handling SACKs was ~22 % of its CPU on loopback; every 4th halves that work. Gaps are still
//    reported at once (usrsctp SACKs out-of-order data immediately), so fast retransmit is as quick; slow start
//    grows the window per SACK, so it ramps up more slowly. Measured on the 50 ms path below, this vs every 2nd:
//    no loss 96.0 vs 96.4 Mbit/s, 0.1 % loss 8.0-8.3 vs 8.3-8.6, 1 % loss 2.1-2.2 vs 2.2-2.3. Natively over
//    loopback UDP, with the T3 fix below, the sender thread's CPU per Gbit fell 6-11 % and unreliable
//    throughput rose 3-12 % (bench/RESULTS.md, 7 runs). sack_every_packets = 2 restores RFC 4960's rate.
//  - RTO min 200 ms [1000 ms; libdatachannel 200 ms], initial 1000 ms [3000 ms], max 10 s [60 s]: RFC 4960's
//    1 s minimum was designed for the 1990s Internet; a loss that fast retransmit cannot repair (the tail of a
//    burst) would stall a channel for a full second. 200 ms is still well above WebRTC RTTs inside a region,
//    and the initial 1 s is RFC 6298's value. A 10 s ceiling keeps a channel that lost connectivity briefly
//    from waiting a minute after the path comes back.
//  - MTU: SctpOptions::mtu (1160), not a tuning knob: it is fixed by DTLS's datagram size, not by throughput.
//  - max_chunks_on_queue 8192 [512]: PROCESS-WIDE (set at each endpoint's creation). usrsctp refuses new
//    messages once that many chunks are queued or in flight, which empties the pipe before the 1 MiB buffer
//    is full (512 x 1 KiB messages is half of it).
// Measured (data_channel_alloc_test.cpp, "[.sctp_throughput]", simulated 100 Mbit/s bottleneck, 50 ms RTT, 30 s;
// usrsctp with scripts/patches/usrsctp-t3-restart.patch): without loss this tuning carries 96 Mbit/s (the
// bottleneck) for 1 KiB and 16 KiB messages, usrsctp's defaults 14, this tuning with the 512-chunk limit 79-85.
// With 0.1 % loss 8.0-8.3 Mbit/s (defaults 6.6-6.7), with 1 % loss 2.1-2.2 (defaults 2.2-2.3): the congestion
// control's own bound (Mathis: MSS/RTT x 1.22/sqrt(p) = 7.4 and 2.3 Mbit/s for 1160-byte packets at 50 ms),
// which buffers cannot lift. Before that patch a lossy path lost a third of this to spurious timeouts, and
// the 200 ms RTO minimum lost more than usrsctp's 1 s (the timer expired every RTO on a busy association).
// Over a zero-delay in-memory link the transfer is CPU-bound and the tuning makes no difference beyond noise.
struct SctpTuning {
  uint32_t send_buffer_bytes = 1024 * 1024;
  uint32_t receive_buffer_bytes = 1024 * 1024;
  uint32_t initial_cwnd_mtus = 10;
  uint32_t max_burst = 10;
  uint32_t delayed_sack_ms = 20;
  uint32_t sack_every_packets = 4;
  uint32_t rto_initial_ms = 1000;
  uint32_t rto_min_ms = 200;
  uint32_t rto_max_ms = 10'000;
  uint32_t max_chunks_on_queue = 8192;

  static SctpTuning usrsctp_defaults() { return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}; }
};

struct SctpOptions {
  uint16_t local_port = 5000;  // the SCTP port (RFC 8841's default, which browsers use)
  // Largest SCTP packet handed to poll_transmit(). DTLS adds up to 37 bytes (AES-GCM record) around it, so
  // 1160 keeps the datagram within DtlsConfig's default 1200.
  uint16_t mtu = 1160;
  uint16_t streams = 1024;  // outbound streams offered and inbound streams accepted (libwebrtc's limit)
  // How often usrsctp's timers want a tick while an association exists. usrsctp cannot report its next
  // deadline, so next_timeout() polls at this period; 10 ms is what usrsctp's own timer thread does.
  uint32_t timer_granularity_ms = 10;
  // Largest message, both ways (a=max-message-size, RFC 8841): larger ones are refused by send() and dropped
  // (counted) on receipt. It must fit the send buffer (SctpTuning), else create() fails.
  uint32_t max_message_size = 256 * 1024;
  // Check the CRC32c of every received packet (RFC 4960 section 6.8) and reject a bad one as malformed. Under
  // DTLS (data channels: PeerConnection turns it off) every byte is already authenticated by the record's AEAD
  // tag, so the check finds nothing and only costs a copy and a CRC per packet. Outgoing packets always carry
  // a correct checksum (peers such as Chromium verify it).
  bool verify_checksum = true;
  SctpTuning tuning;
};

// How long a message may be retried (PR-SCTP, RFC 3758), per message.
enum class SctpReliability : uint8_t {
  reliable,         // retransmitted until acknowledged
  max_retransmits,  // abandoned after `reliability_value` retransmissions (0: sent once)
  max_lifetime,     // abandoned `reliability_value` ms after send() if not acknowledged
};

struct SctpSendOptions {
  bool unordered = false;
  SctpReliability reliability = SctpReliability::reliable;
  uint32_t reliability_value = 0;
};

enum class SctpEventKind : uint8_t {
  connected,     // SCTP_COMM_UP: the association is established and send() works
  message,       // a complete message arrived on `stream` with `ppid`
  stream_reset,  // RFC 6525 stream reset: see `incoming`, `outgoing`, `failed`, `streams`
  closed,        // the association ended (aborted, shut down, or never came up); `reason` says which
};

// Views (`payload`, `streams`) are valid until the next poll_event() call or the endpoint's destruction.
struct SctpEvent {
  SctpEventKind kind = SctpEventKind::message;
  uint16_t stream = 0;
  uint32_t ppid = 0;  // payload protocol identifier, host order (WebRTC: 50 DCEP, 51 string, 53 binary, ...)
  std::span<const uint8_t> payload;
  std::span<const uint16_t> streams;  // stream_reset: the streams concerned
  bool incoming = false;  // stream_reset: the peer reset its outgoing side of `streams` (our incoming)
  bool outgoing = false;  // stream_reset: our request to reset our outgoing `streams` was answered
  bool failed = false;    // stream_reset: ... and the peer denied it or it failed
  std::string_view reason;  // closed
};

// Counters of one association. Packets and chunks are observed on the wire (what poll_transmit hands out and
// handle_datagram accepts); abandoned_data_chunks is usrsctp's own PR-SCTP count.
struct SctpStats {
  uint64_t packets_sent = 0;
  uint64_t bytes_sent = 0;  // SCTP packet bytes
  uint64_t packets_received = 0;
  uint64_t bytes_received = 0;
  uint64_t malformed_packets = 0;           // rejected by handle_datagram (short, bad CRC32c)
  uint64_t data_chunks_sent = 0;            // DATA / I-DATA chunks, first transmissions and retransmissions
  uint64_t retransmitted_data_chunks = 0;   // ... of which a TSN that had been sent before
  uint64_t abandoned_data_chunks = 0;       // PR-SCTP: given up before or after being sent (usrsctp counts)
  uint64_t oversized_messages_dropped = 0;  // received messages larger than max_message_size
  uint64_t partial_messages_aborted = 0;    // a message abandoned by the sender while half delivered
  uint64_t association_restarts = 0;        // the peer restarted the association (SCTP_RESTART)
};

class SctpEndpoint {
 public:
  static Result<SctpEndpoint> create(const SctpOptions& options = {});

  SctpEndpoint(SctpEndpoint&&) noexcept;
  SctpEndpoint& operator=(SctpEndpoint&&) noexcept;
  ~SctpEndpoint();  // aborts the association if there is one

  // Starts the association towards the peer's SCTP port (the peer connects towards ours at the same time).
  Result<void> connect(uint16_t remote_port, uint64_t now_ns);
  // Aborts the association (an ABORT chunk is queued for poll_transmit) and releases the socket.
  void close();

  // One SCTP packet as carried by DTLS. Packets shorter than the SCTP common header or with a wrong CRC32c
  // are rejected with Errc::malformed_packet (usrsctp would drop them silently); anything else is usrsctp's.
  Result<void> handle_datagram(std::span<const uint8_t> packet, uint64_t now_ns);
  // The next packet to send, or nothing. The view stays valid until the next poll_transmit() call or the
  // endpoint's destruction; its buffer is reused, so steady-state output does not allocate.
  std::optional<std::span<const uint8_t>> poll_transmit();
  // The next event. Reads from usrsctp, which may answer with packets (a window update once the application
  // has read a receive window's worth, for instance): call poll_transmit() after draining events.
  std::optional<SctpEvent> poll_event();

  // Queues one message. Errc::resource_exhausted when usrsctp's send buffer cannot take it whole now (retry
  // after packets were exchanged); Errc::invalid_argument when not connected, the stream is out of range, the
  // payload is empty (SCTP cannot carry empty messages; WebRTC maps them to PPIDs 56/57 with one byte, which
  // is the caller's business) or larger than max_message_size.
  Result<void> send(uint16_t stream, uint32_t ppid, std::span<const uint8_t> payload, const SctpSendOptions& how,
                    uint64_t now_ns);
  // Resets our outgoing side of `streams` (RFC 6525). usrsctp sends the request once everything queued on
  // those streams has been acknowledged; the answer arrives as a stream_reset event with `outgoing` set.
  Result<void> reset_outgoing_streams(std::span<const uint16_t> streams);

  std::optional<uint64_t> next_timeout() const;
  Result<void> handle_timeout(uint64_t now_ns);

  bool is_connected() const;
  // Streams usable for sending: the smaller of ours and the peer's inbound limit once connected, else ours.
  uint16_t outbound_streams() const;
  SctpStats stats() const;

 private:
  struct Impl;
  explicit SctpEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;  // usrsctp's output callback finds it by address, so it never moves
};

}  // namespace tandem::transport
