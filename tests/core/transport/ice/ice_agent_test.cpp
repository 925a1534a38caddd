#include "core/transport/ice/ice_agent.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <set>

#include "core/transport/stun/stun_message.h"
#include "ice_test_harness.h"
#include "support/alloc_counter.h"

using namespace tandem;
using namespace tandem::transport;
using namespace tandem::transport::test;

namespace {

void signal_all(Peer& a, Peer& b) {
  IceNet::signal_credentials(a, b);
  IceNet::signal_credentials(b, a);
  IceNet::signal_candidates(a, b);
  IceNet::signal_candidates(b, a);
}

bool both(const Peer& a, const Peer& b, IceState s) { return a.agent.state() == s && b.agent.state() == s; }

// The selected pairs are the same path seen from both ends.
void check_mirrored(const Peer& a, const Peer& b) {
  const auto pa = a.agent.selected_pair();
  const auto pb = b.agent.selected_pair();
  REQUIRE(pa);
  REQUIRE(pb);
  CHECK(pa->local == pb->remote);
  CHECK(pa->remote == pb->local);
}

}  // namespace

TEST_CASE("ice agent: configuration is validated", "[ice]") {
  IceAgentConfig c;
  c.local_ufrag = "abcd";
  c.local_pwd = "0123456789012345678901";
  CHECK(IceAgent::create(c).code() == Errc::invalid_argument);  // no entropy
  c.entropy = seeded_entropy(1);
  CHECK(IceAgent::create(c).ok());
  CHECK(IceAgent::create(c)->tie_breaker() != 0);  // drawn from entropy
  c.local_ufrag = "abc";
  CHECK(IceAgent::create(c).code() == Errc::invalid_argument);
  c.local_ufrag = "ab:d";
  CHECK(IceAgent::create(c).code() == Errc::invalid_argument);
  c.local_ufrag = "abcd";
  c.local_pwd = "short";
  CHECK(IceAgent::create(c).code() == Errc::invalid_argument);
  c.local_pwd = "0123456789012345678901";
  c.pacing_ms = 0;
  CHECK(IceAgent::create(c).code() == Errc::invalid_argument);
}

TEST_CASE("ice agent: local candidates, ignored and duplicate remote candidates", "[ice]") {
  Peer a(spec_a());
  CHECK(a.agent.state() == IceState::new_);
  a.gather();
  REQUIRE(a.candidates.size() == 2);
  CHECK(a.gathering_complete);
  const auto v4 = IceCandidate::parse(a.candidates[0]);
  const auto v6 = IceCandidate::parse(a.candidates[1]);
  REQUIRE(v4.ok());
  REQUIRE(v6.ok());
  CHECK(v4->type == IceCandidateType::host);
  CHECK(v4->address == addr("127.0.0.1:10000"));
  CHECK(v6->priority > v4->priority);  // RFC 8421: IPv6 first
  CHECK(v4->foundation != v6->foundation);
  CHECK(a.agent.add_local_address(addr("127.0.0.1:10000")).code() == Errc::invalid_argument);  // again
  CHECK(a.agent.add_local_address(addr("[fe80::1]:5")).code() == Errc::invalid_argument);
  CHECK(a.agent.add_local_address(addr("127.0.0.1:0")).code() == Errc::invalid_argument);

  const char* ignored[] = {
      "candidate:1 1 udp 2113937151 5ad1d3ab-b2f0-4f0a-8c7b-4e2e0c6f2f55.local 52342 typ host",
      "candidate:2 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active",
      "candidate:3 2 udp 2122260222 192.0.2.1 5001 typ host",  // RTCP component: we mux
      "candidate:4 1 udp 2122260223 fe80::1 5000 typ host",
  };
  for (const char* line : ignored) CHECK(a.agent.add_remote_candidate(*IceCandidate::parse(line)).ok());
  CHECK(a.agent.stats().ignored_candidates == 4);
  const auto real = *IceCandidate::parse("candidate:5 1 udp 2122260223 192.0.2.1 5000 typ host");
  CHECK(a.agent.add_remote_candidate(real).ok());
  CHECK(a.agent.add_remote_candidate(real).ok());
  CHECK(a.agent.stats().duplicate_candidates == 1);
  CHECK(a.agent.stats().ignored_candidates == 4);
  // No credentials yet: nothing to send, no timer.
  CHECK_FALSE(a.agent.next_timeout());
  CHECK_FALSE(a.agent.poll_transmit());
  CHECK(a.agent.set_remote_credentials("BBBB", "short").code() == Errc::invalid_argument);
  CHECK(a.agent.set_remote_credentials("BBBB", "bbbbbbbbbbbbbbbbbbbbbb").ok());
  CHECK(a.agent.set_remote_credentials("BBBB", "bbbbbbbbbbbbbbbbbbbbbb").ok());  // same again: fine
  CHECK(a.agent.set_remote_credentials("CCCC", "bbbbbbbbbbbbbbbbbbbbbb").code() == Errc::invalid_argument);
  const auto due = a.agent.next_timeout();
  REQUIRE(due);  // the first check is due at once
  a.agent.handle_timeout(kStart);
  const auto t = a.agent.poll_transmit();
  REQUIRE(t);
  CHECK(t->local == addr("127.0.0.1:10000"));
  CHECK(t->remote == addr("192.0.2.1:5000"));
  const auto m = StunMessage::parse(t->bytes);
  REQUIRE(m.ok());
  CHECK(m->message_class() == StunClass::request);
  CHECK(m->username() == "BBBB:AAAA");
  CHECK(m->ice_controlling() == a.agent.tie_breaker());
  CHECK(m->priority() == candidate_priority(IceCandidateType::prflx, local_preference(addr("127.0.0.1:1").ip, 0), 1));
  CHECK(m->verify_message_integrity(key_bytes("bbbbbbbbbbbbbbbbbbbbbb")));
  CHECK(m->verify_fingerprint());
  a.agent.close();
  CHECK(a.agent.state() == IceState::closed);
  CHECK_FALSE(a.agent.next_timeout());
  CHECK(a.agent.add_remote_candidate(real).code() == Errc::disposed);
}

