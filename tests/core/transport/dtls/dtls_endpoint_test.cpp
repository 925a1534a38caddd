// The client's first flight on the wire, its retransmission timer, and its handling of garbage before the
// server answers. Handshakes between two endpoints are in dtls_handshake_test.cpp.
#include "core/transport/dtls/dtls_endpoint.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "dtls_test_support.h"
#include "dtls_wire.h"

using namespace tandem;
using namespace tandem::transport;
using namespace tandem::test::dtls;

namespace {

DtlsEndpoint make_client(uint64_t seed = 1) { return make(client_config(seed)); }

std::optional<std::vector<uint8_t>> take(DtlsEndpoint& e) {
  auto d = e.poll_transmit();
  if (!d) return std::nullopt;
  return std::vector<uint8_t>(d->begin(), d->end());
}

struct ClientHello {
  uint16_t message_seq = 0;
  uint16_t client_version = 0;
  std::vector<uint8_t> random, cookie;
  std::vector<uint16_t> cipher_suites;
  std::vector<uint8_t> compression_methods;
  std::vector<std::pair<uint16_t, std::vector<uint8_t>>> extensions;

  const std::vector<uint8_t>* extension(uint16_t type) const {
    for (const auto& [t, data] : extensions) {
      if (t == type) return &data;
    }
    return nullptr;
  }
};

// RFC 6347 section 4.2.2 (handshake header) and RFC 5246 section 7.4.1.2 (ClientHello, DTLS adds the cookie).
ClientHello parse_client_hello(std::span<const uint8_t> handshake_record_body) {
  Reader h{handshake_record_body};
  REQUIRE(h.num(1) == 1);  // client_hello
  const uint64_t length = h.num(3);
  ClientHello ch;
  ch.message_seq = static_cast<uint16_t>(h.num(2));
  REQUIRE(h.num(3) == 0);       // fragment_offset: not fragmented
  REQUIRE(h.num(3) == length);  // fragment_length
  REQUIRE(h.left() == length);

  Reader b{h.bytes(length)};
  ch.client_version = static_cast<uint16_t>(b.num(2));
  auto random = b.bytes(32);
  ch.random.assign(random.begin(), random.end());
  b.vec(1);  // session_id
  auto cookie = b.vec(1);
  ch.cookie.assign(cookie.begin(), cookie.end());
  Reader suites{b.vec(2)};
  while (suites.left() > 0) ch.cipher_suites.push_back(static_cast<uint16_t>(suites.num(2)));
  auto compression = b.vec(1);
  ch.compression_methods.assign(compression.begin(), compression.end());
  Reader ext{b.vec(2)};
  REQUIRE(b.left() == 0);
  while (ext.left() > 0) {
    const auto type = static_cast<uint16_t>(ext.num(2));
    auto data = ext.vec(2);
    ch.extensions.emplace_back(type, std::vector<uint8_t>(data.begin(), data.end()));
  }
  return ch;
}

}  // namespace

TEST_CASE("DTLS client: the first flight is a ClientHello offering use_srtp", "[dtls]") {
  DtlsEndpoint client = make_client();
  CHECK(client.state() == DtlsState::idle);
  CHECK_FALSE(client.poll_transmit());
  REQUIRE(client.start(kStart).ok());
  CHECK(client.state() == DtlsState::connecting);

  auto datagram = take(client);
  REQUIRE(datagram);
  CHECK_FALSE(client.poll_transmit());  // one flight, one datagram
  CHECK(datagram->size() <= 1200);

  const auto records = parse_records(*datagram);
  REQUIRE(records.size() == 1);
  CHECK(records[0].type == 22);  // handshake
  CHECK((records[0].version == 0xfeff || records[0].version == 0xfefd));
  CHECK(records[0].epoch == 0);
  CHECK(records[0].sequence == 0);

  const ClientHello hello = parse_client_hello(records[0].body);
  CHECK(hello.message_seq == 0);
  CHECK(hello.client_version == 0xfefd);  // DTLS 1.2
  CHECK(hello.cookie.empty());            // no HelloVerifyRequest seen yet
  CHECK(std::find(hello.cipher_suites.begin(), hello.cipher_suites.end(), 0xc02b) != hello.cipher_suites.end());
  CHECK(hello.compression_methods == std::vector<uint8_t>{0});

  // use_srtp (RFC 5764 section 4.1.1): SRTPProtectionProfiles<2..2^16-1>, then srtp_mki<0..255>.
  const auto* use_srtp = hello.extension(14);
  REQUIRE(use_srtp);
  Reader ext{*use_srtp};
  Reader profiles{ext.vec(2)};
  std::vector<uint16_t> offered;
  while (profiles.left() > 0) offered.push_back(static_cast<uint16_t>(profiles.num(2)));
  CHECK(offered == std::vector<uint16_t>{0x0001});  // SRTP_AES128_CM_HMAC_SHA1_80
  CHECK(ext.vec(1).empty());                        // no MKI
  CHECK(ext.left() == 0);
}

