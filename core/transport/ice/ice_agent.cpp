// IceAgent: the public API. The checklist, scheduling and state are in ice_agent_checklist.cpp, building and
// answering STUN in ice_agent_stun.cpp.
#include "core/transport/ice/ice_agent.h"

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

bool valid_ice_chars(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
  });
}

}  // namespace

std::string_view to_string(IceRole role) { return role == IceRole::controlling ? "controlling" : "controlled"; }

std::string_view to_string(IceState state) {
  switch (state) {
    case IceState::new_: return "new";
    case IceState::checking: return "checking";
    case IceState::connected: return "connected";
    case IceState::completed: return "completed";
    case IceState::failed: return "failed";
    case IceState::disconnected: return "disconnected";
    case IceState::closed: return "closed";
  }
  return "new";
}

// ---- public API ----

Result<IceAgent> IceAgent::create(IceAgentConfig config) {
  if (!config.entropy) return Error{Errc::invalid_argument, "ice: an entropy source is required"};
  if (!valid_ice_chars(config.local_ufrag, 4, 256) || !valid_ice_chars(config.local_pwd, 22, 256)) {
    return Error{Errc::invalid_argument, "ice: ufrag must be 4-256 and pwd 22-256 ice-chars"};
  }
  if (config.pacing_ms == 0 || config.initial_rto_ms == 0 || config.max_check_transmissions == 0 ||
      config.consent_interval_ms == 0 || config.keepalive_ms == 0) {
    return Error{Errc::invalid_argument, "ice: timer settings must not be zero"};
  }
  while (config.tie_breaker == 0) {
    uint8_t b[8];
    if (!config.entropy(b)) return Error{Errc::internal, "ice: entropy source failed"};
    for (uint8_t x : b) config.tie_breaker = config.tie_breaker << 8 | x;
  }
  auto impl = std::make_unique<Impl>(std::move(config));
  impl->out.reserve(8);
  impl->transactions.reserve(16);
  return IceAgent(std::move(impl));
}

IceAgent::IceAgent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IceAgent::IceAgent(IceAgent&&) noexcept = default;
IceAgent& IceAgent::operator=(IceAgent&&) noexcept = default;
IceAgent::~IceAgent() = default;

IceState IceAgent::state() const { return impl_->state; }
IceRole IceAgent::role() const { return impl_->role; }
uint64_t IceAgent::tie_breaker() const { return impl_->config.tie_breaker; }
const IceStats& IceAgent::stats() const { return impl_->stats; }

Result<IceCandidate> IceAgent::add_local_address(const SocketAddress& base) {
  Impl& s = *impl_;
  if (s.state == IceState::closed) return Error{Errc::disposed, "ice: closed"};
  if (base.port == 0) return Error{Errc::invalid_argument, "ice: port 0"};
  if (base.ip.is_link_local()) return Error{Errc::invalid_argument, "ice: link-local addresses are not usable"};
  if (s.find_local_base(base)) return Error{Errc::invalid_argument, "ice: address already added"};

  ice_detail::LocalCandidate local;
  local.base = base;
  local.local_pref = local_preference(base.ip, base.ip.is_ipv6() ? s.v6_count++ : s.v4_count++);
  IceCandidate& c = local.candidate;
  c.foundation = candidate_foundation(IceCandidateType::host, base.ip, IceProtocol::udp);
  c.priority = candidate_priority(IceCandidateType::host, local.local_pref, 1);
  c.address = base;
  c.type = IceCandidateType::host;
  s.locals.push_back(local);
  const auto index = static_cast<uint32_t>(s.locals.size() - 1);
  s.pair_with_remotes(index);
  IceEvent e;
  e.type = IceEventType::local_candidate;
  e.candidate = c.format();
  s.emit(std::move(e));
  return c;
}

