// IceAgent: candidates, pairs and the checklist (RFC 8445 section 6), scheduling and state.
#include <algorithm>

#include "core/transport/ice/ice_agent_impl.h"

namespace tandem::transport {

using ice_detail::kMs;
using ice_detail::Pair;
using ice_detail::PairState;
using ice_detail::Transaction;
using ice_detail::TxKind;
using platform::SocketAddress;

namespace {

bool same_family(const SocketAddress& a, const SocketAddress& b) { return a.ip.family == b.ip.family; }

}  // namespace

uint64_t ice_detail::pair_priority(uint32_t g, uint32_t d) {
  // RFC 8445 section 6.1.2.3.
  return (uint64_t{std::min(g, d)} << 32) + 2 * uint64_t{std::max(g, d)} + (g > d ? 1 : 0);
}

// ---- candidates and pairs ----

std::optional<uint32_t> IceAgent::Impl::find_local_base(const SocketAddress& base) const {
  for (uint32_t i = 0; i < locals.size(); ++i) {
    if (locals[i].candidate.type == IceCandidateType::host && locals[i].base == base) return i;
  }
  return std::nullopt;
}

std::optional<uint32_t> IceAgent::Impl::find_remote(const SocketAddress& address) const {
  for (uint32_t i = 0; i < remotes.size(); ++i) {
    if (remotes[i].address == address) return i;
  }
  return std::nullopt;
}

std::optional<uint32_t> IceAgent::Impl::find_pair(const SocketAddress& local_base,
                                                  const SocketAddress& remote) const {
  for (uint32_t i = 0; i < pairs.size(); ++i) {
    if (locals[pairs[i].local].base == local_base && remotes[pairs[i].remote].address == remote) return i;
  }
  return std::nullopt;
}

uint32_t IceAgent::Impl::add_remote(IceCandidate candidate) {
  if (remotes.size() >= config.max_remote_candidates) return UINT32_MAX;
  remotes.push_back(std::move(candidate));
  return static_cast<uint32_t>(remotes.size() - 1);
}

void IceAgent::Impl::pair_with_locals(uint32_t remote) {
  for (uint32_t l = 0; l < locals.size(); ++l) {
    // Only candidates we send from directly form pairs: a reflexive candidate's pairs would duplicate its
    // base's (RFC 8445 section 6.1.2.4), which is why srflx candidates can join `locals` later unchanged.
    if (locals[l].candidate.type != IceCandidateType::host) continue;
    if (same_family(locals[l].base, remotes[remote].address)) add_pair(l, remote);
  }
}

void IceAgent::Impl::pair_with_remotes(uint32_t local) {
  for (uint32_t r = 0; r < remotes.size(); ++r) {
    if (same_family(locals[local].base, remotes[r].address)) add_pair(local, r);
  }
}

std::optional<uint32_t> IceAgent::Impl::add_pair(uint32_t local, uint32_t remote) {
  for (uint32_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].local == local && pairs[i].remote == remote) return i;
  }
  if (pairs.size() >= config.max_pairs) return std::nullopt;
  Pair p;
  p.local = local;
  p.remote = remote;
  p.foundation = locals[local].candidate.foundation + ":" + remotes[remote].foundation;
  const uint32_t lp = locals[local].candidate.priority, rp = remotes[remote].priority;
  p.priority = role == IceRole::controlling ? ice_detail::pair_priority(lp, rp) : ice_detail::pair_priority(rp, lp);
  // RFC 8838 section 10: a new pair waits unless a pair of its foundation is already being worked on (then it
  // stays frozen until that one succeeds).
  bool sibling_active = false, sibling_succeeded = false;
  for (const Pair& q : pairs) {
    if (q.foundation != p.foundation) continue;
    sibling_succeeded = sibling_succeeded || q.state == PairState::succeeded;
    sibling_active = sibling_active || q.state == PairState::frozen || q.state == PairState::waiting ||
                     q.state == PairState::in_progress;
  }
  p.state = sibling_active && !sibling_succeeded ? PairState::frozen : PairState::waiting;
  pairs.push_back(std::move(p));
  return static_cast<uint32_t>(pairs.size() - 1);
}

void IceAgent::Impl::recompute_priorities() {
  for (Pair& p : pairs) {
    const uint32_t lp = locals[p.local].candidate.priority, rp = remotes[p.remote].priority;
    p.priority = role == IceRole::controlling ? ice_detail::pair_priority(lp, rp) : ice_detail::pair_priority(rp, lp);
  }
}

