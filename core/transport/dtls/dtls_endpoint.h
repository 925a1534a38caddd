// A sans-IO DTLS 1.2 endpoint (RFC 6347) over mbedTLS, offering DTLS-SRTP (RFC 5764).
//
// Bytes and the current time go in, datagrams and a timer deadline come out:
//   start(now)                    begins the handshake (the client queues its ClientHello)
//   handle_datagram(bytes, now)   feeds one received datagram
//   poll_transmit()               takes the next datagram to send, until it returns nothing
//   next_timeout()                when handle_timeout() must be called (retransmission), if ever
//   handle_timeout(now)           retransmits the last flight or gives up (Errc::timed_out)
// Nothing here reads a clock, opens a socket or starts a thread: mbedTLS's transport and timer callbacks read
// the time and the datagram the caller passed in, and write into an in-memory queue. The DRBG that mbedTLS
// draws from is seeded from the caller's entropy source (the platform's, in the core).
//
// Scope of this first version: the client role, up to and including retransmission of its flights. The offer
// is DTLS 1.2 only, ECDHE with AES-GCM, and use_srtp with SRTP_AES128_CM_HMAC_SHA1_80 (mbedTLS 2.28 cannot
// negotiate the GCM SRTP profiles). Peer certificates are verified strictly and no trust anchor is configured,
// so a handshake cannot complete yet: it fails closed until the next step adds our certificate, the server role
// and verification against the SDP fingerprint (RFC 8122), then application data and SRTP key export.
//
// Not thread-safe: one endpoint belongs to the runtime thread that drives it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/common/error.h"

namespace tandem::transport {

// Fills `out` with cryptographically secure random bytes; returns false if the source failed. In the core
// this wraps platform::Entropy::fill.
using EntropySource = std::function<bool(std::span<uint8_t> out)>;

struct DtlsConfig {
  // Required. Called while starting and whenever mbedTLS's DRBG reseeds, so it must outlive the endpoint.
  EntropySource entropy;
  // Largest datagram we emit. 1200 is what WebRTC stacks use: it fits every path once ICE/TURN add headers.
  uint16_t mtu = 1200;
  // Retransmission timer: starts at min and doubles per timeout; when a timeout of max expires the handshake
  // fails. RFC 6347 section 4.2.4.1 recommends 1 s and 60 s.
  uint32_t handshake_timeout_min_ms = 1000;
  uint32_t handshake_timeout_max_ms = 60000;
};

enum class DtlsState : uint8_t { idle, handshaking, connected, failed };

class DtlsEndpoint {
 public:
  static Result<DtlsEndpoint> create_client(DtlsConfig config);

  DtlsEndpoint(DtlsEndpoint&&) noexcept;
  DtlsEndpoint& operator=(DtlsEndpoint&&) noexcept;
  ~DtlsEndpoint();

  DtlsState state() const;

  Result<void> start(uint64_t now_ns);
  // A datagram that is not a sequence of DTLS 1.0/1.2 records is rejected with Errc::malformed_packet and
  // changes nothing. Records mbedTLS cannot use are dropped as DTLS requires; a fatal protocol error (a fatal
  // alert, a malformed handshake message, a bad MAC) moves the endpoint to `failed` and is returned, and every
  // later call returns that same error.
  Result<void> handle_datagram(std::span<const uint8_t> datagram, uint64_t now_ns);
  std::optional<std::vector<uint8_t>> poll_transmit();
  std::optional<uint64_t> next_timeout() const;
  Result<void> handle_timeout(uint64_t now_ns);

 private:
  struct Impl;
  explicit DtlsEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;  // mbedTLS keeps pointers into it, so it never moves
};

}  // namespace tandem::transport