TEST_CASE("ice agent: connects in both roles over IPv4 and IPv6 loopback, and stays connected", "[ice]") {
  for (const bool a_controls : {true, false}) {
    INFO("a controlling: " << a_controls);
    Peer a(spec_a(a_controls ? IceRole::controlling : IceRole::controlled));
    Peer b(spec_b(a_controls ? IceRole::controlled : IceRole::controlling));
    a.gather();
    b.gather();
    sim::Impairments m;
    m.delay_ns = 10 * kMs;
    IceNet net(a, b, m);
    signal_all(a, b);
    REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 5000 * kMs));
    check_mirrored(a, b);
    const auto pa = a.agent.selected_pair();
    CHECK(pa->local.ip.is_ipv6());  // the IPv6 pair has the higher priority
    CHECK(pa->nominated);
    CHECK(b.agent.selected_pair()->nominated);
    CHECK(pa->local_type == IceCandidateType::host);
    CHECK(pa->remote_type == IceCandidateType::host);
    REQUIRE(a.states.size() >= 2);
    CHECK(a.states.front().second == IceState::checking);
    CHECK(a.first(IceState::connected) <= a.first(IceState::completed));
    CHECK(a.agent.role() == (a_controls ? IceRole::controlling : IceRole::controlled));
    CHECK(a.role_changes.empty());
    CHECK(a.agent.stats().integrity_failures == 0);
    CHECK(a.agent.stats().malformed_stun == 0);
    CHECK(a.agent.stats().role_conflicts == 0);
    CHECK(a.agent.note_received(pa->local, pa->remote, net.now));
    CHECK_FALSE(a.agent.note_received(pa->local, addr("[::1]:9"), net.now));  // not a valid pair

    // A minute of an idle but healthy connection: consent and keepalives hold it, no flapping.
    const uint64_t connected_at = net.now;
    net.run_for(60000 * kMs);
    CHECK(both(a, b, IceState::completed));
    CHECK_FALSE(a.has_state(IceState::disconnected));
    CHECK_FALSE(b.has_state(IceState::disconnected));
    const auto& s = a.agent.stats();
    CHECK(s.consent_checks_sent >= 12);  // at least one per 5 s (the keepalive adds more when idle)
    CHECK(s.consent_checks_sent <= 65);  // and at most about one per keepalive_ms
    CHECK(net.now - connected_at >= 60000 * kMs);
  }
}