void IceAgent::Impl::switch_role(IceRole next) {
  if (role == next) return;
  role = next;
  recompute_priorities();
  for (Pair& p : pairs) p.nominating = false;  // only a controlling agent nominates
  IceEvent e;
  e.type = IceEventType::role_changed;
  e.role = next;
  emit(std::move(e));
}

void IceAgent::Impl::unfreeze_foundation(const std::string& foundation) {
  for (Pair& p : pairs) {
    if (p.state == PairState::frozen && p.foundation == foundation) p.state = PairState::waiting;
  }
}

void IceAgent::Impl::enqueue_triggered(uint32_t pair) {
  if (pairs[pair].queued) return;
  pairs[pair].queued = true;
  triggered.push_back(pair);
}

// RFC 8445 section 6.1.4.2: the best Waiting pair; failing that, the best Frozen pair whose foundation is not
// being checked already.
std::optional<uint32_t> IceAgent::Impl::next_ordinary_pair() const {
  std::optional<uint32_t> best;
  for (uint32_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].state == PairState::waiting && (!best || pairs[i].priority > pairs[*best].priority)) best = i;
  }
  if (best) return best;
  for (uint32_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].state != PairState::frozen) continue;
    const bool busy = std::any_of(pairs.begin(), pairs.end(), [&](const Pair& q) {
      return q.foundation == pairs[i].foundation && (q.state == PairState::waiting || q.state == PairState::in_progress);
    });
    if (!busy && (!best || pairs[i].priority > pairs[*best].priority)) best = i;
  }
  return best;
}

bool IceAgent::Impl::has_check_to_send() const {
  if (!have_remote_credentials || state == IceState::closed || state == IceState::failed) return false;
  if (!triggered.empty()) return true;
  // Ordinary checks stop once a pair is nominated (RFC 8445 section 8.1.2: the checklist is Completed).
  if (std::any_of(pairs.begin(), pairs.end(), [](const Pair& p) { return p.nominated; })) return false;
  return next_ordinary_pair().has_value();
}

std::optional<uint32_t> IceAgent::Impl::best_valid_pair() const {
  std::optional<uint32_t> best;
  for (uint32_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].valid && (!best || pairs[i].priority > pairs[*best].priority)) best = i;
  }
  return best;
}

bool IceAgent::Impl::nomination_due(uint64_t now) const {
  if (role != IceRole::controlling || !have_remote_credentials) return false;
  for (const Pair& p : pairs) {
    if (p.nominated || p.nominating) return false;
  }
  const auto best = best_valid_pair();
  if (!best) return false;
  if (now >= first_valid_ns + config.nomination_timeout_ms * kMs) return true;
  // Nominate once no pair still being checked could beat the best valid one.
  return std::none_of(pairs.begin(), pairs.end(), [&](const Pair& p) {
    return p.priority > pairs[*best].priority &&
           (p.state == PairState::frozen || p.state == PairState::waiting || p.state == PairState::in_progress);
  });
}

void IceAgent::Impl::fail_pair(uint32_t index) {
  Pair& p = pairs[index];
  if (p.state != PairState::failed) ++stats.pairs_failed;
  p.state = PairState::failed;
  p.valid = false;
  p.nominated = false;
  p.nominating = false;
}

void IceAgent::Impl::note_pair_traffic(uint32_t pair, uint64_t now) {
  pairs[pair].last_received_ns = std::max(pairs[pair].last_received_ns, now);
}

IceCandidatePairInfo IceAgent::Impl::info(uint32_t index) const {
  const Pair& p = pairs[index];
  return IceCandidatePairInfo{locals[p.local].base,      remotes[p.remote].address, locals[p.local].candidate.type,
                              remotes[p.remote].type,    p.priority,                p.nominated};
}

// ---- scheduling and state ----

uint64_t IceAgent::Impl::consent_interval_ns() {
  uint8_t r[2] = {0, 0};
  if (!config.entropy(r)) r[0] = r[1] = 0;
  const uint64_t permille = 800 + (uint64_t{r[0]} << 8 | r[1]) % 401;  // RFC 7675 section 5.1: 0.8-1.2
  return config.consent_interval_ms * kMs * permille / 1000;
}

uint64_t IceAgent::Impl::probe_due_ns() const {
  const Pair& p = pairs[*selected];
  return std::min(next_consent_ns, std::max(p.last_received_ns, last_probe_ns) + config.keepalive_ms * kMs);
}

