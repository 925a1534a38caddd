// A sans-IO ICE agent (RFC 8445 full agent, RFC 8838 trickle, RFC 7675 consent freshness).
//
// Scope: UDP host candidates only, one component (rtcp-mux and BUNDLE put everything on component 1), no STUN
// or TURN servers yet. Local candidates are kept with their base so server-reflexive and relayed candidates can
// be added later without changing the checking logic; remote candidates of every type are paired.
//
// Nothing here touches a socket or a clock. The caller
//   - adds local addresses (add_local_address) and the peer's credentials and candidates as signalling brings them,
//   - feeds every datagram the RFC 7983 demux classified as STUN to handle_stun(), and tells note_received()
//     about every other datagram (DTLS, SRTP) so liveness counts it,
//   - sends what poll_transmit() yields from `local` to `remote`,
//   - calls handle_timeout(now) when next_timeout() says (a deadline at or before the last `now` means "at once":
//     methods without a time argument, like add_remote_candidate, schedule work that way),
//   - reads poll_event() for candidates to signal, state and selected-pair changes.
//
// Checks are paced: at most one new check (ordinary, triggered or nominating) per Ta (`pacing_ms`), the first
// one at once. Retransmissions follow their own timer (RFC 8489 doubling, see IceAgentConfig::initial_rto_ms).
// As controlling agent we use regular nomination: once the best valid pair can no longer be beaten by a pair
// still being checked (or nomination_timeout_ms after the first valid pair), it is checked again with
// USE-CANDIDATE. As controlled agent we honour USE-CANDIDATE. Until a pair is nominated, the best valid pair is
// already selected (as libwebrtc does), so DTLS can start a round trip earlier.
//
// Not thread-safe: an agent belongs to the runtime thread that drives it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/transport/dtls/dtls_endpoint.h"  // EntropySource
#include "core/transport/ice/ice_candidate.h"
#include "tandem/platform/net.h"

namespace tandem::transport {

enum class IceRole : uint8_t { controlling, controlled };
// The W3C RTCIceTransportState values; `new_` because `new` is a keyword (to_string gives "new").
enum class IceState : uint8_t { new_, checking, connected, completed, failed, disconnected, closed };

std::string_view to_string(IceRole role);
std::string_view to_string(IceState state);

struct IceAgentConfig {
  IceRole role = IceRole::controlling;
  std::string local_ufrag;   // 4-256 ice-chars (RFC 8839 section 5.4)
  std::string local_pwd;     // 22-256 ice-chars
  uint64_t tie_breaker = 0;  // 0: drawn from `entropy`
  EntropySource entropy;     // required: transaction ids, consent jitter

