// Two ICE agents joined by a pair of simulated links (sim::NetworkLink, one per direction), driven in fake
// time. Each datagram's source and destination travel beside it (indexed by the link's send order), and a
// datagram to an address the receiver does not own is lost, as on a real network.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/sim/network.h"
#include "core/sim/rng.h"
#include "core/transport/ice/ice_agent.h"
#include "core/transport/net/address_text.h"
#include "core/transport/stun/demux.h"

namespace tandem::transport::test {

inline constexpr uint64_t kMs = 1'000'000;
inline constexpr uint64_t kStart = 1'000'000'000;

inline platform::SocketAddress addr(const char* text) { return *parse_socket_address(text); }

inline EntropySource seeded_entropy(uint64_t seed) {
  auto rng = std::make_shared<sim::Rng>(seed);
  return [rng](std::span<uint8_t> out) {
    for (auto& b : out) b = static_cast<uint8_t>(rng->next_u64() >> 56);
    return true;
  };
}

struct PeerSpec {
  IceRole role = IceRole::controlling;
  std::string ufrag;
  std::string pwd;
  uint64_t tie_breaker = 0;
  uint64_t seed = 1;
  std::vector<platform::SocketAddress> addresses;
};

struct Peer {
  explicit Peer(const PeerSpec& s, const std::function<void(IceAgentConfig&)>& tweak = {})
      : spec(s), agent(make(s, tweak)) {}

  static IceAgent make(const PeerSpec& s, const std::function<void(IceAgentConfig&)>& tweak) {
    IceAgentConfig c;
    c.role = s.role;
    c.local_ufrag = s.ufrag;
    c.local_pwd = s.pwd;
    c.tie_breaker = s.tie_breaker;
    c.entropy = seeded_entropy(s.seed);
    if (tweak) tweak(c);
    auto a = IceAgent::create(std::move(c));
    REQUIRE(a.ok());
    return std::move(a).value();
  }

  void gather(bool complete = true, uint64_t now = kStart) {
    for (const auto& a : spec.addresses) REQUIRE(agent.add_local_address(a).ok());
    if (complete) agent.set_local_gathering_complete();
    take_events(now);
  }
  void take_events(uint64_t now) {
    while (auto e = agent.poll_event()) {
      switch (e->type) {
        case IceEventType::local_candidate: candidates.push_back(e->candidate); break;
        case IceEventType::gathering_complete: gathering_complete = true; break;
        case IceEventType::state_changed: states.emplace_back(now, e->state); break;
        case IceEventType::selected_pair_changed: selections.push_back(e->pair); break;
        case IceEventType::role_changed: role_changes.push_back(e->role); break;
      }
    }
  }
  bool connected() const {
    return agent.state() == IceState::connected || agent.state() == IceState::completed;
  }
  bool has_state(IceState s) const {
    return std::any_of(states.begin(), states.end(), [&](const auto& e) { return e.second == s; });
  }
  std::optional<uint64_t> first(IceState s) const {
    for (const auto& e : states) {
      if (e.second == s) return e.first;
    }
    return std::nullopt;
  }

  PeerSpec spec;
  IceAgent agent;
  std::vector<std::string> candidates;  // formatted local candidates, as signalling would carry them
  bool gathering_complete = false;
  std::vector<std::pair<uint64_t, IceState>> states;
  std::vector<IceRole> role_changes;
  std::vector<std::optional<IceCandidatePairInfo>> selections;
  bool alive = true;  // false: not driven, and datagrams to it vanish
};

inline sim::NetworkLink make_link(uint64_t seed, const sim::Impairments& m) {
  sim::LinkConfig c;
  c.seed = seed;
  c.impairments = m;
  auto link = sim::NetworkLink::create(c);
  REQUIRE(link.ok());
  return std::move(link).value();
}

class IceNet {
 public:
  IceNet(Peer& a, Peer& b, const sim::Impairments& m = {}, uint64_t seed = 1)
      : a_(a), b_(b), ab_(make_link(seed * 2 + 1, m)), ba_(make_link(seed * 2 + 2, m)) {
    ab_meta_.reserve(1 << 14);  // so that the harness itself does not allocate in allocation tests
    ba_meta_.reserve(1 << 14);
  }

  uint64_t now = kStart;
  // Called for every datagram an agent hands over, before the link sees it.
  std::function<void(const Peer& from, const IceTransmit& t, uint64_t now)> on_transmit;
  sim::NetworkLink& link_ab() { return ab_; }
  sim::NetworkLink& link_ba() { return ba_; }