TEST_CASE("ice agent: checks are paced, one new check per Ta, the first at once", "[ice]") {
  PeerSpec sa = spec_a(), sb = spec_b();
  sa.addresses = {addr("127.0.0.1:10000"), addr("127.0.0.2:10000"), addr("127.0.0.3:10000")};
  sb.addresses = {addr("127.0.0.1:20000"), addr("127.0.0.2:20000"), addr("127.0.0.3:20000")};
  Peer a(sa), b(sb);
  a.gather();
  b.gather();
  sim::Impairments m;
  m.delay_ns = 100 * kMs;  // slow answers, so many checks go out before the first one succeeds
  IceNet net(a, b, m);
  std::vector<uint64_t> new_checks;
  std::set<StunTransactionId> seen;
  net.on_transmit = [&](const Peer& from, const IceTransmit& t, uint64_t now) {
    if (&from != &a || a.connected()) return;
    const auto msg = StunMessage::parse(t.bytes);
    CHECK(msg.ok());
    if (msg.ok() && msg->message_class() == StunClass::request && seen.insert(msg->transaction_id()).second) {
      new_checks.push_back(now);
    }
  };
  signal_all(a, b);
  REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 5000 * kMs));
  REQUIRE(new_checks.size() >= 4);
  CHECK(new_checks.front() == kStart);
  for (size_t i = 1; i < new_checks.size(); ++i) {
    INFO(i);
    CHECK(new_checks[i] - new_checks[i - 1] >= 50 * kMs);
  }
  check_mirrored(a, b);
}

TEST_CASE("ice agent: connects with 20% loss in both directions", "[ice]") {
  uint64_t retransmissions = 0, lost = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    INFO("seed " << seed);
    Peer a(spec_a()), b(spec_b());
    a.gather();
    b.gather();
    sim::Impairments m;
    m.loss = 0.2;
    m.delay_ns = 15 * kMs;
    m.jitter_ns = 10 * kMs;
    IceNet net(a, b, m, seed);
    signal_all(a, b);
    REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 15000 * kMs));
    check_mirrored(a, b);
    lost += net.link_ab().stats().dropped_loss + net.link_ba().stats().dropped_loss;
    retransmissions += a.agent.stats().retransmissions + b.agent.stats().retransmissions;
    net.run_for(20000 * kMs);  // consent survives the loss
    CHECK(a.connected());
    CHECK(b.connected());
  }
  CHECK(lost > 0);
  CHECK(retransmissions > 0);
}

TEST_CASE("ice agent: role conflicts are resolved by the tie-breaker", "[ice]") {
  for (const IceRole both_role : {IceRole::controlling, IceRole::controlled}) {
    INFO("both " << to_string(both_role));
    Peer a(spec_a(both_role)), b(spec_b(both_role));  // a's tie-breaker is the larger
    a.gather();
    b.gather();
    sim::Impairments m;
    m.delay_ns = 5 * kMs;
    IceNet net(a, b, m);
    signal_all(a, b);
    REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 5000 * kMs));
    CHECK(a.agent.role() == IceRole::controlling);
    CHECK(b.agent.role() == IceRole::controlled);
    CHECK(a.agent.stats().role_conflicts + b.agent.stats().role_conflicts > 0);
    if (both_role == IceRole::controlling) {
      CHECK(a.role_changes.empty());
      CHECK(b.role_changes == std::vector<IceRole>{IceRole::controlled});
    } else {
      CHECK(a.role_changes == std::vector<IceRole>{IceRole::controlling});
      CHECK(b.role_changes.empty());
    }
    check_mirrored(a, b);
    CHECK(a.agent.selected_pair()->nominated);
  }
}

