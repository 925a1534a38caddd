// Handshakes over the simulated network (sim::NetworkLink) with loss, delay, jitter, reordering and
// duplication, in fake time, then application data over the same lossy links.
#include <catch2/catch.hpp>
#include <cstdio>
#include <vector>

#include "core/sim/network.h"
#include "dtls_network_run.h"
#include "dtls_test_support.h"

using namespace tandem;
using namespace tandem::transport;
using namespace tandem::test::dtls;

TEST_CASE("DTLS: the handshake completes over a path losing 30% of datagrams", "[dtls]") {
  sim::Impairments lossy;
  lossy.loss = 0.30;
  lossy.delay_ns = 40 * kMs;
  lossy.jitter_ns = 10 * kMs;
  lossy.reorder = 0.05;
  lossy.duplicate = 0.05;

  // Ten seeded runs: each must complete before the 60 s give-up of the default timer, and the endpoints must
  // agree on the keys. The fake-time durations are what a user would wait (figures in the report, printed
  // by the [dtls-perf] probe).
  int completed = 0;
  uint64_t lost = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    NetworkRun run = run_over_network(seed, lossy);
    INFO("seed " << seed << ": " << run.describe());
    CHECK(run.connected);
    if (!run.connected) continue;
    ++completed;
    lost += run.client_to_server.dropped_loss + run.server_to_client.dropped_loss;
    const auto ck = run.pair.client.srtp_keys();
    const auto sk = run.pair.server.srtp_keys();
    REQUIRE(ck.ok());
    REQUIRE(sk.ok());
    CHECK(std::equal(ck->local.key().begin(), ck->local.key().end(), sk->remote.key().begin()));
  }
  CHECK(completed == 10);
  CHECK(lost >= 10);  // the runs really lost datagrams (some seeds lose none of their few)
}

TEST_CASE("DTLS: a handshake over a dead path gives up with timed_out", "[dtls]") {
  sim::Impairments dead;
  dead.loss = 1.0;
  NetworkRun run = run_over_network(1, dead);
  CHECK_FALSE(run.connected);
  CHECK(run.pair.client.state() == DtlsState::failed);
  REQUIRE(run.pair.client.last_error());
  CHECK(run.pair.client.last_error()->code == Errc::timed_out);
  // 1 + 2 + 4 + 8 + 16 + 32 + 60 s of the default timer.
  CHECK(run.client_failed_at_ns - kStart == 123'000 * kMs);
}
