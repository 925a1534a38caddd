// IceAgent: the STUN side. Building checks (RFC 8445 section 7.2.2), answering them (7.3), processing the
// responses (7.2.5), role conflicts (7.3.1.1, 7.2.5.1) and peer-reflexive candidates (7.3.1.3, 7.2.5.3.1).
#include <algorithm>
#include <cstring>

#include "core/transport/ice/ice_agent_impl.h"

namespace tandem::transport {

using ice_detail::kMs;
using platform::SocketAddress;

bool IceAgent::Impl::new_transaction_id(StunTransactionId& id) { return config.entropy(id); }

ice_detail::OutSlot& IceAgent::Impl::push_out(const SocketAddress& local, const SocketAddress& remote) {
  if (out_read > 0 && out_read == out.size()) {  // everything was taken: reuse the slots
    out.clear();
    out_read = 0;
  }
  auto& slot = out.emplace_back();
  slot.local = local;
  slot.remote = remote;
  return slot;
}

void IceAgent::Impl::write_request(const Transaction& tx) {
  const Pair& p = pairs[tx.pair];
  const auto& local = locals[p.local];
  auto& slot = push_out(local.base, remotes[p.remote].address);

  // USERNAME is "remote-ufrag:local-ufrag" for requests we send; both are at most 256 chars.
  char username[2 * 256 + 1];
  const size_t n = remote_ufrag.size() + 1 + config.local_ufrag.size();
  std::memcpy(username, remote_ufrag.data(), remote_ufrag.size());
  username[remote_ufrag.size()] = ':';
  std::memcpy(username + remote_ufrag.size() + 1, config.local_ufrag.data(), config.local_ufrag.size());

  StunBuilder b(slot.bytes, StunClass::request, stun_method::binding, tx.id);
  // PRIORITY: what this local candidate would have as a peer-reflexive one (RFC 8445 section 7.1.1).
  b.add_username(std::string_view(username, n))
      .add_priority(candidate_priority(IceCandidateType::prflx, local.local_pref, 1));
  if (tx.controlling) {
    b.add_ice_controlling(config.tie_breaker);
  } else {
    b.add_ice_controlled(config.tie_breaker);
  }
  if (tx.use_candidate) b.add_use_candidate();
  b.add_message_integrity(key_bytes(remote_pwd)).add_fingerprint();
  const auto built = b.finish();
  slot.size = built.ok() ? built->size() : 0;  // cannot fail: credentials are length-checked
}

bool IceAgent::Impl::send_check(uint32_t pair, TxKind kind, uint64_t now) {
  Transaction tx;
  if (!new_transaction_id(tx.id)) return false;
  tx.pair = pair;
  tx.kind = kind;
  tx.controlling = role == IceRole::controlling;
  tx.use_candidate = kind == TxKind::check && tx.controlling && pairs[pair].nominating;
  tx.retransmit = kind == TxKind::check;
  tx.rto_ns = uint64_t{config.initial_rto_ms} * kMs;
  // A consent check is sent once (RFC 7675: each interval a fresh transaction); a response counts while it is
  // plausible, for one interval.
  tx.next_ns = now + (kind == TxKind::check ? tx.rto_ns : uint64_t{config.consent_interval_ms} * kMs);
  if (kind == TxKind::check) {
    // A new check on a pair supersedes older ones: they stop retransmitting but their answers still count
    // (RFC 8445 section 7.3.1.4's cancellation).
    for (Transaction& old : transactions) {
      if (old.pair == pair && old.kind == TxKind::check) old.retransmit = false;
    }
    if (pairs[pair].state != PairState::succeeded) pairs[pair].state = PairState::in_progress;
    ++stats.checks_sent;
    checks_started = true;
  } else {
    ++stats.consent_checks_sent;
  }
  write_request(tx);
  transactions.push_back(tx);
  return true;
}

void IceAgent::Impl::send_error(const SocketAddress& local, const SocketAddress& remote, const StunMessage& request,
                                uint16_t code, std::string_view reason, bool authenticated) {
  auto& slot = push_out(local, remote);
  StunBuilder b(slot.bytes, StunClass::error, stun_method::binding, request.transaction_id());
  b.add_error_code(code, reason);
  if (code == 420) b.add_unknown_attributes(request.unknown_required());
  // 400 and 401 answer requests we could not authenticate: RFC 8489 section 9.1.3 sends those without
  // MESSAGE-INTEGRITY.
  if (authenticated) b.add_message_integrity(key_bytes(config.local_pwd));
  b.add_fingerprint();
  const auto built = b.finish();
  slot.size = built.ok() ? built->size() : 0;
  ++stats.error_responses_sent;
}

bool IceAgent::Impl::resolve_role_conflict(const SocketAddress& local, const SocketAddress& remote,
                                           const StunMessage& m) {
  // RFC 8445 section 7.3.1.1: the larger tie-breaker keeps (or takes) the controlling role.
  if (role == IceRole::controlling && m.ice_controlling()) {
    ++stats.role_conflicts;
    if (config.tie_breaker >= *m.ice_controlling()) {
      send_error(local, remote, m, 487, "Role Conflict", true);
      return false;
    }
    switch_role(IceRole::controlled);
  } else if (role == IceRole::controlled && m.ice_controlled()) {
    ++stats.role_conflicts;
    if (config.tie_breaker < *m.ice_controlled()) {
      send_error(local, remote, m, 487, "Role Conflict", true);
      return false;
    }
    switch_role(IceRole::controlling);
  }
  return true;
}

Result<void> IceAgent::Impl::on_request(const SocketAddress& local, const SocketAddress& remote,
                                        const StunMessage& m, uint64_t now) {
  const auto username = m.username();
  if (!username || !m.has_message_integrity()) {
    ++stats.integrity_failures;
    send_error(local, remote, m, 400, "Bad Request", false);
    return Error{Errc::authentication_failed, "ice: check without USERNAME or MESSAGE-INTEGRITY"};
  }
  // USERNAME is "our-ufrag:their-ufrag"; the second half is checked once we know it.
  const size_t colon = username->find(':');
  const bool user_ok = colon != std::string_view::npos && username->substr(0, colon) == config.local_ufrag &&
                       (!have_remote_credentials || username->substr(colon + 1) == remote_ufrag);
  if (!user_ok || !m.verify_message_integrity(key_bytes(config.local_pwd))) {
    ++stats.integrity_failures;
    send_error(local, remote, m, 401, "Unauthorized", false);
    return Error{Errc::authentication_failed, "ice: check with a wrong USERNAME or MESSAGE-INTEGRITY"};
  }
  ++stats.checks_received;
  checks_started = true;
  if (!m.unknown_required().empty()) {
    send_error(local, remote, m, 420, "Unknown Attribute", true);
    return {};
  }
  if (!m.priority()) {
    send_error(local, remote, m, 400, "Bad Request", true);
    return Error{Errc::protocol_error, "ice: check without PRIORITY"};
  }
  if (!resolve_role_conflict(local, remote, m)) return {};

  // A check from an address we were not told about: a peer-reflexive candidate (RFC 8445 section 7.3.1.3).
  // This is how we learn Chromium's real host addresses, which it signals only as mDNS names.
  if (!find_remote(remote)) {
    IceCandidate c;
    c.foundation = "p" + std::to_string(++prflx_count);  // arbitrary, distinct from signalled ones
    c.priority = *m.priority();
    c.address = remote;
    c.type = IceCandidateType::prflx;
    const uint32_t index = add_remote(std::move(c));
    if (index != UINT32_MAX) {
      ++stats.prflx_candidates;
      pair_with_locals(index);
    } else {
      ++stats.ignored_candidates;
    }
  }

  auto& slot = push_out(local, remote);
  StunBuilder b(slot.bytes, StunClass::success, stun_method::binding, m.transaction_id());
  b.add_xor_mapped_address(remote).add_message_integrity(key_bytes(config.local_pwd)).add_fingerprint();
  const auto built = b.finish();
  slot.size = built.ok() ? built->size() : 0;
  ++stats.responses_sent;

  const auto pair = find_pair(local, remote);
  if (!pair) return {};  // over the limits: answered, not checked
  note_pair_traffic(*pair, now);
  // Triggered check (RFC 8445 section 7.3.1.4). A Succeeded pair needs none; an In-Progress one is checked
  // again at once (send_check cancels the old transaction's retransmissions).
  if (pairs[*pair].state != PairState::succeeded) {
    pairs[*pair].state = PairState::waiting;
    enqueue_triggered(*pair);
  }
  // Nomination by the controlling peer (section 7.3.1.5).
  if (m.use_candidate() && role == IceRole::controlled) {
    bool nominated = false;
    for (Pair& p : pairs) {
      if (p.valid && locals[p.local].base == local && remotes[p.remote].address == remote) {
        p.nominated = nominated = true;
      }
    }
    if (!nominated) pairs[*pair].nominate_on_success = true;
  }
  return {};
}

Result<void> IceAgent::Impl::on_response(const SocketAddress& local, const SocketAddress& remote,
                                         const StunMessage& m, uint64_t now) {
  const auto it = std::find_if(transactions.begin(), transactions.end(),
                               [&](const Transaction& t) { return t.id == m.transaction_id(); });
  if (it == transactions.end()) {
    ++stats.unmatched_responses;
    return {};
  }
  // Unauthenticated answers (a 401 from a peer that does not know our password, or a forgery) are dropped and
  // the transaction goes on: RFC 8489 section 9.1.4.
  if (!m.verify_message_integrity(key_bytes(remote_pwd))) {
    ++stats.integrity_failures;
    return Error{Errc::authentication_failed, "ice: response failed MESSAGE-INTEGRITY"};
  }
  const Transaction tx = *it;
  transactions.erase(it);
  const Pair& p = pairs[tx.pair];
  note_pair_traffic(tx.pair, now);
  if (m.message_class() == StunClass::error) ++stats.error_responses_received;
  else ++stats.responses_received;

  // Section 7.2.5.2.1: the response must come back on the path the request took.
  if (locals[p.local].base != local || remotes[p.remote].address != remote) {
    if (tx.kind == TxKind::check) fail_pair(tx.pair);
    return {};
  }
  if (m.message_class() == StunClass::error) {
    const auto code = m.error_code();
    if (code && code->code == 487 && tx.kind == TxKind::check) {
      // Section 7.2.5.1: take the role opposite to the one the request claimed, then check again.
      ++stats.role_conflicts;
      switch_role(tx.controlling ? IceRole::controlled : IceRole::controlling);
      if (pairs[tx.pair].state != PairState::succeeded) pairs[tx.pair].state = PairState::waiting;
      enqueue_triggered(tx.pair);
    } else if (tx.kind == TxKind::check) {
      fail_pair(tx.pair);
    }
    return {};
  }
  on_check_success(tx, m, now);
  return {};
}

void IceAgent::Impl::on_check_success(Transaction tx, const StunMessage& m, uint64_t now) {
  const uint32_t checked = tx.pair;
  const SocketAddress base = locals[pairs[checked].local].base;
  const SocketAddress mapped = m.xor_mapped_address().value_or(m.mapped_address().value_or(base));

  // Section 7.2.5.3: the valid pair has the local candidate the peer saw us as. Behind a NAT that is a new,
  // peer-reflexive local candidate with the same base; on a direct path it is the checked pair itself.
  uint32_t valid = checked;
  if (mapped != locals[pairs[checked].local].candidate.address) {
    std::optional<uint32_t> local;
    for (uint32_t i = 0; i < locals.size(); ++i) {
      if (locals[i].candidate.address == mapped && locals[i].base == base) local = i;
    }
    if (!local) {
      ice_detail::LocalCandidate c;
      c.base = base;
      c.local_pref = locals[pairs[checked].local].local_pref;
      c.candidate.foundation = candidate_foundation(IceCandidateType::prflx, base.ip, IceProtocol::udp);
      c.candidate.priority = candidate_priority(IceCandidateType::prflx, c.local_pref, 1);
      c.candidate.address = mapped;
      c.candidate.type = IceCandidateType::prflx;
      locals.push_back(std::move(c));
      local = static_cast<uint32_t>(locals.size() - 1);
    }
    if (const auto added = add_pair(*local, pairs[checked].remote)) valid = *added;
  }

  if (tx.kind == TxKind::check) {
    pairs[checked].state = PairState::succeeded;
    unfreeze_foundation(pairs[checked].foundation);
  }
  Pair& v = pairs[valid];
  v.state = PairState::succeeded;
  v.valid = true;
  v.consent_ns = now;
  v.last_received_ns = std::max(v.last_received_ns, now);
  pairs[checked].consent_ns = now;
  if (!any_valid) {
    any_valid = true;
    first_valid_ns = now;
  }
  if (tx.use_candidate && role == IceRole::controlling) v.nominated = true;
  if (role == IceRole::controlled && pairs[checked].nominate_on_success) v.nominated = true;
  if (tx.use_candidate) pairs[checked].nominating = false;
}

}  // namespace tandem::transport