TEST_CASE("ice agent: trickle in any order", "[ice]") {
  sim::Impairments m;
  m.delay_ns = 10 * kMs;

  SECTION("candidates before credentials") {
    Peer a(spec_a()), b(spec_b());
    a.gather();
    b.gather();
    IceNet net(a, b, m);
    IceNet::signal_candidates(a, b);
    IceNet::signal_candidates(b, a);
    net.run_for(500 * kMs);
    CHECK(a.agent.stats().checks_sent == 0);  // checks wait for the password
    CHECK(a.agent.state() == IceState::new_);
    IceNet::signal_credentials(a, b);
    IceNet::signal_credentials(b, a);
    REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 5000 * kMs));
    check_mirrored(a, b);
  }

  SECTION("one side's candidates are mDNS names: learned as peer-reflexive") {
    Peer a(spec_a()), b(spec_b());
    a.gather();
    b.gather();
    IceNet net(a, b, m);
    IceNet::signal_credentials(a, b);
    IceNet::signal_credentials(b, a);
    IceNet::signal_candidates(a, b);
    for (const auto& line : b.candidates) {  // what Chromium would signal for b
      auto c = *IceCandidate::parse(line);
      c.hostname = "5ad1d3ab-b2f0-4f0a-8c7b-4e2e0c6f2f5" + std::to_string(c.address.ip.is_ipv6()) + ".local";
      c.address.ip = {};
      REQUIRE(a.agent.add_remote_candidate(*IceCandidate::parse(c.format())).ok());
    }
    a.agent.set_remote_gathering_complete();
    CHECK(a.agent.stats().ignored_candidates == 2);
    REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 5000 * kMs));
    check_mirrored(a, b);
    CHECK(a.agent.stats().prflx_candidates >= 1);
    CHECK(a.agent.selected_pair()->remote_type == IceCandidateType::prflx);
    CHECK(b.agent.selected_pair()->remote_type == IceCandidateType::host);
  }

  SECTION("credentials arrive late on one side while the other already checks") {
    Peer a(spec_a()), b(spec_b());
    a.gather();
    b.gather();
    IceNet net(a, b, m);
    IceNet::signal_credentials(a, b);
    IceNet::signal_candidates(a, b);
    IceNet::signal_candidates(b, a);
    net.run_for(400 * kMs);
    CHECK(a.agent.stats().checks_sent == 0);
    CHECK(a.agent.stats().checks_received > 0);  // answered without knowing b's password (RFC 8445 7.3)
    CHECK(b.connected());                       // b's checks succeeded; a's triggered checks are queued
    IceNet::signal_credentials(b, a);
    REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 5000 * kMs));
    check_mirrored(a, b);
  }

  SECTION("candidates one by one, in reverse order, end-of-candidates last") {
    Peer a(spec_a()), b(spec_b());
    IceNet net(a, b, m);
    IceNet::signal_credentials(a, b);
    IceNet::signal_credentials(b, a);
    for (size_t i = 2; i-- > 0;) {
      REQUIRE(a.agent.add_local_address(a.spec.addresses[i]).ok());
      REQUIRE(b.agent.add_local_address(b.spec.addresses[i]).ok());
      a.take_events(net.now);
      b.take_events(net.now);
      REQUIRE(b.agent.add_remote_candidate(*IceCandidate::parse(a.candidates.back())).ok());
      net.run_for(100 * kMs);
      REQUIRE(a.agent.add_remote_candidate(*IceCandidate::parse(b.candidates.back())).ok());
      net.run_for(100 * kMs);
    }
    CHECK(a.connected());
    CHECK(a.agent.state() != IceState::completed);  // gathering not finished yet
    a.agent.set_local_gathering_complete();
    b.agent.set_local_gathering_complete();
    a.agent.set_remote_gathering_complete();
    b.agent.set_remote_gathering_complete();
    REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 5000 * kMs));
    check_mirrored(a, b);
    CHECK(a.agent.selected_pair()->local.ip.is_ipv6());
  }
}

TEST_CASE("ice agent: a silent remote: disconnected, then failed when consent expires", "[ice]") {
  Peer a(spec_a()), b(spec_b());
  a.gather();
  b.gather();
  sim::Impairments m;
  m.delay_ns = 10 * kMs;
  IceNet net(a, b, m);
  signal_all(a, b);
  REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 5000 * kMs));
  net.run_for(7000 * kMs);
  const uint64_t silent_from = net.now;
  b.alive = false;
  REQUIRE(net.run_until([&] { return a.agent.state() == IceState::failed; }, 40000 * kMs));
  const auto disconnected = a.first(IceState::disconnected);
  const auto failed = a.first(IceState::failed);
  REQUIRE(disconnected);
  REQUIRE(failed);
  INFO("disconnected after " << (*disconnected - silent_from) / kMs << " ms, failed after "
                             << (*failed - silent_from) / kMs << " ms");
  CHECK(*disconnected > silent_from);
  CHECK(*disconnected - silent_from <= 2500 * kMs);
  // Consent was last refreshed at most one interval (6 s) before the silence; it lasts 30 s.
  CHECK(*failed - silent_from >= 24000 * kMs);
  CHECK(*failed - silent_from <= 30000 * kMs);
  CHECK_FALSE(a.agent.selected_pair());
  REQUIRE_FALSE(a.selections.empty());
  CHECK_FALSE(a.selections.back());
  CHECK_FALSE(a.agent.next_timeout());
  CHECK(a.agent.stats().consent_checks_sent > 20);  // kept asking while silent
}