TEST_CASE("DTLS client: randomness comes from the caller's entropy source", "[dtls]") {
  const auto hello_random = [](uint64_t seed) {
    DtlsEndpoint client = make_client(seed);
    REQUIRE(client.start(kStart).ok());
    auto datagram = take(client);
    REQUIRE(datagram);
    auto random = parse_client_hello(parse_records(*datagram).at(0).body).random;
    return std::vector<uint8_t>(random.begin() + 4, random.end());  // bytes 0-3 may be gmt_unix_time
  };
  CHECK(hello_random(7) == hello_random(7));
  CHECK(hello_random(7) != hello_random(8));

  DtlsConfig broken = client_config();
  broken.entropy = [](std::span<uint8_t>) { return false; };
  CHECK(DtlsEndpoint::create(std::move(broken)).code() == Errc::internal);
  DtlsConfig no_entropy = client_config();
  no_entropy.entropy = nullptr;
  CHECK(DtlsEndpoint::create(std::move(no_entropy)).code() == Errc::invalid_argument);
}

TEST_CASE("DTLS client: retransmission is driven by the time the caller passes", "[dtls]") {
  DtlsEndpoint client = make_client();
  CHECK_FALSE(client.next_timeout());
  REQUIRE(client.start(kStart).ok());
  const auto first = take(client);
  REQUIRE(first);
  REQUIRE(client.next_timeout() == kStart + 1000 * kMs);  // RFC 6347 4.2.4.1: 1 s initial timer

  // Before the deadline nothing happens.
  REQUIRE(client.handle_timeout(kStart + 999 * kMs).ok());
  CHECK_FALSE(client.poll_transmit());

  // At the deadline the same ClientHello goes out again in a new record, and the timer doubles.
  REQUIRE(client.handle_timeout(kStart + 1000 * kMs).ok());
  const auto again = take(client);
  REQUIRE(again);
  const auto r1 = parse_records(*first).at(0);
  const auto r2 = parse_records(*again).at(0);
  CHECK(r2.sequence == r1.sequence + 1);
  CHECK(std::equal(r1.body.begin(), r1.body.end(), r2.body.begin(), r2.body.end()));
  CHECK(client.next_timeout() == kStart + 3000 * kMs);

  // Unanswered, the timer doubles up to the 60 s maximum; when that one expires the handshake gives up.
  std::vector<uint64_t> intervals;
  uint64_t now = kStart + 1000 * kMs;
  Result<void> r;
  int sent = 2;
  while (auto deadline = client.next_timeout()) {
    REQUIRE(*deadline > now);
    intervals.push_back(*deadline - now);
    now = *deadline;
    r = client.handle_timeout(now);
    while (client.poll_transmit()) ++sent;
  }
  CHECK(intervals == std::vector<uint64_t>{2000 * kMs, 4000 * kMs, 8000 * kMs, 16000 * kMs, 32000 * kMs, 60000 * kMs});
  CHECK(r.code() == Errc::timed_out);
  CHECK(client.state() == DtlsState::failed);
  CHECK(sent == 7);
  CHECK_FALSE(client.next_timeout());
  CHECK(client.handle_timeout(now + 1000 * kMs).code() == Errc::timed_out);  // the failure sticks
}

