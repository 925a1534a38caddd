// A client and a server joined by two sim::NetworkLink directions, run in fake time until both are connected,
// one fails, or nothing is left to happen.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <sstream>
#include <string>

#include "core/sim/network.h"
#include "dtls_test_support.h"

namespace tandem::test::dtls {

struct NetworkRun {
  Pair pair;
  bool connected = false;
  uint64_t connected_at_ns = 0;  // when the second endpoint became connected
  uint64_t client_failed_at_ns = 0;
  sim::LinkStats client_to_server;
  sim::LinkStats server_to_client;

  std::string describe() const {
    std::ostringstream s;
    s << (connected ? "connected after " : "not connected, ") << (connected_at_ns - kStart) / kMs << " ms; sent "
      << client_to_server.sent << " + " << server_to_client.sent << " datagrams, lost " << client_to_server.dropped_loss
      << " + " << server_to_client.dropped_loss;
    return s.str();
  }
};

inline NetworkRun run_over_network(uint64_t seed, const sim::Impairments& impairments,
                                   uint64_t limit_ns = 300'000 * kMs) {
  sim::LinkConfig forward;
  forward.seed = seed * 2;
  forward.impairments = impairments;
  sim::LinkConfig backward = forward;
  backward.seed = seed * 2 + 1;
  auto c2s = sim::NetworkLink::create(forward);
  auto s2c = sim::NetworkLink::create(backward);
  REQUIRE(c2s.ok());
  REQUIRE(s2c.ok());

  NetworkRun run{make_pair(client_config(seed * 10 + 1), server_config(seed * 10 + 2)), false, 0, 0, {}, {}};
  DtlsEndpoint& client = run.pair.client;
  DtlsEndpoint& server = run.pair.server;
  uint64_t now = kStart;
  REQUIRE(server.start(now).ok());
  REQUIRE(client.start(now).ok());
  while (now - kStart < limit_ns) {
    while (auto d = client.poll_transmit()) REQUIRE(c2s->send(*d, now).ok());
    while (auto d = server.poll_transmit()) REQUIRE(s2c->send(*d, now).ok());
    if (client.state() == DtlsState::connected && server.state() == DtlsState::connected) {
      run.connected = true;
      run.connected_at_ns = now;
      break;
    }
    if (client.state() == DtlsState::failed && run.client_failed_at_ns == 0) run.client_failed_at_ns = now;

    std::optional<uint64_t> next;
    for (auto t : {c2s->next_timeout(), s2c->next_timeout(), client.next_timeout(), server.next_timeout()}) {
      if (t && (!next || *t < *next)) next = t;
    }
    if (!next) break;
    now = std::max(now, *next);
    while (auto d = c2s->poll_receive(now)) (void)server.handle_datagram(d->bytes, now);
    while (auto d = s2c->poll_receive(now)) (void)client.handle_datagram(d->bytes, now);
    if (auto t = client.next_timeout(); t && *t <= now) (void)client.handle_timeout(now);
    if (auto t = server.next_timeout(); t && *t <= now) (void)server.handle_timeout(now);
  }
  run.client_to_server = c2s->stats();
  run.server_to_client = s2c->stats();
  return run;
}

}  // namespace tandem::test::dtls