  static void signal_credentials(const Peer& from, Peer& to) {
    REQUIRE(to.agent.set_remote_credentials(from.spec.ufrag, from.spec.pwd).ok());
  }
  // Trickles every candidate `from` has emitted so far (through the SDP text form).
  static void signal_candidates(const Peer& from, Peer& to) {
    for (const auto& line : from.candidates) {
      auto c = IceCandidate::parse(line);
      REQUIRE(c.ok());
      REQUIRE(to.agent.add_remote_candidate(*c).ok());
    }
    if (from.gathering_complete) to.agent.set_remote_gathering_complete();
  }

  // Handles everything due at `now`; CHECK-fails if an agent keeps asking for a timeout it does not consume.
  void settle() {
    for (int round = 0; round < 10000; ++round) {
      // Datagrams that arrived by `now` first, then timers: an event loop sees both, in either order.
      bool work = deliver(ab_, ab_meta_, b_);
      work = deliver(ba_, ba_meta_, a_) | work;
      flush(a_, ab_, ab_meta_);
      flush(b_, ba_, ba_meta_);
      for (Peer* p : {&a_, &b_}) {
        if (!p->alive) continue;
        const auto t = p->agent.next_timeout();
        if (t && *t <= now) {
          p->agent.handle_timeout(now);
          work = true;
        }
      }
      flush(a_, ab_, ab_meta_);
      flush(b_, ba_, ba_meta_);
      if (!work) return;
    }
    CHECK(false);  // no progress: a deadline in the past that handle_timeout does not clear
  }

  // Moves `now` to the next deadline of either agent or link.
  void advance() {
    uint64_t next = UINT64_MAX;
    for (Peer* p : {&a_, &b_}) {
      if (!p->alive) continue;
      if (const auto t = p->agent.next_timeout()) next = std::min(next, *t);
    }
    if (const auto t = ab_.next_timeout()) next = std::min(next, *t);
    if (const auto t = ba_.next_timeout()) next = std::min(next, *t);
    now = next == UINT64_MAX ? now + 100 * kMs : std::max(next, now + 1);
  }

  // Runs until `done` holds (checked whenever everything due has been handled) or `limit_ns` passes.
  bool run_until(const std::function<bool()>& done, uint64_t limit_ns) {
    const uint64_t end = now + limit_ns;
    for (;;) {
      settle();
      if (done() || now >= end) return done();
      advance();
    }
  }
  void run_for(uint64_t duration_ns) {
    const uint64_t end = now + duration_ns;
    for (;;) {
      settle();
      if (now >= end) return;
      advance();
      now = std::min(now, end);
    }
  }

 private:
  using Meta = std::vector<std::pair<platform::SocketAddress, platform::SocketAddress>>;

  void flush(Peer& p, sim::NetworkLink& link, Meta& meta) {
    while (auto t = p.agent.poll_transmit()) {
      if (on_transmit) on_transmit(p, *t, now);
      meta.emplace_back(t->local, t->remote);
      REQUIRE(link.send(t->bytes, now).ok());
    }
    p.take_events(now);
  }

  bool deliver(sim::NetworkLink& link, const Meta& meta, Peer& to) {
    bool any = false;
    while (auto d = link.poll_receive(now)) {
      any = true;
      const auto& [src, dst] = meta[d->id];
      if (!to.alive) continue;
      const auto& own = to.spec.addresses;
      if (std::find(own.begin(), own.end(), dst) == own.end()) continue;  // nobody listens there
      if (classify(d->bytes) == PacketClass::stun) {
        (void)to.agent.handle_stun(dst, src, d->bytes, now);
      } else {
        to.agent.note_received(dst, src, now);
      }
    }
    return any;
  }

  Peer& a_;
  Peer& b_;
  sim::NetworkLink ab_, ba_;
  Meta ab_meta_, ba_meta_;
};

inline PeerSpec spec_a(IceRole role = IceRole::controlling) {
  return PeerSpec{role, "AAAA", "aaaaaaaaaaaaaaaaaaaaaa", 0xA000000000000001ull, 11,
                  {addr("127.0.0.1:10000"), addr("[::1]:10000")}};
}
inline PeerSpec spec_b(IceRole role = IceRole::controlled) {
  return PeerSpec{role, "BBBB", "bbbbbbbbbbbbbbbbbbbbbb", 0x5000000000000002ull, 22,
                  {addr("127.0.0.1:20000"), addr("[::1]:20000")}};
}

}  // namespace tandem::transport::test