TEST_CASE("ice agent: disconnected while nothing arrives, connected again when traffic resumes", "[ice]") {
  Peer a(spec_a()), b(spec_b());
  a.gather();
  b.gather();
  sim::Impairments m;
  m.delay_ns = 10 * kMs;
  IceNet net(a, b, m);
  signal_all(a, b);
  REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 5000 * kMs));
  sim::Impairments cut = m;
  cut.loss = 1.0;
  REQUIRE(net.link_ba().set_impairments(cut).ok());
  REQUIRE(net.run_until([&] { return a.agent.state() == IceState::disconnected; }, 4000 * kMs));
  REQUIRE(net.link_ba().set_impairments(m).ok());
  REQUIRE(net.run_until([&] { return a.agent.state() == IceState::completed; }, 3000 * kMs));
  CHECK_FALSE(a.has_state(IceState::failed));
  CHECK(a.agent.selected_pair());
}

TEST_CASE("ice agent: a wrong password never connects", "[ice]") {
  SECTION("both sides have the wrong password") {
    Peer a(spec_a()), b(spec_b());
    a.gather();
    b.gather();
    IceNet net(a, b);
    REQUIRE(a.agent.set_remote_credentials(b.spec.ufrag, "wrongwrongwrongwrongwr").ok());
    REQUIRE(b.agent.set_remote_credentials(a.spec.ufrag, "wrongwrongwrongwrongwr").ok());
    IceNet::signal_candidates(a, b);
    IceNet::signal_candidates(b, a);
    REQUIRE(net.run_until([&] { return both(a, b, IceState::failed); }, 60000 * kMs));
    CHECK_FALSE(a.has_state(IceState::connected));
    CHECK_FALSE(b.has_state(IceState::connected));
    CHECK(a.agent.stats().integrity_failures > 0);
    CHECK(b.agent.stats().integrity_failures > 0);
    CHECK(a.agent.stats().checks_received == 0);
    CHECK(a.agent.stats().responses_sent == 0);
    CHECK(a.agent.stats().error_responses_sent > 0);  // 401s
    CHECK(a.agent.stats().pairs_failed == 2);
  }
  SECTION("one side has the wrong password: that side never connects") {
    Peer a(spec_a()), b(spec_b());
    a.gather();
    b.gather();
    IceNet net(a, b);
    REQUIRE(a.agent.set_remote_credentials(b.spec.ufrag, "wrongwrongwrongwrongwr").ok());
    IceNet::signal_credentials(a, b);
    IceNet::signal_candidates(a, b);
    IceNet::signal_candidates(b, a);
    net.run_for(30000 * kMs);
    CHECK_FALSE(a.has_state(IceState::connected));
    CHECK(a.agent.stats().integrity_failures > 0);  // b's 401s carry no valid MESSAGE-INTEGRITY
    CHECK(b.agent.stats().integrity_failures > 0);  // a's checks fail b's password
  }
}