void IceAgent::set_local_gathering_complete() {
  Impl& s = *impl_;
  if (s.local_gathering_complete || s.state == IceState::closed) return;
  s.local_gathering_complete = true;
  IceEvent e;
  e.type = IceEventType::gathering_complete;
  s.emit(std::move(e));
  s.update_state();
}

Result<void> IceAgent::set_remote_credentials(std::string_view ufrag, std::string_view pwd) {
  Impl& s = *impl_;
  if (s.state == IceState::closed) return Error{Errc::disposed, "ice: closed"};
  if (!valid_ice_chars(ufrag, 4, 256) || !valid_ice_chars(pwd, 22, 256)) {
    return Error{Errc::invalid_argument, "ice: remote ufrag must be 4-256 and pwd 22-256 ice-chars"};
  }
  if (s.have_remote_credentials) {
    if (s.remote_ufrag == ufrag && s.remote_pwd == pwd) return {};
    return Error{Errc::invalid_argument, "ice: changing remote credentials (ICE restart) is not supported"};
  }
  s.remote_ufrag = std::string(ufrag);
  s.remote_pwd = std::string(pwd);
  s.have_remote_credentials = true;
  return {};
}

Result<void> IceAgent::add_remote_candidate(const IceCandidate& candidate) {
  Impl& s = *impl_;
  if (s.state == IceState::closed) return Error{Errc::disposed, "ice: closed"};
  if (candidate.unresolved() || candidate.protocol != IceProtocol::udp || candidate.component != 1 ||
      candidate.address.ip.is_link_local() || candidate.address.port == 0) {
    ++s.stats.ignored_candidates;
    return {};
  }
  if (const auto known = s.find_remote(candidate.address)) {
    IceCandidate& existing = s.remotes[*known];
    if (existing.type == IceCandidateType::prflx && candidate.type != IceCandidateType::prflx) {
      // RFC 8445 section 7.3.1.3 / RFC 8838: the signalled candidate tells what the prflx one really was.
      existing.type = candidate.type;
      existing.priority = candidate.priority;
      existing.foundation = candidate.foundation;
      for (Pair& p : s.pairs) {
        if (p.remote == *known) p.foundation = s.locals[p.local].candidate.foundation + ":" + existing.foundation;
      }
      s.recompute_priorities();
    } else {
      ++s.stats.duplicate_candidates;
    }
    return {};
  }
  const uint32_t index = s.add_remote(candidate);
  if (index == UINT32_MAX) {
    ++s.stats.ignored_candidates;
    return {};
  }
  s.pair_with_locals(index);
  return {};
}

void IceAgent::set_remote_gathering_complete() {
  Impl& s = *impl_;
  if (s.state == IceState::closed) return;
  s.remote_gathering_complete = true;
  s.update_state();
}

Result<void> IceAgent::handle_stun(const SocketAddress& local, const SocketAddress& remote,
                                   std::span<const uint8_t> bytes, uint64_t now_ns) {
  Impl& s = *impl_;
  if (s.state == IceState::closed) return Error{Errc::disposed, "ice: closed"};
  s.now_ns = std::max(s.now_ns, now_ns);
  auto parsed = StunMessage::parse(bytes);
  if (!parsed.ok()) {
    ++s.stats.malformed_stun;
    return parsed.error();
  }
  const StunMessage& m = *parsed;
  if (m.has_fingerprint() && !m.verify_fingerprint()) {
    ++s.stats.malformed_stun;
    return Error{Errc::malformed_packet, "ice: bad FINGERPRINT"};
  }
  if (m.method() != stun_method::binding) {
    ++s.stats.malformed_stun;
    return Error{Errc::malformed_packet, "ice: not a binding message"};
  }
  if (!s.find_local_base(local)) return Error{Errc::invalid_argument, "ice: datagram on an unknown local address"};
  if (s.state == IceState::failed) return {};

  Result<void> result;
  switch (m.message_class()) {
    case StunClass::request: result = s.on_request(local, remote, m, s.now_ns); break;
    case StunClass::success:
    case StunClass::error: result = s.on_response(local, remote, m, s.now_ns); break;
    case StunClass::indication: note_received(local, remote, now_ns); break;
  }
  s.update_selected();
  s.update_state();
  return result;
}

