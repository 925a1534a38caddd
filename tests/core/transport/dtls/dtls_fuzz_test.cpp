// Garbage into handle_datagram at every stage of a session: random bytes, random well-framed records, and
// truncated, extended, bit-flipped and replayed copies of the session's own datagrams. Nothing may crash
// (ASan/UBSan builds check memory), bytes that are not DTLS are always an error, an error that does not fail
// the endpoint is only ever that rejection, and a connected endpoint survives every forged record.
#include <catch2/catch.hpp>
#include <vector>

#include "core/sim/rng.h"
#include "dtls_test_support.h"
#include "dtls_wire.h"

using namespace tandem;
using namespace tandem::transport;
using namespace tandem::test::dtls;

namespace {

using Datagram = std::vector<uint8_t>;

enum class Stage { idle, client_hello_sent, server_answered, client_finished, connected, closed, failed };

const char* name(Stage s) {
  switch (s) {
    case Stage::idle: return "idle";
    case Stage::client_hello_sent: return "client_hello_sent";
    case Stage::server_answered: return "server_answered";
    case Stage::client_finished: return "client_finished";
    case Stage::connected: return "connected";
    case Stage::closed: return "closed";
    case Stage::failed: return "failed";
  }
  return "?";
}

std::vector<Datagram> take_all(DtlsEndpoint& e, std::vector<Datagram>& corpus) {
  std::vector<Datagram> out;
  while (auto d = e.poll_transmit()) out.emplace_back(d->begin(), d->end());
  corpus.insert(corpus.end(), out.begin(), out.end());
  return out;
}

void feed(DtlsEndpoint& e, const std::vector<Datagram>& ds) {
  for (const auto& d : ds) (void)e.handle_datagram(d, kStart);
}

// A pair brought to `stage`, with every datagram it exchanged on the way (the flights in flight at the stage
// included, undelivered) in `corpus`.
Pair reach(Stage stage, std::vector<Datagram>& corpus) {
  DtlsConfig client = client_config();
  if (stage == Stage::failed) client.remote_fingerprint = certificate(3)->fingerprint();
  Pair p = make_pair(std::move(client));
  if (stage == Stage::idle) return p;
  REQUIRE(p.server.start(kStart).ok());
  REQUIRE(p.client.start(kStart).ok());
  const auto hello = take_all(p.client, corpus);
  if (stage == Stage::client_hello_sent) return p;
  feed(p.server, hello);
  const auto answer = take_all(p.server, corpus);
  if (stage == Stage::server_answered) return p;
  feed(p.client, answer);
  const auto finished = take_all(p.client, corpus);
  if (stage == Stage::client_finished || stage == Stage::failed) {
    if (stage == Stage::failed) REQUIRE(p.client.state() == DtlsState::failed);
    return p;
  }
  feed(p.server, finished);
  feed(p.client, take_all(p.server, corpus));
  REQUIRE(p.client.state() == DtlsState::connected);
  REQUIRE(p.server.state() == DtlsState::connected);
  for (size_t size : {20, 300, 1200}) {  // application records of the session, to mutate and replay
    REQUIRE(p.client.send(std::vector<uint8_t>(size, 0x11)).ok());
    REQUIRE(p.server.send(std::vector<uint8_t>(size, 0x22)).ok());
  }
  feed(p.server, take_all(p.client, corpus));
  feed(p.client, take_all(p.server, corpus));
  while (p.client.poll_received() || p.server.poll_received()) {
  }
  if (stage == Stage::connected) return p;
  p.client.close();
  feed(p.server, take_all(p.client, corpus));
  REQUIRE(p.server.state() == DtlsState::closed);
  return p;
}

Datagram random_bytes(sim::Rng& rng, size_t max) {
  Datagram d(1 + rng.up_to(max - 1));
  for (auto& b : d) b = static_cast<uint8_t>(rng.next_u64());
  return d;
}

// One of: bytes that are not DTLS (first byte outside 20..23), random bytes that may look like a record
// header, well-framed records with random contents, or a mutated or replayed datagram of the session.
Datagram garbage(sim::Rng& rng, const std::vector<Datagram>& corpus, bool& surely_not_dtls) {
  surely_not_dtls = false;
  const uint64_t kind = rng.up_to(5);
  if (kind == 0 || corpus.empty()) {
    Datagram d = random_bytes(rng, 1500);
    if (d[0] >= 20 && d[0] <= 23) d[0] = static_cast<uint8_t>(0x80 | d[0]);  // RTP-like, or STUN if < 4
    surely_not_dtls = true;
    return d;
  }
  if (kind == 1) {
    Datagram d = random_bytes(rng, 200);
    d[0] = static_cast<uint8_t>(20 + rng.up_to(3));
    if (d.size() > 2) d[1] = 0xfe, d[2] = 0xfd;
    return d;
  }
  if (kind == 2) {
    Datagram d;
    const uint64_t records = 1 + rng.up_to(2);
    for (uint64_t r = 0; r < records; ++r) {
      auto rec = record(static_cast<uint8_t>(20 + rng.up_to(3)), rng.up_to(1000), random_bytes(rng, 300));
      rec[4] = static_cast<uint8_t>(rng.up_to(2));  // epoch 0, 1 or 2
      d.insert(d.end(), rec.begin(), rec.end());
    }
    return d;
  }
  Datagram d = corpus[rng.up_to(corpus.size() - 1)];
  if (kind == 3) {
    const uint64_t flips = 1 + rng.up_to(3);
    for (uint64_t i = 0; i < flips; ++i) d[rng.up_to(d.size() - 1)] ^= static_cast<uint8_t>(1u << rng.up_to(7));
  } else if (kind == 4) {
    if (rng.chance(0.5)) {
      d.resize(rng.up_to(d.size() - 1));  // truncated (maybe to nothing)
    } else {
      const Datagram tail = random_bytes(rng, 64);
      d.insert(d.end(), tail.begin(), tail.end());
    }
  }  // kind 5: replayed as it is
  return d;
}

}  // namespace

