// Garbage in: random and mutated SCTP packets into handle_datagram, and random and mutated DCEP messages from
// a peer that speaks raw SCTP. Nothing may crash; everything rejected is counted.
#include <usrsctp.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "core/sim/rng.h"
#include "core/transport/sctp/dcep.h"
#include "tests/core/transport/sctp/data_channel_harness.h"

using namespace tandem;
using namespace tandem::transport;
using namespace tandem::test::dc;
using Kind = DataChannelEventKind;

namespace {

// Rewrites the CRC32c so that a mutated packet gets past the checksum and into usrsctp's chunk parsing.
void fix_crc(std::vector<uint8_t>& packet) {
  if (packet.size() < 12) return;
  std::memset(packet.data() + 8, 0, 4);
  const uint32_t crc = usrsctp_crc32c(packet.data(), packet.size());
  std::memcpy(packet.data() + 8, &crc, 4);
}

void drain(DataChannelTransport& t) {
  while (t.poll_event()) {
  }
  while (t.poll_transmit()) {
  }
}

}  // namespace

TEST_CASE("Data channels: random and mutated packets into handle_datagram never crash", "[datachannel][sctp]") {
  DataChannelTransport a = make_transport(true);
  DataChannelTransport b = make_transport(false);
  Pair pair{a, b};
  pair.connect();
  auto id = a.create_channel(DataChannelInit{"fuzzed", "p", true, {}, {}, {}, 256});
  REQUIRE(id.ok());

  // A corpus of genuine packets of every kind the session produces (DCEP, data, SACKs, stream resets).
  std::vector<std::vector<uint8_t>> corpus;
  for (int i = 0; i < 40; ++i) {
    REQUIRE(a.send(*id, std::vector<uint8_t>(size_t(1) << (i % 12), uint8_t(i)), i % 2, pair.now).ok());
    pair.drain_events();
    while (auto p = a.poll_transmit()) {
      corpus.emplace_back(p->begin(), p->end());
      CHECK(b.handle_datagram(*p, pair.now).ok());
    }
    pair.step(5 * kMs);
  }
  REQUIRE(corpus.size() >= 20);

  sim::Rng rng(4960);
  size_t malformed = 0, accepted = 0;
  for (int round = 0; round < 6000; ++round) {
    std::vector<uint8_t> p;
    const int kind = round % 3;
    if (kind == 0) {  // pure noise: the checksum rejects it
      p.resize(rng.up_to(1300));
      for (auto& x : p) x = static_cast<uint8_t>(rng.next_u64());
    } else {  // a genuine packet, bytes flipped or cut, checksum recomputed: usrsctp must cope
      p = corpus[rng.up_to(corpus.size() - 1)];
      for (uint64_t k = 1 + rng.up_to(4); k-- > 0;) {
        p[12 + rng.up_to(p.size() - 13)] = static_cast<uint8_t>(rng.next_u64());
      }
      if (kind == 2 && rng.chance(0.5)) p.resize(12 + rng.up_to(p.size() - 12));
      fix_crc(p);
    }
    auto r = b.handle_datagram(p, pair.now);
    if (r.ok()) ++accepted;
    else {
      CHECK(r.code() == Errc::malformed_packet);
      ++malformed;
    }
    // Whatever b answers goes to a, which must cope with it too.
    drain(a);
    while (auto e = b.poll_event()) {
    }
    while (auto out = b.poll_transmit()) (void)a.handle_datagram(*out, pair.now);
    if (round % 100 == 0) pair.step(20 * kMs);
  }
  CHECK(malformed >= 2000);
  CHECK(accepted >= 3000);
  CHECK(b.stats().sctp.malformed_packets == malformed);
}

TEST_CASE("Data channels: malformed DCEP from the peer is rejected, counted, and harmless", "[datachannel]") {
  DataChannelTransport t = make_transport(true);  // DTLS client: the peer must use odd ids
  auto raw_or = SctpEndpoint::create();
  REQUIRE(raw_or.ok());
  SctpEndpoint raw = std::move(raw_or).value();
  uint64_t now = 1'000 * kMs;
  size_t errors = 0, opened = 0, messages = 0;
  auto exchange = [&] {
    for (bool moved = true; moved;) {
      moved = false;
      while (auto e = t.poll_event()) {
        errors += e->kind == Kind::error;
        opened += e->kind == Kind::channel_open;
        messages += e->kind == Kind::message;
      }
      while (raw.poll_event()) {
      }
      while (auto p = t.poll_transmit()) moved = raw.handle_datagram(*p, now).ok() || moved;
      while (auto p = raw.poll_transmit()) moved = t.handle_datagram(*p, now).ok() || moved;
    }
  };
  REQUIRE(t.start(now).ok());
  REQUIRE(raw.connect(5000, now).ok());
  for (int i = 0; i < 3000 && !(t.is_connected() && raw.is_connected()); ++i) {
    now += 10 * kMs;
    (void)t.handle_timeout(now);
    (void)raw.handle_timeout(now);
    exchange();
  }
  REQUIRE(t.is_connected());

  DcepOpen open;
  open.label = "valid";
  open.protocol = "proto";
  std::vector<uint8_t> good;
  REQUIRE(write_dcep_open(open, good).ok());
  sim::Rng rng(8831);
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint8_t> m;
    uint32_t ppid = 50;
    if (round % 4 == 0) {  // noise
      m.resize(1 + rng.up_to(30));
      for (auto& x : m) x = static_cast<uint8_t>(rng.next_u64());
    } else if (round % 4 == 1) {  // a mutated OPEN: some parse (and open a channel), most do not
      m = good;
      m[rng.up_to(m.size() - 1)] = static_cast<uint8_t>(rng.next_u64());
      if (rng.chance(0.3)) m.resize(1 + rng.up_to(m.size() - 1));
    } else if (round % 4 == 2) {  // a stray ACK
      m = {0x02};
    } else {  // user data on streams that may have no channel, and unknown PPIDs
      m = {1, 2, 3};
      ppid = rng.chance(0.5) ? 51 : static_cast<uint32_t>(rng.up_to(100));
    }
    const uint16_t stream = static_cast<uint16_t>(rng.up_to(63));  // both parities
    (void)raw.send(stream, ppid, m, {}, now);
    if (round % 8 == 0) {
      now += 5 * kMs;
      (void)t.handle_timeout(now);
      (void)raw.handle_timeout(now);
    }
    exchange();
  }
  const DataChannelStats stats = t.stats();
  CHECK(stats.dcep_errors > 500);
  CHECK(errors == stats.dcep_errors);
  CHECK(stats.messages_dropped > 100);
  CHECK(t.is_connected());

  // Still a working peer: a valid OPEN on a fresh odd stream opens a channel, and data flows on it.
  const size_t opened_before = opened;
  const uint16_t fresh = 1001;
  REQUIRE(raw.send(fresh, 50, good, {}, now).ok());
  REQUIRE(raw.send(fresh, 51, std::vector<uint8_t>{'h', 'i'}, {}, now).ok());
  exchange();
  CHECK(opened == opened_before + 1);
  REQUIRE(t.channel(fresh) != nullptr);
  CHECK(t.channel(fresh)->label == "valid");
  CHECK(t.channel(fresh)->messages_received == 1);
}
