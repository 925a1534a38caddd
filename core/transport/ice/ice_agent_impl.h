// Internals of IceAgent, shared by ice_agent.cpp (the API), ice_agent_checklist.cpp (candidates, pairs,
// scheduling, state) and ice_agent_stun.cpp (building and answering STUN). Not part of the API.
#pragma once

#include <array>
#include <deque>
#include <vector>

#include "core/transport/ice/ice_agent.h"
#include "core/transport/stun/stun_message.h"

namespace tandem::transport {

namespace ice_detail {

using platform::SocketAddress;

inline constexpr uint64_t kMs = 1'000'000;
// Largest message we build: header, USERNAME of two 256-char fragments, PRIORITY, ICE-CONTROLLING,
// USE-CANDIDATE, MESSAGE-INTEGRITY and FINGERPRINT come to under 600 bytes.
inline constexpr size_t kMaxStunSize = 640;

enum class PairState : uint8_t { frozen, waiting, in_progress, succeeded, failed };
enum class TxKind : uint8_t { check, consent };

struct LocalCandidate {
  IceCandidate candidate;
  SocketAddress base;  // where we send from; equals candidate.address for host candidates
  uint16_t local_pref = 0;
};

struct Pair {
  uint32_t local = 0;   // index into Impl::locals
  uint32_t remote = 0;  // index into Impl::remotes
  std::string foundation;
  uint64_t priority = 0;
  PairState state = PairState::frozen;
  bool valid = false;                // in the valid list
  bool nominated = false;
  bool nominate_on_success = false;  // controlled: USE-CANDIDATE arrived before our own check succeeded
  bool nominating = false;           // controlling: the next check on this pair carries USE-CANDIDATE
  bool queued = false;               // in the triggered-check queue
  uint64_t last_received_ns = 0;
  uint64_t consent_ns = 0;  // last authenticated success response
};

struct Transaction {
  StunTransactionId id{};
  uint32_t pair = 0;
  TxKind kind = TxKind::check;
  bool controlling = false;  // the role the request claimed (487 handling, identical retransmissions)
  bool use_candidate = false;
  bool retransmit = true;  // false for consent checks and for checks a triggered check replaced
  uint32_t transmissions = 1;
  uint64_t rto_ns = 0;
  uint64_t next_ns = 0;  // next retransmission, or when the transaction is given up
};

struct OutSlot {
  SocketAddress local;
  SocketAddress remote;
  size_t size = 0;
  std::array<uint8_t, kMaxStunSize> bytes{};
};

uint64_t pair_priority(uint32_t controlling_priority, uint32_t controlled_priority);

}  // namespace ice_detail

struct IceAgent::Impl {
  using Pair = ice_detail::Pair;
  using PairState = ice_detail::PairState;
  using Transaction = ice_detail::Transaction;
  using TxKind = ice_detail::TxKind;
  using SocketAddress = platform::SocketAddress;

  explicit Impl(IceAgentConfig c) : config(std::move(c)), role(config.role) {}

  // ---- ice_agent_checklist.cpp ----
  void emit(IceEvent event) { events.push_back(std::move(event)); }
  void set_state(IceState next);
  void update_state();
  void update_selected();
  void switch_role(IceRole next);
  uint32_t add_remote(IceCandidate candidate);  // index, or UINT32_MAX when over the limit
  void pair_with_locals(uint32_t remote);
  void pair_with_remotes(uint32_t local);
  std::optional<uint32_t> add_pair(uint32_t local, uint32_t remote);
  std::optional<uint32_t> find_pair(const SocketAddress& local_base, const SocketAddress& remote) const;
  std::optional<uint32_t> find_local_base(const SocketAddress& base) const;
  std::optional<uint32_t> find_remote(const SocketAddress& address) const;
  void recompute_priorities();
  void unfreeze_foundation(const std::string& foundation);
  void enqueue_triggered(uint32_t pair);
  std::optional<uint32_t> next_ordinary_pair() const;  // send_check moves it to In-Progress
  bool has_check_to_send() const;
  bool nomination_due(uint64_t now) const;
  std::optional<uint32_t> best_valid_pair() const;
  void fail_pair(uint32_t pair);
  void note_pair_traffic(uint32_t pair, uint64_t now);
  uint64_t consent_interval_ns();
  uint64_t probe_due_ns() const;
  void run_timers(uint64_t now);
  IceCandidatePairInfo info(uint32_t pair) const;

  // ---- ice_agent_stun.cpp ----
  bool new_transaction_id(StunTransactionId& id);
  ice_detail::OutSlot& push_out(const SocketAddress& local, const SocketAddress& remote);
  bool send_check(uint32_t pair, TxKind kind, uint64_t now);
  void write_request(const Transaction& tx);  // (re)builds a request into a new out slot
  void send_error(const SocketAddress& local, const SocketAddress& remote, const StunMessage& request,
                  uint16_t code, std::string_view reason, bool authenticated);
  Result<void> on_request(const SocketAddress& local, const SocketAddress& remote, const StunMessage& m,
                          uint64_t now);
  Result<void> on_response(const SocketAddress& local, const SocketAddress& remote, const StunMessage& m,
                           uint64_t now);
  bool resolve_role_conflict(const SocketAddress& local, const SocketAddress& remote, const StunMessage& m);
  void on_check_success(Transaction tx, const StunMessage& m, uint64_t now);

  IceAgentConfig config;
  IceRole role;
  IceState state = IceState::new_;
  IceStats stats;
  std::string remote_ufrag, remote_pwd;
  bool have_remote_credentials = false;
  bool local_gathering_complete = false;
  bool remote_gathering_complete = false;
  bool checks_started = false;

  std::vector<ice_detail::LocalCandidate> locals;
  std::vector<IceCandidate> remotes;
  std::vector<Pair> pairs;
  std::vector<uint32_t> triggered;  // FIFO of pair indices
  std::vector<Transaction> transactions;
  std::vector<ice_detail::OutSlot> out;  // FIFO; cleared once drained, capacity kept
  size_t out_read = 0;
  std::deque<IceEvent> events;

  std::optional<uint32_t> selected;
  bool selected_nominated = false;  // as last reported in selected_pair_changed
  uint64_t now_ns = 0;            // latest time seen: "at once" for work scheduled without a time
  uint64_t next_check_ns = 0;     // pacing: no new check before this
  uint64_t first_valid_ns = 0;    // when the first pair became valid (nomination timeout)
  bool any_valid = false;
  uint64_t next_consent_ns = 0;
  uint64_t last_probe_ns = 0;
  uint32_t prflx_count = 0;
  uint32_t v4_count = 0, v6_count = 0;
};

}  // namespace tandem::transport
