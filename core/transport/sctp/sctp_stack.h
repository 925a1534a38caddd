// SCTP (RFC 4960) over usrsctp in AF_CONN mode, sans-IO: the transport for WebRTC data channels (RFC 8261,
// SCTP over DTLS).
//
// An SctpEndpoint is one SCTP association whose packets never touch a socket: handle_datagram() feeds a packet
// that arrived (from DTLS), poll_transmit() hands out the packets usrsctp wants to send, poll_event() the
// association events and received messages, and handle_timeout(now) drives usrsctp's timers (usrsctp runs with
// no threads of its own). Time is always an argument.
//
// usrsctp is process-global: one stack, one timer wheel and one pair of C callbacks for every association in
// the process. The .cpp keeps that in one place: it initialises usrsctp when the first endpoint is created and
// finishes it after the last one is gone, gives each endpoint an opaque AF_CONN address, and routes the
// callbacks to the endpoint owning that address. usrsctp calls those callbacks re-entrantly (a packet fed in
// can make it send packets and deliver messages before usrsctp_conninput returns, and a timer that fires while
// one endpoint drives time can concern another one), so they only append to the owning endpoint's queues,
// under that endpoint's lock; nothing ever calls back into usrsctp from a callback.
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
#include <string>
#include <vector>

#include "core/common/error.h"

namespace tandem::transport {

struct SctpOptions {
  uint16_t local_port = 5000;  // the SCTP port (RFC 8841's default, which browsers use)
  // Largest SCTP packet handed to poll_transmit(). DTLS adds up to 37 bytes (AES-GCM record) around it, so
  // 1160 keeps the datagram within DtlsConfig's default 1200.
  uint16_t mtu = 1160;
  uint16_t streams = 1024;  // outbound streams offered and inbound streams accepted (libwebrtc's limit)
  // How often usrsctp's timers want a tick while an association exists. usrsctp cannot report its next
  // deadline, so next_timeout() polls at this period; 10 ms is what usrsctp's own timer thread does.
  uint32_t timer_granularity_ms = 10;
};

enum class SctpEventKind : uint8_t {
  connected,  // SCTP_COMM_UP: the association is established and send() works
  message,    // a complete message arrived on `stream` with `ppid`
  closed,     // the association ended (aborted, shut down, or never came up); `reason` says which
};

struct SctpEvent {
  SctpEventKind kind = SctpEventKind::message;
  uint16_t stream = 0;
  uint32_t ppid = 0;  // payload protocol identifier, host order (WebRTC: 50 DCEP, 51 string, 53 binary, ...)
  std::vector<uint8_t> payload;
  std::string reason;
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
  std::optional<std::vector<uint8_t>> poll_transmit();
  std::optional<SctpEvent> poll_event();

  // Queues one message (RFC 4960 user message, ordered unless `unordered`). Errc::resource_exhausted when the
  // send buffer is full (retry after packets were exchanged); Errc::invalid_argument when not connected, the
  // stream is out of range or the payload is empty (SCTP cannot carry empty messages; WebRTC maps them to
  // PPIDs 56/57 with one byte, which is the caller's business).
  Result<void> send(uint16_t stream, uint32_t ppid, std::span<const uint8_t> payload, uint64_t now_ns,
                    bool unordered = false);

  std::optional<uint64_t> next_timeout() const;
  Result<void> handle_timeout(uint64_t now_ns);

  bool is_connected() const;

 private:
  struct Impl;
  explicit SctpEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;  // usrsctp's callbacks find it by address, so it never moves
};

}  // namespace tandem::transport
