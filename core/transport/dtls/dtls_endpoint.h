// A sans-IO DTLS 1.2 endpoint (RFC 6347) over mbedTLS 2.28, as WebRTC uses it: DTLS-SRTP (RFC 5764) with
// self-signed certificates authenticated by the SDP fingerprint (RFC 8122, RFC 8827 section 6.5), and records
// of application data for SCTP (RFC 8261).
//
// Bytes and the current time go in; datagrams, events, received records and a timer deadline come out:
//   start(now)                    begins the handshake (a client queues its ClientHello; a server waits)
//   handle_datagram(bytes, now)   feeds one received datagram
//   poll_transmit()               the next datagram to send, until it returns nothing (or a DtlsDatagramSink
//                                 takes each datagram as it is made)
//   poll_event()                  the next state change
//   poll_received()               the next application record received
//   next_timeout() / handle_timeout(now)   the handshake's retransmission timer
//   send(bytes)                   one application record (once connected); close() sends close_notify
// Nothing here reads a clock, opens a socket or starts a thread. mbedTLS's transport and timer callbacks read
// the time and the datagram the caller passed in and write into buffers the endpoint reuses. Randomness comes
// from the caller's entropy source through a CTR-DRBG. (mbedTLS 2.28 itself calls time() for the 4-byte
// gmt_unix_time of the hello randoms, RFC 5246 section 7.4.1.2, and for X.509 date flags, which are ignored
// here; its build config offers no hook for either, so hello randoms vary with the wall clock.)
//
// Authentication: both roles present `certificate` and require the peer's; the one check is that the digest
// of the peer's leaf certificate equals `remote_fingerprint` (chain, names, dates and usage are ignored: the
// certificates are self-signed). A mismatch fails the handshake with Errc::authentication_failed.
//
// No HelloVerifyRequest cookies in the server role. Cookies (RFC 6347 section 4.2.1) prove the client can
// receive at its source address before the server spends state; in WebRTC the ICE connectivity checks and
// consent (RFC 7675) have already proved that for the only 5-tuple that reaches us, and libwebrtc does not
// use them either. Skipping them saves a round trip.
//
// Memory: after the handshake, send(), poll_transmit(), handle_datagram() and poll_received() for
// application data do not allocate, as long as the caller drains the queues (a record larger than any seen
// before grows one buffer once). Views returned by poll_transmit() and poll_received() stay valid until the
// next call on the endpoint.
//
// Not thread-safe: one endpoint belongs to the runtime thread that drives it; callbacks (entropy, key_log)
// run inside the endpoint's calls, on that thread, and must not call back into the endpoint.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/media/srtp_session.h"
#include "core/transport/dtls/certificate.h"
#include "core/transport/dtls/entropy.h"

namespace tandem::transport {

// From SDP (RFC 8842 / RFC 5763): a=setup:active is the DTLS client, a=setup:passive the server.
enum class DtlsRole : uint8_t { client, server };

struct DtlsConfig {
  DtlsRole role = DtlsRole::client;
  // Required. Called while creating and whenever mbedTLS's DRBG reseeds, from inside the endpoint's calls.
  EntropySource entropy;
  // Required: ours, shared with other endpoints (it is what our a=fingerprint describes).
  std::shared_ptr<const DtlsCertificate> certificate;
  // Required: the peer's a=fingerprint (parse_fingerprint). Its algorithm is the one used to check.
  DtlsFingerprint remote_fingerprint;
  // Largest handshake datagram we emit; larger flights are fragmented. 1200 fits every path once ICE/TURN add
  // their headers (the size WebRTC stacks use). At least 256.
  uint16_t mtu = 1200;
  // Largest application record payload send() accepts. One SCTP packet travels as one record, so this must be
  // at least the SCTP layer's packet size. Application datagrams are this plus the record overhead
  // (37 bytes with AES-GCM), which may exceed `mtu`. At most 16384.
  uint16_t max_record_payload = 1200;
  // Retransmission timer: starts at min and doubles per timeout; when a timeout of max expires the handshake
  // fails (Errc::timed_out). RFC 6347 section 4.2.4.1 recommends 1 s and 60 s.
  uint32_t handshake_timeout_min_ms = 1000;
  uint32_t handshake_timeout_max_ms = 60000;
  // Bounds of the outgoing datagram queue and of the received record queue. A full outgoing queue makes
  // send() return Errc::resource_exhausted (handshake datagrams are dropped, as a lossy path would, and
  // retransmitted); a full received queue drops records (DtlsStats::received_overflow).
  uint16_t max_queued = 64;
  // Debugging only: receives the NSS key log line "CLIENT_RANDOM <hex> <hex master secret>" (what Wireshark
  // reads to decrypt a capture) once keys are derived. It discloses every key of the session: leave unset.
  std::function<void(std::string_view line)> key_log;
};

enum class DtlsState : uint8_t {
  idle,        // created, start() not called yet
  connecting,  // handshake in progress
  connected,   // handshake done: application data flows, srtp_keys() is available
  closed,      // close() called, or the peer's close_notify received (final)
  failed,      // a fatal error; last_error() says which (final)
};
std::string_view to_string(DtlsState state);

// A state change. `error` is the failure's code for `failed`, else Errc::ok.
struct DtlsEvent {
  DtlsState state = DtlsState::idle;
  Errc error = Errc::ok;
};

// One direction's SRTP master key and salt, in a form SrtpConfig takes (master_key / master_salt spans).
struct SrtpMasterKey {
  std::array<uint8_t, 32> key_storage{};
  std::array<uint8_t, 14> salt_storage{};
  uint8_t key_size = 0;
  uint8_t salt_size = 0;
  std::span<const uint8_t> key() const { return {key_storage.data(), key_size}; }
  std::span<const uint8_t> salt() const { return {salt_storage.data(), salt_size}; }
};

// The DTLS-SRTP keying material (RFC 5764 section 4.2), already assigned by role: `local` protects what we
// send (SrtpDirection::outbound), `remote` what we receive (inbound). The client's local key is the
// exporter's client_write key.
struct DtlsSrtpKeys {
  media::SrtpProfile profile = media::SrtpProfile::aes_cm_128_hmac_sha1_80;
  SrtpMasterKey local;
  SrtpMasterKey remote;
};

struct DtlsStats {
  uint64_t records_sent = 0;        // application records
  uint64_t records_received = 0;    // application records delivered to poll_received()
  uint64_t records_dropped = 0;     // application records that failed authentication, replays, stale epochs
  uint64_t received_overflow = 0;   // application records dropped because the received queue was full
  uint64_t datagrams_rejected = 0;  // handle_datagram() input that was not DTLS (Errc::malformed_packet)
  uint64_t transmit_overflow = 0;   // handshake/alert datagrams dropped because the outgoing queue was full
};

// Takes every datagram the endpoint makes, as it makes it, instead of the queue behind poll_transmit(): a
// caller that copies datagrams into a send batch of its own saves the queue's copy of every record (the
// PeerConnection does). Called inside the endpoint's calls, on their thread; the bytes are valid during the
// call only, and the sink must not call back into the endpoint.
class DtlsDatagramSink {
 public:
  virtual void on_datagram(std::span<const uint8_t> datagram) = 0;