TEST_CASE("DTLS client: garbage is an error, never a crash", "[dtls]") {
  DtlsEndpoint client = make_client();
  const std::vector<uint8_t> junk_probe = {1, 2, 3};
  CHECK(client.handle_datagram(junk_probe, kStart).code() == Errc::malformed_packet);
  const auto well_formed = record(22, 0, std::vector<uint8_t>(20, 0));
  CHECK(client.handle_datagram(well_formed, kStart).code() == Errc::invalid_argument);  // not started
  REQUIRE(client.start(kStart).ok());
  CHECK(client.start(kStart).code() == Errc::invalid_argument);
  REQUIRE(client.poll_transmit());

  SECTION("bytes that are not DTLS records") {
    CHECK(client.handle_datagram({}, kStart).code() == Errc::malformed_packet);
    uint32_t state = 99;
    for (int round = 0; round < 300; ++round) {
      std::vector<uint8_t> junk(1 + round % 200);
      for (auto& b : junk) b = static_cast<uint8_t>((state = state * 1103515245u + 12345u) >> 24);
      if (junk[0] >= 20 && junk[0] <= 23) junk[0] = 0x80;  // keep it junk (an RTP-looking first byte)
      CHECK(client.handle_datagram(junk, kStart).code() == Errc::malformed_packet);
    }
    auto truncated = record(22, 1, std::vector<uint8_t>(40, 7));
    truncated.resize(truncated.size() - 1);  // the length field promises one byte more
    CHECK(client.handle_datagram(truncated, kStart).code() == Errc::malformed_packet);
    auto trailing = record(22, 1, std::vector<uint8_t>(8, 7));
    trailing.push_back(22);  // a second record cut off inside its header
    CHECK(client.handle_datagram(trailing, kStart).code() == Errc::malformed_packet);
    auto tls = record(22, 1, std::vector<uint8_t>(8, 7));
    tls[1] = 0x03;  // TLS, not DTLS
    CHECK(client.handle_datagram(tls, kStart).code() == Errc::malformed_packet);

    // None of it disturbed the handshake: the timer and the retransmission still work.
    CHECK(client.state() == DtlsState::connecting);
    REQUIRE(client.next_timeout() == kStart + 1000 * kMs);
    REQUIRE(client.handle_timeout(kStart + 1000 * kMs).ok());
    CHECK(client.poll_transmit());
  }

  SECTION("well-framed records with random contents are dropped or fail the handshake") {
    uint32_t state = 5;
    for (int round = 0; round < 300 && client.state() == DtlsState::connecting; ++round) {
      std::vector<uint8_t> body(round % 120);
      for (auto& b : body) b = static_cast<uint8_t>((state = state * 1103515245u + 12345u) >> 24);
      const auto r = client.handle_datagram(record(static_cast<uint8_t>(20 + round % 4), round, body), kStart);
      if (!r) CHECK(client.state() == DtlsState::failed);
    }
  }

  SECTION("a ServerHello too short to parse fails the handshake as malformed") {
    // handshake header: server_hello (2), length 6, message_seq 0, fragment_offset 0, fragment_length 6
    std::vector<uint8_t> hs = {2, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 6, 0xfe, 0xfd, 1, 2, 3, 4};
    const auto r = client.handle_datagram(record(22, 0, hs), kStart + 10 * kMs);
    CHECK(r.code() == Errc::malformed_packet);
    CHECK(client.state() == DtlsState::failed);
    CHECK(client.handle_datagram(record(22, 1, hs), kStart).code() == Errc::malformed_packet);  // it sticks
  }

  SECTION("a fatal alert from the peer fails the handshake as a protocol error") {
    const auto r = client.handle_datagram(record(21, 0, {2, 40}), kStart + 10 * kMs);  // fatal handshake_failure
    CHECK(r.code() == Errc::protocol_error);
    CHECK(client.state() == DtlsState::failed);
    CHECK_FALSE(client.next_timeout());
  }
}