  uint32_t pacing_ms = 50;  // Ta: one new check per Ta, the first at once (RFC 8445 section 14.2)
  // Retransmission of a check: RFC 8445 section 14.3 puts the RTO at max(500 ms, Ta * pairs in progress). We
  // start at 250 ms (libwebrtc re-pings unanswered pairs at about that pace) so one lost datagram on a
  // loopback or LAN path costs a quarter second rather than half; it doubles per retransmission up to
  // max_rto_ms, and a check is given up after max_check_transmissions sends plus one more RTO of waiting.
  uint32_t initial_rto_ms = 250;
  uint32_t max_rto_ms = 3000;
  uint32_t max_check_transmissions = 7;  // Rc of RFC 8489
  // Controlling: nominate the best valid pair at the latest this long after the first pair became valid, even
  // if better pairs are still being checked.
  uint32_t nomination_timeout_ms = 1000;
  // RFC 7675: a consent check on the selected pair every consent_interval_ms randomised to [0.8, 1.2] of it;
  // consent (and the connection: state failed) is lost after consent_timeout_ms without a response.
  uint32_t consent_interval_ms = 5000;
  uint32_t consent_timeout_ms = 30000;
  // Liveness: `disconnected` after this long without receiving anything on the selected pair, back to
  // connected/completed when traffic resumes. While the pair is idle for keepalive_ms we send an extra consent
  // check so that a healthy but quiet connection always has traffic to show (both directions answer).
  uint32_t disconnected_timeout_ms = 2500;
  uint32_t keepalive_ms = 1000;
  uint32_t max_remote_candidates = 32;  // signalled + peer-reflexive; more are ignored and counted
  uint32_t max_pairs = 100;             // RFC 8445 section 6.1.2.5's default limit
};

struct IceCandidatePairInfo {
  platform::SocketAddress local;   // the base: send from here
  platform::SocketAddress remote;  // to here
  IceCandidateType local_type = IceCandidateType::host;
  IceCandidateType remote_type = IceCandidateType::host;
  uint64_t priority = 0;
  bool nominated = false;
  bool operator==(const IceCandidatePairInfo&) const = default;
};

enum class IceEventType : uint8_t { local_candidate, gathering_complete, state_changed, selected_pair_changed,
                                    role_changed };

struct IceEvent {
  IceEventType type = IceEventType::state_changed;
  std::string candidate;  // local_candidate: the attribute value to signal, "candidate:..."
  IceState state = IceState::new_;            // state_changed
  std::optional<IceCandidatePairInfo> pair;   // selected_pair_changed; nothing: no pair any more (failed)
  IceRole role = IceRole::controlling;        // role_changed
};

struct IceTransmit {
  platform::SocketAddress local;
  platform::SocketAddress remote;
  std::span<const uint8_t> bytes;  // valid until the next call on the agent
};

struct IceStats {
  uint64_t checks_sent = 0;        // new check transactions (ordinary, triggered, nominating)
  uint64_t checks_received = 0;    // authenticated binding requests
  uint64_t responses_sent = 0;     // success responses
  uint64_t responses_received = 0;  // authenticated success responses to our requests
  uint64_t error_responses_sent = 0;
  uint64_t error_responses_received = 0;
  uint64_t retransmissions = 0;
  uint64_t role_conflicts = 0;      // 487 sent or received, or a role switched on a request
  uint64_t consent_checks_sent = 0;  // consent and keepalive checks on the selected pair
  uint64_t ignored_candidates = 0;   // mDNS names, TCP, other components, link-local, over the limit
  uint64_t duplicate_candidates = 0;
  uint64_t prflx_candidates = 0;     // remote peer-reflexive candidates learned from checks
  uint64_t malformed_stun = 0;       // not parseable, bad FINGERPRINT, not a binding message
  uint64_t integrity_failures = 0;   // bad or missing MESSAGE-INTEGRITY, wrong USERNAME
  uint64_t unmatched_responses = 0;  // unknown transaction id (late duplicates, strays)
  uint64_t pairs_failed = 0;
};

class IceAgent {
 public:
  // Errc::invalid_argument for a missing entropy source, credentials outside RFC 8839's grammar, or Ta == 0.
  static Result<IceAgent> create(IceAgentConfig config);

  IceAgent(IceAgent&&) noexcept;
  IceAgent& operator=(IceAgent&&) noexcept;
  ~IceAgent();

  // A host candidate on `base` (UDP, component 1); queues a local_candidate event with its formatted line.
  // Errc::invalid_argument for port 0, a link-local address (it needs a scope a candidate cannot carry), or a
  // base already added.
  Result<IceCandidate> add_local_address(const platform::SocketAddress& base);
  // No more local candidates: queues gathering_complete (signal end-of-candidates).
  void set_local_gathering_complete();

  // The peer's ice-ufrag and ice-pwd. Checks wait for them; requests are answered before (RFC 8445 7.3).
  Result<void> set_remote_credentials(std::string_view ufrag, std::string_view pwd);
  // A trickled or SDP candidate, before or after the credentials. Candidates the agent cannot use (mDNS
  // names, TCP, component other than 1, link-local) are counted in stats().ignored_candidates and duplicates in
  // duplicate_candidates: neither is an error. A signalled candidate whose address was learned as
  // peer-reflexive replaces that one's type and priority.
  Result<void> add_remote_candidate(const IceCandidate& candidate);
  void set_remote_gathering_complete();

  // One datagram the demux classified as STUN, received on `local` (one of our bases) from `remote`.
  // Errc::malformed_packet (not STUN, bad FINGERPRINT, not binding), Errc::authentication_failed (bad
  // MESSAGE-INTEGRITY or USERNAME), Errc::invalid_argument (unknown local address), Errc::disposed (closed):
  // all counted, none changes the agent's state.
  Result<void> handle_stun(const platform::SocketAddress& local, const platform::SocketAddress& remote,
                           std::span<const uint8_t> bytes, uint64_t now_ns);
  // Any other datagram received on `local` from `remote`. True if they form a valid pair: RFC 7675 says to
  // drop application data from anywhere else.
  bool note_received(const platform::SocketAddress& local, const platform::SocketAddress& remote, uint64_t now_ns);

  std::optional<IceTransmit> poll_transmit();
  std::optional<IceEvent> poll_event();
  std::optional<uint64_t> next_timeout() const;
  void handle_timeout(uint64_t now_ns);

  // The pair to send application data on; nothing before the first valid pair and after failure.
  std::optional<IceCandidatePairInfo> selected_pair() const;
  IceState state() const;
  IceRole role() const;
  uint64_t tie_breaker() const;
  const IceStats& stats() const;

  // Stops everything: no more transmissions or timers; state closed (the event is queued).
  void close();

 private:
  struct Impl;
  explicit IceAgent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::transport
