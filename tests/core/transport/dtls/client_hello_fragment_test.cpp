// A ClientHello in fragments (as Chromium 156 sends its 1413-byte post-quantum ClientHello over a 1200-byte
// MTU) reaches mbedTLS's server whole: the server role reassembles it (client_hello_assembler.h).
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "core/transport/dtls/client_hello_assembler.h"
#include "dtls_test_support.h"

using namespace tandem;
using namespace tandem::transport;
using namespace tandem::test::dtls;

namespace {

using Bytes = std::vector<uint8_t>;

// Re-cuts a one-record ClientHello datagram into records carrying [offset, offset + size) of the message,
// with record sequence numbers 0, 1, ... as a client that fragments would send them.
std::vector<Bytes> fragment(const Bytes& hello, std::vector<std::pair<uint32_t, uint32_t>> cuts) {
  REQUIRE(hello.size() > 25);
  REQUIRE(hello[0] == 22);
  REQUIRE(hello[13] == 1);  // client_hello
  const uint32_t length = (uint32_t{hello[14]} << 16) | (uint32_t{hello[15]} << 8) | hello[16];
  REQUIRE(hello.size() == 25 + length);  // one record, one unfragmented message
  std::vector<Bytes> out;
  uint8_t seq = 0;
  for (auto [offset, size] : cuts) {
    Bytes r(hello.begin(), hello.begin() + 25);
    r[10] = seq++;
    const uint32_t record_length = 12 + size;
    r[11] = static_cast<uint8_t>(record_length >> 8);
    r[12] = static_cast<uint8_t>(record_length);
    r[19] = static_cast<uint8_t>(offset >> 16);
    r[20] = static_cast<uint8_t>(offset >> 8);
    r[21] = static_cast<uint8_t>(offset);
    r[22] = static_cast<uint8_t>(size >> 16);
    r[23] = static_cast<uint8_t>(size >> 8);
    r[24] = static_cast<uint8_t>(size);
    r.insert(r.end(), hello.begin() + 25 + offset, hello.begin() + 25 + offset + size);
    out.push_back(std::move(r));
  }
  return out;
}

// Starts both ends and takes the client's first datagram (its whole ClientHello, one record) off the wire.
Bytes start_and_take_client_hello(Pair& p) {
  REQUIRE(p.server.start(kStart).ok());
  REQUIRE(p.client.start(kStart).ok());
  auto d = p.client.poll_transmit();
  REQUIRE(d);
  return Bytes(d->begin(), d->end());
}

uint32_t hello_length(const Bytes& hello) {
  return (uint32_t{hello[14]} << 16) | (uint32_t{hello[15]} << 8) | hello[16];
}

// Completes the handshake after the server got the ClientHello (its own way); true if both ends connected.
bool finish(Pair& p, uint64_t now) {
  for (int round = 0; round < 50; ++round) {
    const size_t moved = deliver(p.server, p.client, now) + deliver(p.client, p.server, now);
    if (moved == 0) break;
  }
  return p.client.state() == DtlsState::connected && p.server.state() == DtlsState::connected;
}

}  // namespace

TEST_CASE("DTLS: the server reassembles a ClientHello sent in fragments", "[dtls]") {
  Pair p = make_pair();
  const Bytes hello = start_and_take_client_hello(p);
  const uint32_t n = hello_length(hello);
  REQUIRE(n > 100);

  SECTION("two fragments, in order") {
    for (const Bytes& f : fragment(hello, {{0, 100}, {100, n - 100}})) REQUIRE(p.server.handle_datagram(f, kStart).ok());
  }
  SECTION("three fragments, out of order, one duplicated, one overlapping") {
    const auto f = fragment(hello, {{0, 40}, {30, 50}, {80, n - 80}});
    for (size_t i : {2, 0, 2, 1}) REQUIRE(p.server.handle_datagram(f[i], kStart).ok());
  }
  SECTION("two fragments in one datagram") {
    const auto f = fragment(hello, {{0, 60}, {60, n - 60}});
    Bytes both = f[0];
    both.insert(both.end(), f[1].begin(), f[1].end());
    REQUIRE(p.server.handle_datagram(both, kStart).ok());
  }
  CHECK(finish(p, kStart));
  CHECK(p.server.cipher_suite() == "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
}

TEST_CASE("DTLS: an incomplete fragmented ClientHello is answered by nothing", "[dtls]") {
  Pair p = make_pair();
  const Bytes hello = start_and_take_client_hello(p);
  const auto f = fragment(hello, {{0, 100}});
  REQUIRE(p.server.handle_datagram(f[0], kStart).ok());
  CHECK_FALSE(p.server.poll_transmit());
  CHECK(p.server.state() == DtlsState::connecting);
  // The client retransmits its ClientHello whole: the server takes it.
  REQUIRE(p.server.handle_datagram(hello, kStart).ok());
  CHECK(p.server.poll_transmit());
}

TEST_CASE("DTLS: the ClientHello assembler passes garbage through and never overreads", "[dtls]") {
  std::mt19937 rng(7);
  Pair p = make_pair();
  REQUIRE(p.client.start(kStart).ok());
  auto d = p.client.poll_transmit();
  REQUIRE(d);
  const Bytes hello(d->begin(), d->end());
  const uint32_t n = hello_length(hello);
  const auto pieces = fragment(hello, {{0, 100}, {100, n - 100}});
  for (int i = 0; i < 3000; ++i) {
    transport::detail::ClientHelloAssembler a;
    for (const Bytes& piece : pieces) {
      Bytes m = piece;
      const int flips = static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) m[rng() % m.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
      if (rng() % 4 == 0) m.resize(rng() % m.size());
      const auto outcome = a.add(m);
      if (outcome == transport::detail::ClientHelloAssembler::Outcome::complete) {
        CHECK(a.assembled().size() <= 13 + 12 + transport::detail::ClientHelloAssembler::kMaxClientHello);
      }
    }
  }
  transport::detail::ClientHelloAssembler whole;  // unfragmented: passed through, and nothing more assembled
  CHECK(whole.add(hello) == transport::detail::ClientHelloAssembler::Outcome::pass);
  CHECK(whole.done());
}
