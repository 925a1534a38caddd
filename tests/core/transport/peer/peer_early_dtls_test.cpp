// A DTLS ClientHello that reaches the offerer before the answer does (the answerer's ICE checks succeed and
// its DTLS client starts while the answer is still in signalling, as between two processes on one machine)
// is kept and handled once the answer arrives, instead of costing the client's retransmission timeout.
#include <catch2/catch.hpp>

#include "tests/core/transport/peer/peer_pair_support.h"

namespace tandem::transport {
namespace {

constexpr uint64_t kMs = 1'000'000;

}  // namespace

TEST_CASE("peer connection: a ClientHello that beats the answer is kept until the answer", "[peer]") {
  test::PeerPair pair;  // DTLS retransmission starts at 400 ms (PeerConnectionConfig::dtls_timeout_min_ms)
  DataChannelInit init;
  init.label = "x";
  REQUIRE(pair.a().peer->create_data_channel(init, pair.now()).ok());
  auto offer = pair.a().peer->create_offer(pair.now());
  REQUIRE(offer.ok());
  REQUIRE(pair.b().peer->set_remote_description(SdpKind::offer, offer.value(), pair.now()).ok());
  auto answer = pair.b().peer->create_answer(pair.now());
  REQUIRE(answer.ok());

  // a answers b's checks with its own credentials alone; b (the DTLS client: it answered active) then sends
  // its ClientHello to a, which has no DTLS endpoint yet.
  REQUIRE(pair.run_until([&] { return pair.a().peer->stats().dtls_received > 0; }, pair.now() + 2000 * kMs));
  CHECK(pair.a().peer->dtls_state() == DtlsState::idle);

  const uint64_t answered = pair.now();
  REQUIRE(pair.a().peer->set_remote_description(SdpKind::answer, answer.value(), pair.now()).ok());
  REQUIRE(pair.run_until([&] { return pair.connected(); }, pair.now() + 5000 * kMs));
  INFO("connected " << (pair.now() - answered) / kMs << " ms after the answer");
  CHECK(pair.now() - answered < 200 * kMs);  // dropped, the ClientHello would come again at 400 ms
  CHECK(pair.a().error.empty());
}

}  // namespace tandem::transport
