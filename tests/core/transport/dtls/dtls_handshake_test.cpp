// Handshakes between two endpoints in memory: both roles, retransmission on each side, the fingerprint check
// in both directions, and the DTLS-SRTP keys (crosswise agreement, an independent exporter computation, and
// libsrtp accepting them).
#include <mbedtls/md.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "core/media/srtp_session.h"
#include "dtls_test_support.h"
#include "dtls_wire.h"

using namespace tandem;
using namespace tandem::transport;
using namespace tandem::test::dtls;

namespace {

// Starts the endpoints still idle and runs both until nothing moves and no timer is left: both connected, or
// final (closed/failed).
void run(Pair& p, uint64_t now = kStart) {
  if (p.server.state() == DtlsState::idle) REQUIRE(p.server.start(now).ok());
  if (p.client.state() == DtlsState::idle) REQUIRE(p.client.start(now).ok());
  for (int round = 0; round < 100; ++round) {
    const size_t moved = deliver(p.client, p.server, now) + deliver(p.server, p.client, now);
    if (moved > 0) continue;
    auto t = p.client.next_timeout();
    if (auto ts = p.server.next_timeout(); ts && (!t || *ts < *t)) t = ts;
    if (!t) return;
    now = *t;
    (void)p.client.handle_timeout(now);
    (void)p.server.handle_timeout(now);
  }
}

std::vector<std::vector<uint8_t>> take_all(DtlsEndpoint& e) {
  std::vector<std::vector<uint8_t>> out;
  while (auto d = e.poll_transmit()) out.emplace_back(d->begin(), d->end());
  return out;
}

void feed(DtlsEndpoint& e, const std::vector<std::vector<uint8_t>>& datagrams, uint64_t now) {
  for (const auto& d : datagrams) (void)e.handle_datagram(d, now);
}

// The handshake bodies of a flight, without record headers (which carry fresh sequence numbers on resend).
std::vector<std::vector<uint8_t>> handshake_bodies(const std::vector<std::vector<uint8_t>>& flight) {
  std::vector<std::vector<uint8_t>> out;
  for (const auto& d : flight) {
    for (const auto& r : parse_records(d)) out.emplace_back(r.body.begin(), r.body.end());
  }
  return out;
}

std::vector<uint8_t> from_hex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// TLS 1.2 PRF with SHA-256 (RFC 5246 section 5), written out here from the RFC so the endpoint's exporter is
// checked against an independent computation: P_SHA256(secret, seed) = HMAC(secret, A(1) + seed) + ...,
// A(0) = seed, A(i) = HMAC(secret, A(i-1)), seed = label + client_random + server_random.
std::vector<uint8_t> prf_sha256(std::span<const uint8_t> secret, std::string_view label,
                                std::span<const uint8_t> randoms, size_t length) {
  const mbedtls_md_info_t* sha256 = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  std::vector<uint8_t> seed(label.begin(), label.end());
  seed.insert(seed.end(), randoms.begin(), randoms.end());
  std::vector<uint8_t> a = seed, out;
  while (out.size() < length) {
    std::vector<uint8_t> next(32);
    REQUIRE(mbedtls_md_hmac(sha256, secret.data(), secret.size(), a.data(), a.size(), next.data()) == 0);
    a = next;
    std::vector<uint8_t> input = a;
    input.insert(input.end(), seed.begin(), seed.end());
    std::vector<uint8_t> block(32);
    REQUIRE(mbedtls_md_hmac(sha256, secret.data(), secret.size(), input.data(), input.size(), block.data()) == 0);
    out.insert(out.end(), block.begin(), block.end());
  }
  out.resize(length);
  return out;
}

// The random of the first handshake message of a datagram whose first record is a ClientHello/ServerHello:
// handshake header (12 bytes), version (2), random (32).
std::vector<uint8_t> hello_random(const std::vector<uint8_t>& datagram, uint8_t message_type) {
  const auto records = parse_records(datagram);
  REQUIRE(!records.empty());
  REQUIRE(records[0].type == 22);
  const auto body = records[0].body;
  REQUIRE(body.size() >= 12 + 2 + 32);
  REQUIRE(body[0] == message_type);
  return {body.begin() + 14, body.begin() + 46};
}

std::vector<uint8_t> to_vector(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("DTLS: client and server complete a handshake in memory", "[dtls]") {
  Pair p = make_pair();
  CHECK(p.client.role() == DtlsRole::client);
  CHECK(p.server.role() == DtlsRole::server);
  REQUIRE(p.server.start(kStart).ok());
  CHECK_FALSE(p.server.poll_transmit());  // a server waits for the ClientHello
  CHECK_FALSE(p.server.next_timeout());
  REQUIRE(p.client.start(kStart).ok());

  // Flight by flight (RFC 6347 section 4.2.4): no HelloVerifyRequest, so ClientHello is answered at once by
  // ServerHello .. ServerHelloDone, which is answered by the client's Certificate .. Finished.
  const auto flight1 = take_all(p.client);
  REQUIRE(flight1.size() == 1);
  feed(p.server, flight1, kStart);
  const auto flight2 = take_all(p.server);
  REQUIRE_FALSE(flight2.empty());
  CHECK(parse_records(flight2[0]).at(0).body[0] == 2);  // server_hello, not hello_verify_request (3)
  for (const auto& d : flight2) CHECK(d.size() <= 1200);
  feed(p.client, flight2, kStart);
  const auto flight3 = take_all(p.client);
  REQUIRE_FALSE(flight3.empty());
  CHECK(p.client.state() == DtlsState::connecting);
  feed(p.server, flight3, kStart);
  CHECK(p.server.state() == DtlsState::connected);
  const auto flight4 = take_all(p.server);  // ChangeCipherSpec, Finished
  REQUIRE_FALSE(flight4.empty());
  feed(p.client, flight4, kStart);
  CHECK(p.client.state() == DtlsState::connected);
  CHECK_FALSE(p.client.poll_transmit());
  CHECK_FALSE(p.client.next_timeout());
  CHECK_FALSE(p.server.next_timeout());

  for (auto* e : {&p.client, &p.server}) {
    const auto events = drain_events(*e);
    REQUIRE(events.size() == 2);
    CHECK(events[0].state == DtlsState::connecting);
    CHECK(events[1].state == DtlsState::connected);
    CHECK(events[1].error == Errc::ok);
    CHECK(e->cipher_suite() == "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
    CHECK(e->last_error() == nullptr);
  }
}

TEST_CASE("DTLS: configuration is checked", "[dtls]") {
  auto without = [](auto mutate) {
    DtlsConfig c = client_config();
    mutate(c);
    return DtlsEndpoint::create(std::move(c)).code();
  };
  CHECK(without([](DtlsConfig& c) { c.certificate = nullptr; }) == Errc::invalid_argument);
  CHECK(without([](DtlsConfig& c) { c.remote_fingerprint = {}; }) == Errc::invalid_argument);
  CHECK(without([](DtlsConfig& c) { c.mtu = 100; }) == Errc::invalid_argument);
  CHECK(without([](DtlsConfig& c) { c.max_record_payload = 0; }) == Errc::invalid_argument);
  CHECK(without([](DtlsConfig& c) { c.max_record_payload = 20000; }) == Errc::invalid_argument);
  CHECK(without([](DtlsConfig& c) { c.max_queued = 2; }) == Errc::invalid_argument);
  CHECK(without([](DtlsConfig& c) { c.handshake_timeout_max_ms = 10; }) == Errc::invalid_argument);
  CHECK(without([](DtlsConfig&) {}) == Errc::ok);
}

TEST_CASE("DTLS: each side retransmits its lost flight", "[dtls]") {
  Pair p = make_pair();
  REQUIRE(p.server.start(kStart).ok());
  REQUIRE(p.client.start(kStart).ok());
  feed(p.server, take_all(p.client), kStart);

  SECTION("the server's first flight is lost: its own timer resends it") {
    const auto lost = take_all(p.server);
    REQUIRE(p.server.next_timeout() == kStart + 1000 * kMs);
    REQUIRE(p.server.handle_timeout(kStart + 999 * kMs).ok());
    CHECK_FALSE(p.server.poll_transmit());
    REQUIRE(p.server.handle_timeout(kStart + 1000 * kMs).ok());
    const auto resent = take_all(p.server);
    CHECK(handshake_bodies(resent) == handshake_bodies(lost));
    CHECK(p.server.next_timeout() == kStart + 3000 * kMs);  // doubled
    feed(p.client, resent, kStart + 1000 * kMs);
    run(p, kStart + 1000 * kMs);
  }

  SECTION("the server's final flight is lost: the client's resent flight makes the connected server answer") {
    feed(p.client, take_all(p.server), kStart);
    feed(p.server, take_all(p.client), kStart);
    REQUIRE(p.server.state() == DtlsState::connected);
    const auto lost = take_all(p.server);
    REQUIRE_FALSE(lost.empty());
    CHECK_FALSE(p.server.next_timeout());  // the last flight is resent only when asked
    const auto deadline = p.client.next_timeout();
    REQUIRE(deadline);
    REQUIRE(p.client.handle_timeout(*deadline).ok());
    const auto again = take_all(p.client);
    REQUIRE_FALSE(again.empty());
    feed(p.server, again, *deadline);
    const auto answer = take_all(p.server);
    CHECK(handshake_bodies(answer).size() == handshake_bodies(lost).size());
    feed(p.client, answer, *deadline);
  }

  CHECK(p.client.state() == DtlsState::connected);
  CHECK(p.server.state() == DtlsState::connected);
}

TEST_CASE("DTLS: a certificate that does not match the signalled fingerprint fails the handshake", "[dtls]") {
  const DtlsFingerprint someone_else = certificate(3)->fingerprint();

  SECTION("the client rejects the server's certificate") {
    DtlsConfig c = client_config();
    c.remote_fingerprint = someone_else;
    Pair p = make_pair(std::move(c));
    run(p);
    CHECK(p.client.state() == DtlsState::failed);
    REQUIRE(p.client.last_error());
    CHECK(p.client.last_error()->code == Errc::authentication_failed);
    const std::string message = p.client.last_error()->message;
    CHECK(message.find("does not match its signalled fingerprint") != std::string::npos);
    CHECK(message.find(someone_else.value()) != std::string::npos);
    CHECK(message.find(certificate(2)->fingerprint().value()) != std::string::npos);
    // Its fatal alert reached the server, which fails too, and says why.
    CHECK(p.server.state() == DtlsState::failed);
    REQUIRE(p.server.last_error());
    CHECK(p.server.last_error()->code == Errc::authentication_failed);
    CHECK(p.server.last_error()->message.find("rejected our certificate") != std::string::npos);
    const auto events = drain_events(p.client);
    REQUIRE(events.size() == 2);
    CHECK(events[1].state == DtlsState::failed);
    CHECK(events[1].error == Errc::authentication_failed);
    CHECK(p.client.srtp_keys().code() == Errc::invalid_argument);
    CHECK(p.client.send(std::vector<uint8_t>(10)).code() == Errc::authentication_failed);
  }

  SECTION("the server rejects the client's certificate") {
    DtlsConfig s = server_config();
    s.remote_fingerprint = someone_else;
    Pair p = make_pair(client_config(), std::move(s));
    run(p);
    CHECK(p.server.state() == DtlsState::failed);
    REQUIRE(p.server.last_error());
    CHECK(p.server.last_error()->code == Errc::authentication_failed);
    CHECK(p.server.last_error()->message.find("does not match its signalled fingerprint") != std::string::npos);
    CHECK(p.client.state() == DtlsState::failed);
    REQUIRE(p.client.last_error());
    CHECK(p.client.last_error()->code == Errc::authentication_failed);
  }

  SECTION("one flipped bit of the digest is enough") {
    DtlsConfig c = client_config();
    c.remote_fingerprint.digest[31] ^= 1;
    Pair p = make_pair(std::move(c));
    run(p);
    CHECK(p.client.last_error() != nullptr);
    CHECK(p.client.state() == DtlsState::failed);
  }

  SECTION("the configured algorithm is the one checked: a right sha-1 or sha-512 fingerprint passes") {
    for (auto algorithm : {FingerprintAlgorithm::sha1, FingerprintAlgorithm::sha384, FingerprintAlgorithm::sha512}) {
      DtlsConfig c = client_config();
      c.remote_fingerprint = certificate(2)->fingerprint(algorithm);
      DtlsConfig s = server_config();
      s.remote_fingerprint = certificate(1)->fingerprint(algorithm);
      Pair p = make_pair(std::move(c), std::move(s));
      CHECK(handshake(p));
    }
  }
}

TEST_CASE("DTLS-SRTP: the exported keys agree crosswise and match an independent exporter", "[dtls]") {
  std::vector<std::string> log;
  DtlsConfig c = client_config();
  c.key_log = [&log](std::string_view line) { log.emplace_back(line); };
  Pair p = make_pair(std::move(c));
  CHECK(p.client.srtp_keys().code() == Errc::invalid_argument);  // not before the handshake

  // Keep the hellos to read the randoms off the wire.
  REQUIRE(p.server.start(kStart).ok());
  REQUIRE(p.client.start(kStart).ok());
  const auto client_hello = take_all(p.client);
  feed(p.server, client_hello, kStart);
  const auto server_flight = take_all(p.server);
  feed(p.client, server_flight, kStart);
  run(p);
  REQUIRE(p.client.state() == DtlsState::connected);
  REQUIRE(p.server.state() == DtlsState::connected);

  const auto ck = p.client.srtp_keys();
  const auto sk = p.server.srtp_keys();
  REQUIRE(ck.ok());
  REQUIRE(sk.ok());
  CHECK(ck->profile == media::SrtpProfile::aes_cm_128_hmac_sha1_80);
  CHECK(sk->profile == media::SrtpProfile::aes_cm_128_hmac_sha1_80);
  CHECK(ck->local.key().size() == 16);
  CHECK(ck->local.salt().size() == 14);
  CHECK(to_vector(ck->local.key()) == to_vector(sk->remote.key()));
  CHECK(to_vector(ck->local.salt()) == to_vector(sk->remote.salt()));
  CHECK(to_vector(ck->remote.key()) == to_vector(sk->local.key()));
  CHECK(to_vector(ck->remote.salt()) == to_vector(sk->local.salt()));
  CHECK(to_vector(ck->local.key()) != to_vector(ck->remote.key()));

  // RFC 5764 section 4.2 computed here from the master secret (NSS key log line) and the hello randoms.
  REQUIRE(log.size() == 1);
  REQUIRE(log[0].size() == std::string("CLIENT_RANDOM ").size() + 64 + 1 + 96);
  REQUIRE(log[0].rfind("CLIENT_RANDOM ", 0) == 0);
  const auto client_random = from_hex(std::string_view(log[0]).substr(14, 64));
  const auto master_secret = from_hex(std::string_view(log[0]).substr(14 + 65, 96));
  CHECK(client_random == hello_random(client_hello.at(0), 1));
  std::vector<uint8_t> randoms = client_random;
  const auto server_random = hello_random(server_flight.at(0), 2);
  randoms.insert(randoms.end(), server_random.begin(), server_random.end());
  REQUIRE(p.client.cipher_suite().find("SHA256") != std::string_view::npos);  // the PRF hash
  const auto material = prf_sha256(master_secret, "EXTRACTOR-dtls_srtp", randoms, 2 * (16 + 14));
  const std::vector<uint8_t> client_key(material.begin(), material.begin() + 16);
  const std::vector<uint8_t> server_key(material.begin() + 16, material.begin() + 32);
  const std::vector<uint8_t> client_salt(material.begin() + 32, material.begin() + 46);
  const std::vector<uint8_t> server_salt(material.begin() + 46, material.begin() + 60);
  CHECK(to_vector(ck->local.key()) == client_key);
  CHECK(to_vector(ck->local.salt()) == client_salt);
  CHECK(to_vector(sk->local.key()) == server_key);
  CHECK(to_vector(sk->local.salt()) == server_salt);

  // libsrtp takes them as they are: what the client protects, the server unprotects.
  auto out = media::SrtpSession::create({.profile = ck->profile,
                                         .direction = media::SrtpDirection::outbound,
                                         .master_key = ck->local.key(),
                                         .master_salt = ck->local.salt()});
  auto in = media::SrtpSession::create({.profile = sk->profile,
                                        .direction = media::SrtpDirection::inbound,
                                        .master_key = sk->remote.key(),
                                        .master_salt = sk->remote.salt()});
  REQUIRE(out.ok());
  REQUIRE(in.ok());
  std::vector<uint8_t> rtp = {0x80, 96, 0, 1, 0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78};
  for (int i = 0; i < 40; ++i) rtp.push_back(static_cast<uint8_t>(i));
  const std::vector<uint8_t> plain = rtp;
  rtp.resize(rtp.size() + out->rtp_overhead());
  auto protected_len = out->protect(rtp, plain.size());
  REQUIRE(protected_len.ok());
  rtp.resize(*protected_len);
  auto plain_len = in->unprotect(rtp);
  REQUIRE(plain_len.ok());
  rtp.resize(*plain_len);
  CHECK(rtp == plain);
}