TEST_CASE("DTLS fuzz: garbage at every stage never crashes and is rejected or dropped", "[dtls]") {
  sim::Rng rng(20240611);
  for (Stage stage : {Stage::idle, Stage::client_hello_sent, Stage::server_answered, Stage::client_finished,
                      Stage::connected, Stage::closed, Stage::failed}) {
    for (bool target_client : {true, false}) {
      INFO("stage " << name(stage) << ", fuzzing the " << (target_client ? "client" : "server"));
      std::vector<Datagram> corpus;
      Pair p = reach(stage, corpus);
      const DtlsState before = (target_client ? p.client : p.server).state();
      int rebuilt = 0;
      int failures = 0;
      for (int round = 0; round < 1500; ++round) {
        DtlsEndpoint& target = target_client ? p.client : p.server;
        if (target.state() == DtlsState::failed && before != DtlsState::failed && rebuilt < 10) {
          // Failing a handshake on a forged handshake message is allowed; go on with a fresh pair a few times.
          ++failures;
          ++rebuilt;
          std::vector<Datagram> unused;
          p = reach(stage, unused);
          continue;
        }
        bool surely_not_dtls = false;
        const Datagram d = garbage(rng, corpus, surely_not_dtls);
        const DtlsState state = target.state();
        const uint64_t rejected = target.stats().datagrams_rejected;
        const auto r = target.handle_datagram(d, kStart + round * kMs);
        while (target.poll_transmit()) {
        }
        while (target.poll_received()) {
        }
        if (surely_not_dtls) CHECK_FALSE(r.ok());
        if (before == DtlsState::failed) CHECK(r.code() == Errc::authentication_failed);  // the failure sticks
        if (!r.ok() && target.state() != DtlsState::failed) {
          // The one error that changes nothing: "not DTLS" (or "not started" while idle).
          const bool rejection =
              r.code() == Errc::malformed_packet && target.stats().datagrams_rejected == rejected + 1;
          CHECK((rejection || (state == DtlsState::idle && r.code() == Errc::invalid_argument)));
        }
        if (state == DtlsState::connected || state == DtlsState::closed || state == DtlsState::idle) {
          CHECK(target.state() == state);  // forged records never change an established (or final) state
        }
      }
      if (before == DtlsState::connected) {
        // Still a working session: records flow both ways, and the forgeries were counted.
        DtlsEndpoint& other = target_client ? p.server : p.client;
        DtlsEndpoint& target = target_client ? p.client : p.server;
        CHECK(target.stats().records_dropped > 0);
        REQUIRE(other.send(std::vector<uint8_t>(100, 1)).ok());
        REQUIRE(target.send(std::vector<uint8_t>(100, 2)).ok());
        deliver(other, target, kStart);
        deliver(target, other, kStart);
        CHECK(target.poll_received());
        CHECK(other.poll_received());
        CHECK(failures == 0);
      }
    }
  }
}

TEST_CASE("DTLS: a connected endpoint drops and counts a forged or replayed record", "[dtls]") {
  Pair p = make_pair();
  REQUIRE(handshake(p));
  REQUIRE(p.client.send(std::vector<uint8_t>(200, 7)).ok());
  auto d = p.client.poll_transmit();
  REQUIRE(d);
  const Datagram genuine(d->begin(), d->end());

  Datagram forged = genuine;
  forged[forged.size() - 20] ^= 0x01;  // one bit of the ciphertext
  CHECK(p.server.handle_datagram(forged, kStart).ok());
  CHECK_FALSE(p.server.poll_received());
  CHECK(p.server.stats().records_dropped == 1);
  CHECK(p.server.state() == DtlsState::connected);

  Datagram header_forged = genuine;
  header_forged[10] ^= 0x40;  // the sequence number: authenticated as additional data
  CHECK(p.server.handle_datagram(header_forged, kStart).ok());
  CHECK(p.server.stats().records_dropped == 2);

  REQUIRE(p.server.handle_datagram(genuine, kStart).ok());
  auto got = p.server.poll_received();
  REQUIRE(got);
  CHECK(got->size() == 200);
  CHECK(p.server.handle_datagram(genuine, kStart).ok());  // replayed: the anti-replay window drops it
  CHECK_FALSE(p.server.poll_received());
  CHECK(p.server.stats().records_dropped == 3);
  CHECK(p.server.stats().records_received == 1);

  // A plaintext (epoch 0) fatal alert, as an off-path attacker could forge, does not end the session.
  CHECK(p.server.handle_datagram(record(21, 99, {2, 40}), kStart).ok());
  CHECK(p.server.state() == DtlsState::connected);
}
