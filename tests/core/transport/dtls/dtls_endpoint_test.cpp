#include "core/transport/dtls/dtls_endpoint.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "support/fake_platform.h"

using namespace tandem;
using namespace tandem::transport;

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kStart = 5'000 * kMs;  // an arbitrary caller clock; the endpoint must only use what it is given

// A deterministic entropy source; endpoints built from equal seeds draw equal random bytes.
EntropySource seeded_entropy(uint64_t seed) {
  return [state = seed](std::span<uint8_t> out) mutable {
    for (auto& b : out) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      b = static_cast<uint8_t>(state >> 56);
    }
    return true;
  };
}

DtlsEndpoint make_client(uint64_t seed = 1) {
  DtlsConfig config;
  config.entropy = seeded_entropy(seed);
  auto client = DtlsEndpoint::create_client(std::move(config));
  REQUIRE(client.ok());
  return std::move(client).value();
}

// Bounds-checked big-endian reader for the wire formats below.
struct Reader {
  std::span<const uint8_t> d;
  size_t off = 0;
  size_t left() const { return d.size() - off; }
  uint64_t num(size_t bytes) {
    REQUIRE(left() >= bytes);
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v = (v << 8) | d[off++];
    return v;
  }
  std::span<const uint8_t> bytes(size_t n) {
    REQUIRE(left() >= n);
    auto s = d.subspan(off, n);
    off += n;
    return s;
  }
  std::span<const uint8_t> vec(size_t length_bytes) { return bytes(num(length_bytes)); }
};

struct Record {
  uint8_t type;
  uint16_t version, epoch;
  uint64_t sequence;
  std::span<const uint8_t> body;
};

// RFC 6347 section 4.1: a datagram carries whole records.
std::vector<Record> parse_records(std::span<const uint8_t> datagram) {
  std::vector<Record> records;
  Reader r{datagram};
  while (r.left() > 0) {
    Record rec{};
    rec.type = static_cast<uint8_t>(r.num(1));
    rec.version = static_cast<uint16_t>(r.num(2));
    rec.epoch = static_cast<uint16_t>(r.num(2));
    rec.sequence = r.num(6);
    rec.body = r.vec(2);
    records.push_back(rec);
  }
  return records;
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

std::vector<uint8_t> record(uint8_t type, uint64_t sequence, std::vector<uint8_t> body) {
  std::vector<uint8_t> r = {type, 0xfe, 0xfd, 0, 0};
  for (int i = 5; i >= 0; --i) r.push_back(static_cast<uint8_t>(sequence >> (8 * i)));
  r.push_back(static_cast<uint8_t>(body.size() >> 8));
  r.push_back(static_cast<uint8_t>(body.size()));
  r.insert(r.end(), body.begin(), body.end());
  return r;
}

}  // namespace

TEST_CASE("DTLS client: the first flight is a ClientHello offering use_srtp", "[dtls]") {
  DtlsEndpoint client = make_client();
  CHECK(client.state() == DtlsState::idle);
  CHECK_FALSE(client.poll_transmit());
  REQUIRE(client.start(kStart).ok());
  CHECK(client.state() == DtlsState::handshaking);

  auto datagram = client.poll_transmit();
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
  CHECK(ext.vec(1).empty());                       // no MKI
  CHECK(ext.left() == 0);
}

TEST_CASE("DTLS client: randomness comes from the caller's entropy source", "[dtls]") {
  const auto hello_random = [](uint64_t seed) {
    DtlsEndpoint client = make_client(seed);
    REQUIRE(client.start(kStart).ok());
    auto datagram = client.poll_transmit();
    REQUIRE(datagram);
    auto random = parse_client_hello(parse_records(*datagram).at(0).body).random;
    return std::vector<uint8_t>(random.begin() + 4, random.end());  // bytes 0-3 may be gmt_unix_time
  };
  CHECK(hello_random(7) == hello_random(7));
  CHECK(hello_random(7) != hello_random(8));

  DtlsConfig broken;
  broken.entropy = [](std::span<uint8_t>) { return false; };
  CHECK(DtlsEndpoint::create_client(std::move(broken)).code() == Errc::internal);
  CHECK(DtlsEndpoint::create_client(DtlsConfig{}).code() == Errc::invalid_argument);  // no entropy source
}

TEST_CASE("DTLS client: retransmission is driven by the time the caller passes", "[dtls]") {
  DtlsEndpoint client = make_client();
  CHECK_FALSE(client.next_timeout());
  REQUIRE(client.start(kStart).ok());
  const auto first = client.poll_transmit();
  REQUIRE(first);
  REQUIRE(client.next_timeout() == kStart + 1000 * kMs);  // RFC 6347 4.2.4.1: 1 s initial timer

  // Before the deadline nothing happens.
  REQUIRE(client.handle_timeout(kStart + 999 * kMs).ok());
  CHECK_FALSE(client.poll_transmit());

  // At the deadline the same ClientHello goes out again in a new record, and the timer doubles.
  REQUIRE(client.handle_timeout(kStart + 1000 * kMs).ok());
  const auto again = client.poll_transmit();
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
    CHECK(client.state() == DtlsState::handshaking);
    REQUIRE(client.next_timeout() == kStart + 1000 * kMs);
    REQUIRE(client.handle_timeout(kStart + 1000 * kMs).ok());
    CHECK(client.poll_transmit());
  }

  SECTION("well-framed records with random contents are dropped or fail the handshake") {
    uint32_t state = 5;
    for (int round = 0; round < 300 && client.state() == DtlsState::handshaking; ++round) {
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