bool IceAgent::note_received(const SocketAddress& local, const SocketAddress& remote, uint64_t now_ns) {
  Impl& s = *impl_;
  if (s.state == IceState::closed || s.state == IceState::failed) return false;
  s.now_ns = std::max(s.now_ns, now_ns);
  bool valid = false;
  const auto matches = [&](const Pair& p) {
    return s.locals[p.local].base == local && s.remotes[p.remote].address == remote;
  };
  if (s.selected && matches(s.pairs[*s.selected])) {
    s.note_pair_traffic(*s.selected, s.now_ns);  // the common case, one comparison
    valid = true;
  } else {
    for (uint32_t i = 0; i < s.pairs.size(); ++i) {
      if (!matches(s.pairs[i])) continue;
      s.note_pair_traffic(i, s.now_ns);
      valid = valid || s.pairs[i].valid;
    }
  }
  if (s.state == IceState::disconnected) s.update_state();
  return valid;
}

std::optional<IceTransmit> IceAgent::poll_transmit() {
  Impl& s = *impl_;
  if (s.out_read >= s.out.size()) {
    s.out.clear();
    s.out_read = 0;
    return std::nullopt;
  }
  const auto& slot = s.out[s.out_read++];
  return IceTransmit{slot.local, slot.remote, std::span<const uint8_t>(slot.bytes.data(), slot.size)};
}

std::optional<IceEvent> IceAgent::poll_event() {
  Impl& s = *impl_;
  if (s.events.empty()) return std::nullopt;
  IceEvent e = std::move(s.events.front());
  s.events.pop_front();
  return e;
}

std::optional<uint64_t> IceAgent::next_timeout() const {
  const Impl& s = *impl_;
  if (s.state == IceState::closed || s.state == IceState::failed) return std::nullopt;
  uint64_t t = UINT64_MAX;
  for (const auto& tx : s.transactions) t = std::min(t, tx.next_ns);
  if (s.has_check_to_send()) t = std::min(t, s.next_check_ns);
  if (s.nomination_due(s.now_ns)) {
    t = std::min(t, s.now_ns);
  } else if (s.role == IceRole::controlling && s.any_valid &&
             std::none_of(s.pairs.begin(), s.pairs.end(), [](const Pair& p) { return p.nominated; })) {
    const uint64_t deadline = s.first_valid_ns + s.config.nomination_timeout_ms * kMs;
    if (deadline > s.now_ns) t = std::min(t, deadline);
  }
  if (s.selected) {
    const Pair& p = s.pairs[*s.selected];
    t = std::min(t, s.probe_due_ns());
    if (s.state != IceState::disconnected) t = std::min(t, p.last_received_ns + s.config.disconnected_timeout_ms * kMs);
    t = std::min(t, p.consent_ns + s.config.consent_timeout_ms * kMs);
  }
  if (t == UINT64_MAX) return std::nullopt;
  return t;
}

void IceAgent::handle_timeout(uint64_t now_ns) {
  Impl& s = *impl_;
  if (s.state == IceState::closed || s.state == IceState::failed) return;
  s.now_ns = std::max(s.now_ns, now_ns);
  s.run_timers(s.now_ns);
  s.update_selected();
  s.update_state();
}

std::optional<IceCandidatePairInfo> IceAgent::selected_pair() const {
  const Impl& s = *impl_;
  if (!s.selected) return std::nullopt;
  return s.info(*s.selected);
}

void IceAgent::close() {
  Impl& s = *impl_;
  if (s.state == IceState::closed) return;
  s.transactions.clear();
  s.triggered.clear();
  s.out.clear();
  s.out_read = 0;
  s.selected.reset();
  s.set_state(IceState::closed);
}

}  // namespace tandem::transport