TEST_CASE("ice agent: fuzzed STUN never crashes the agent and changes nothing", "[ice]") {
  Peer a(spec_a()), b(spec_b());
  a.gather();
  b.gather();
  IceNet net(a, b);
  std::vector<std::vector<uint8_t>> samples;  // real datagrams from b: checks and responses
  net.on_transmit = [&](const Peer& from, const IceTransmit& t, uint64_t) {
    if (&from == &b && samples.size() < 16) samples.emplace_back(t.bytes.begin(), t.bytes.end());
  };
  signal_all(a, b);
  REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 5000 * kMs));
  REQUIRE(samples.size() >= 2);
  const auto before = a.agent.selected_pair();

  sim::Rng rng(99);
  const auto local = a.spec.addresses[0];
  const auto remote = addr("127.0.0.9:4000");  // unknown sender: no valid pair to disturb
  size_t auth_failures = 0, malformed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> d;
    if (i % 3 == 0) {
      d.resize(rng.up_to(200));
      for (auto& x : d) x = static_cast<uint8_t>(rng.next_u64());
      if (d.size() >= 20) {  // often a plausible header, so parsing goes deeper
        d.resize(d.size() & ~size_t{3});
        d[0] &= 0x01;
        d[2] = 0;
        d[3] = static_cast<uint8_t>(d.size() - 20);
        d[4] = 0x21, d[5] = 0x12, d[6] = 0xa4, d[7] = 0x42;
      }
    } else {
      d = samples[rng.up_to(samples.size() - 1)];
      const int flips = 1 + static_cast<int>(rng.up_to(3));
      for (int f = 0; f < flips; ++f) d[20 + rng.up_to(d.size() - 21)] ^= static_cast<uint8_t>(1 << rng.up_to(7));
      if (i % 3 == 2 && d.size() >= 28) {  // fix the FINGERPRINT so MESSAGE-INTEGRITY has to catch it
        const uint32_t crc = crc32(std::span<const uint8_t>(d).first(d.size() - 8)) ^ 0x5354554e;
        for (int k = 0; k < 4; ++k) d[d.size() - 4 + k] = static_cast<uint8_t>(crc >> (24 - 8 * k));
      }
    }
    const auto r = a.agent.handle_stun(local, remote, d, net.now);
    if (r.code() == Errc::authentication_failed) ++auth_failures;
    if (r.code() == Errc::malformed_packet) ++malformed;
    CHECK((r.ok() || r.code() == Errc::malformed_packet || r.code() == Errc::authentication_failed ||
           r.code() == Errc::protocol_error));
    while (a.agent.poll_transmit()) {
    }
  }
  INFO("malformed " << malformed << ", authentication failures " << auth_failures);
  CHECK(malformed > 5000);
  CHECK(auth_failures > 1000);
  CHECK(a.agent.stats().malformed_stun == malformed);
  CHECK(a.agent.selected_pair() == before);
  CHECK(a.agent.state() == IceState::completed);
  CHECK(a.agent.handle_stun(addr("127.0.0.5:1"), remote, samples[0], net.now).code() == Errc::invalid_argument);
}

TEST_CASE("ice agent: steady state does not allocate", "[ice]") {
  Peer a(spec_a()), b(spec_b());
  a.gather();
  b.gather();
  sim::Impairments m;
  m.delay_ns = 10 * kMs;
  IceNet net(a, b, m);
  signal_all(a, b);
  REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 5000 * kMs));
  net.run_for(10000 * kMs);  // warm up the buffers
  const auto pair = *a.agent.selected_pair();
  const uint64_t sent_before = a.agent.stats().consent_checks_sent;
  tandem::test::AllocationScope scope;
  for (int i = 0; i < 100; ++i) (void)a.agent.note_received(pair.local, pair.remote, net.now);
  net.run_for(30000 * kMs);  // consent checks, keepalives and their answers on both sides
  const auto allocations = scope.count();
  CHECK(a.agent.stats().consent_checks_sent > sent_before + 5);
  CHECK(allocations == 0);
}

// Not a pass/fail test: prints simulated connect times. Run with: tandem_tests "[ice-measure]"
TEST_CASE("ice agent: measure simulated connect time", "[.][ice-measure]") {
  for (const uint64_t delay_ms : {0u, 10u, 50u}) {
    Peer a(spec_a()), b(spec_b());
    a.gather();
    b.gather();
    sim::Impairments m;
    m.delay_ns = delay_ms * kMs;
    IceNet net(a, b, m);
    signal_all(a, b);
    REQUIRE(net.run_until([&] { return both(a, b, IceState::completed); }, 5000 * kMs));
    std::printf("ice connect, one-way delay %3llu ms, no loss: a connected %llu ms, b connected %llu ms, "
                "both completed (nominated) %llu ms of fake time\n",
                static_cast<unsigned long long>(delay_ms),
                static_cast<unsigned long long>((*a.first(IceState::connected) - kStart) / kMs),
                static_cast<unsigned long long>((*b.first(IceState::connected) - kStart) / kMs),
                static_cast<unsigned long long>((net.now - kStart) / kMs));
    CHECK(net.now == std::max(*a.first(IceState::completed), *b.first(IceState::completed)));
  }
}