void IceAgent::Impl::run_timers(uint64_t now) {
  // Retransmissions and given-up transactions.
  for (size_t i = 0; i < transactions.size();) {
    Transaction& tx = transactions[i];
    if (tx.next_ns > now) {
      ++i;
      continue;
    }
    if (tx.retransmit && tx.transmissions < config.max_check_transmissions) {
      write_request(tx);
      ++tx.transmissions;
      ++stats.retransmissions;
      tx.rto_ns = std::min(tx.rto_ns * 2, uint64_t{config.max_rto_ms} * kMs);
      tx.next_ns = now + tx.rto_ns;
      ++i;
      continue;
    }
    const Transaction done = tx;
    transactions.erase(transactions.begin() + static_cast<long>(i));
    if (done.kind != TxKind::check || !done.retransmit) continue;  // consent or cancelled: no verdict
    const bool other_live = std::any_of(transactions.begin(), transactions.end(), [&](const Transaction& t) {
      return t.pair == done.pair && t.kind == TxKind::check;
    });
    if (done.use_candidate || (!other_live && pairs[done.pair].state == PairState::in_progress)) fail_pair(done.pair);
  }
  update_selected();

  // RFC 7675: consent expires without an authenticated response for consent_timeout_ms.
  if (selected && now >= pairs[*selected].consent_ns + config.consent_timeout_ms * kMs) {
    transactions.clear();
    triggered.clear();
    selected.reset();
    IceEvent e;
    e.type = IceEventType::selected_pair_changed;
    emit(std::move(e));
    set_state(IceState::failed);
    return;
  }

  if (nomination_due(now)) {
    const uint32_t best = *best_valid_pair();
    pairs[best].nominating = true;
    enqueue_triggered(best);
  }

  if (now >= next_check_ns && has_check_to_send()) {
    std::optional<uint32_t> pick;
    while (!pick && !triggered.empty()) {
      pick = triggered.front();
      triggered.erase(triggered.begin());
      pairs[*pick].queued = false;
      // A pair that succeeded while queued needs no triggered check, unless it is to carry a nomination.
      if (pairs[*pick].state == PairState::succeeded && !pairs[*pick].nominating) pick.reset();
    }
    if (!pick && std::none_of(pairs.begin(), pairs.end(), [](const Pair& p) { return p.nominated; })) {
      pick = next_ordinary_pair();
    }
    if (pick && send_check(*pick, TxKind::check, now)) next_check_ns = now + config.pacing_ms * kMs;
  }

  if (selected && now >= probe_due_ns()) {
    send_check(*selected, TxKind::consent, now);
    last_probe_ns = now;
    next_consent_ns = now + consent_interval_ns();
  }
}

void IceAgent::Impl::update_selected() {
  if (state == IceState::closed || state == IceState::failed) return;
  std::optional<uint32_t> best;
  for (uint32_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].valid && pairs[i].nominated && (!best || pairs[i].priority > pairs[*best].priority)) best = i;
  }
  if (!best) best = best_valid_pair();
  // A nomination of the pair already selected is reported too: the event carries `nominated`.
  const bool nominated = best && pairs[*best].nominated;
  if (best == selected && nominated == selected_nominated) return;
  if (!selected && best) {
    next_consent_ns = now_ns + consent_interval_ns();
    last_probe_ns = now_ns;
  }
  selected = best;
  selected_nominated = best && pairs[*best].nominated;
  IceEvent e;
  e.type = IceEventType::selected_pair_changed;
  if (best) e.pair = info(*best);
  emit(std::move(e));
}

void IceAgent::Impl::set_state(IceState next) {
  if (next == state) return;
  state = next;
  IceEvent e;
  e.type = IceEventType::state_changed;
  e.state = next;
  emit(std::move(e));
}

void IceAgent::Impl::update_state() {
  if (state == IceState::closed || state == IceState::failed) return;
  if (selected) {
    const Pair& p = pairs[*selected];
    if (now_ns >= p.last_received_ns + config.disconnected_timeout_ms * kMs) {
      set_state(IceState::disconnected);
    } else if (p.nominated && local_gathering_complete && remote_gathering_complete) {
      set_state(IceState::completed);
    } else {
      set_state(IceState::connected);
    }
    return;
  }
  const bool all_failed = !pairs.empty() && std::all_of(pairs.begin(), pairs.end(), [](const Pair& p) {
    return p.state == PairState::failed;
  });
  if (all_failed && local_gathering_complete && remote_gathering_complete && triggered.empty()) {
    transactions.clear();
    set_state(IceState::failed);
  } else if (checks_started) {
    set_state(IceState::checking);
  }
}

}  // namespace tandem::transport