 protected:
  ~DtlsDatagramSink() = default;
};

class DtlsEndpoint {
 public:
  // Errc::invalid_argument for a missing entropy source, certificate or remote fingerprint, or bad sizes;
  // Errc::internal if the entropy source fails.
  static Result<DtlsEndpoint> create(DtlsConfig config);

  DtlsEndpoint(DtlsEndpoint&&) noexcept;
  DtlsEndpoint& operator=(DtlsEndpoint&&) noexcept;
  ~DtlsEndpoint();

  DtlsRole role() const;
  DtlsState state() const;
  // The failure that moved the endpoint to `failed` (code and message), if it has.
  const Error* last_error() const;
  const DtlsStats& stats() const;

  // idle -> connecting. Errc::invalid_argument if already started.
  Result<void> start(uint64_t now_ns);

  // A datagram that is not a sequence of DTLS 1.0/1.2 records is rejected with Errc::malformed_packet and
  // changes nothing. Records mbedTLS cannot use are dropped as DTLS requires (counted once connected). A
  // fatal error (a fatal alert, a malformed handshake message, the fingerprint check) moves the endpoint to
  // `failed` and is returned; every later call returns it again. Before start(): Errc::invalid_argument.
  // After close: ignored.
  Result<void> handle_datagram(std::span<const uint8_t> datagram, uint64_t now_ns);

  // The next datagram to send, valid until the next call on the endpoint; empty when nothing is queued.
  // Still works after a failure (so a fatal alert can leave) and after close (close_notify).
  std::optional<std::span<const uint8_t>> poll_transmit();
  // nullptr (the default): datagrams queue for poll_transmit(). Otherwise each goes to `sink` (which must
  // outlive the endpoint or be replaced first) and send() is never refused for a full queue. Datagrams
  // queued before the sink was set stay for poll_transmit().
  void set_datagram_sink(DtlsDatagramSink* sink);
  std::optional<DtlsEvent> poll_event();
  // The next application record received, valid until the next call on the endpoint.
  std::optional<std::span<const uint8_t>> poll_received();

  // The handshake retransmission deadline (absolute, in the caller's ns), while connecting. handle_timeout()
  // before it does nothing; at or after it resends the last flight, or fails with Errc::timed_out once the
  // longest timeout has expired.
  std::optional<uint64_t> next_timeout() const;
  Result<void> handle_timeout(uint64_t now_ns);

  // One application record. Errc::invalid_argument if not connected, empty, or larger than
  // max_record_payload; Errc::resource_exhausted if the outgoing queue is full (poll_transmit() first; never
  // with a datagram sink).
  Result<void> send(std::span<const uint8_t> data);
  size_t max_record_payload() const;

  // Queues close_notify when connected, and moves to `closed` from any state but failed.
  void close();

  // Once the handshake has completed (still after a close; Errc::invalid_argument before, or after a failure);
  // Errc::protocol_error if the peer did not negotiate use_srtp (a data-channel-only peer may not).
  Result<DtlsSrtpKeys> srtp_keys() const;
  // The negotiated cipher suite as mbedTLS names it, e.g. "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"; empty
  // before the handshake completes.
  std::string_view cipher_suite() const;

 private:
  struct Impl;
  explicit DtlsEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;  // mbedTLS keeps pointers into it, so it never moves
};

}  // namespace tandem::transport
