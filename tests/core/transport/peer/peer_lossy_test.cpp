// PeerConnection data channels over a bad simulated path: what survives loss, reordering and duplication.
// These need usrsctp to read the same (fake) clock its timers run on (scripts/patches/usrsctp-clock-hook.patch):
// with the wall clock, a T3 timeout on fake time finds no chunk "old enough" to resend and the channel stalls.
#include <catch2/catch.hpp>

#include "tests/core/transport/peer/peer_pair_support.h"

namespace tandem::transport {
namespace {

using test::PeerPair;
constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSecond = 1000 * kMs;

bool connected_with_channels(PeerPair& pair) {
  return pair.connected() && !pair.a().opened.empty() && !pair.b().opened.empty();
}

// Message i of a stream: a size from a fixed cycle (empty and larger than usrsctp's MTU-sized chunks included)
// and bytes derived from (i, position), so order and content can be checked from the data alone.
size_t message_size(uint32_t i) {
  static constexpr size_t kSizes[] = {1, 100, 1200, 5000, 16384, 70000, 0, 333};
  return kSizes[i % std::size(kSizes)];
}

std::vector<uint8_t> message(uint32_t i, size_t size) {
  std::vector<uint8_t> m(size);
  for (size_t k = 0; k < m.size(); ++k) m[k] = static_cast<uint8_t>(i * 31 + k * 7);
  return m;
}

uint64_t fnv1a(uint64_t h, std::span<const uint8_t> bytes) {
  for (uint8_t b : bytes) h = (h ^ b) * 1099511628211ull;
  return h;
}

}  // namespace

TEST_CASE("peer connection: a reliable channel delivers every byte in order under loss, reorder and duplication",
          "[peer][lossy]") {
  sim::Impairments bad;
  bad.loss = 0.10;
  bad.reorder = 0.05;
  bad.duplicate = 0.02;
  bad.delay_ns = 10 * kMs;
  bad.jitter_ns = 5 * kMs;
  PeerPair pair(bad, 21);
  DataChannelInit init;
  init.label = "bulk";
  auto channel = pair.a().peer->create_data_channel(init, pair.now());
  REQUIRE(channel.ok());
  pair.negotiate();
  REQUIRE(pair.run_until([&] { return connected_with_channels(pair); }, pair.now() + 60 * kSecond));

  constexpr uint32_t kMessages = 200;  // ~2.4 MB in messages of 0 B .. 70 KB
  uint64_t sent_sum = 14695981039346656037ull;
  size_t sent_bytes = 0;
  for (uint32_t i = 0; i < kMessages; ++i) {
    const auto m = message(i, message_size(i));
    sent_sum = fnv1a(sent_sum, m);
    sent_bytes += m.size();
    REQUIRE(pair.a().peer->send_data(*channel, m, true, pair.now()).ok());
  }
  CHECK(pair.a().peer->buffered_amount(*channel) > 0);  // more than usrsctp's buffer: queued by us, not lost
  const uint64_t sent_at = pair.now();
  const bool all = pair.run_until([&] { return pair.b().messages.size() >= kMessages; }, pair.now() + 600 * kSecond);
  INFO("delivered " << pair.b().messages.size() << " in " << (pair.now() - sent_at) / kMs << " ms of fake time");
  REQUIRE(all);
  pair.run_until([] { return false; }, pair.now() + 2 * kSecond);  // duplicates would show up as extra messages
  REQUIRE(pair.b().messages.size() == kMessages);
  uint64_t received_sum = 14695981039346656037ull;
  size_t received_bytes = 0;
  for (uint32_t i = 0; i < kMessages; ++i) {
    const auto& got = pair.b().messages[i].data;
    received_sum = fnv1a(received_sum, got);
    received_bytes += got.size();
    INFO("message " << i);
    CHECK(got == message(i, message_size(i)));
  }
  CHECK(received_bytes == sent_bytes);
  CHECK(received_sum == sent_sum);
  const auto stats = pair.a().peer->sctp_stats();
  REQUIRE(stats);
  CHECK(stats->sctp.retransmitted_data_chunks > 0);  // the loss was real and repaired
}

TEST_CASE("peer connection: an unreliable channel with maxRetransmits=0 loses messages but never corrupts one",
          "[peer][lossy]") {
  sim::Impairments lossy;
  lossy.loss = 0.10;
  lossy.delay_ns = 5 * kMs;
  PeerPair pair(lossy, 41);
  DataChannelInit init;
  init.label = "lossy";
  init.ordered = false;
  init.max_retransmits = 0;
  auto channel = pair.a().peer->create_data_channel(init, pair.now());
  REQUIRE(channel.ok());
  pair.negotiate();
  REQUIRE(pair.run_until([&] { return connected_with_channels(pair); }, pair.now() + 60 * kSecond));

  // Small messages (4 .. 1204 B) that carry their index in the first 4 bytes.
  auto numbered = [](uint32_t i) {
    auto m = message(i, 4 + message_size(i % 4));
    for (int k = 0; k < 4; ++k) m[k] = static_cast<uint8_t>(i >> (8 * k));
    return m;
  };
  constexpr uint32_t kMessages = 2000;
  for (uint32_t i = 0; i < kMessages; ++i) {
    REQUIRE(pair.a().peer->send_data(*channel, numbered(i), true, pair.now()).ok());
    if (i % 50 == 0) pair.step();
  }
  // Everything leaves (at ~10% loss the congestion window keeps this to a few hundred KB/s), then stragglers land.
  REQUIRE(pair.run_until([&] { return pair.a().peer->buffered_amount(*channel) == 0; }, pair.now() + 120 * kSecond));
  pair.run_until([] { return false; }, pair.now() + 2 * kSecond);
  const auto& got = pair.b().messages;
  const auto stats = pair.a().peer->sctp_stats();
  REQUIRE(stats);
  INFO("delivered " << got.size() << ", abandoned chunks " << stats->sctp.abandoned_data_chunks);
  CHECK(stats->sctp.retransmitted_data_chunks == 0);  // maxRetransmits=0: nothing is ever sent twice
  CHECK(got.size() < kMessages);      // lost some (a message of 5 chunks is lost with any of them) ...
  CHECK(got.size() > kMessages / 2);  // ... but not most
  std::vector<bool> seen(kMessages);
  for (const auto& m : got) {
    REQUIRE(m.data.size() >= 4);
    const uint32_t i = m.data[0] | (m.data[1] << 8) | (m.data[2] << 16) | (uint32_t{m.data[3]} << 24);
    REQUIRE(i < kMessages);
    CHECK_FALSE(seen[i]);  // never delivered twice
    seen[i] = true;
    CHECK(m.data == numbered(i));
  }
}

}  // namespace tandem::transport
