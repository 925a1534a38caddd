// After the handshake: application records both ways, their limits and queues, close_notify, and the
// no-allocation hot path.
#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "dtls_test_support.h"
#include "dtls_wire.h"
#include "support/alloc_counter.h"

using namespace tandem;
using namespace tandem::transport;
using namespace tandem::test::dtls;

namespace {

constexpr size_t kGcmRecordOverhead = 13 + 8 + 16;  // header, explicit nonce, tag

Pair connected_pair(DtlsConfig client = client_config(), DtlsConfig server = server_config()) {
  Pair p = make_pair(std::move(client), std::move(server));
  REQUIRE(handshake(p));
  drain_events(p.client);
  drain_events(p.server);
  return p;
}

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

std::vector<uint8_t> take_one(DtlsEndpoint& e) {
  auto d = e.poll_transmit();
  REQUIRE(d);
  return {d->begin(), d->end()};
}

}  // namespace

TEST_CASE("DTLS: application records travel both ways, one record per datagram", "[dtls]") {
  Pair p = connected_pair();
  for (const size_t size : {size_t{1}, size_t{100}, size_t{1163}, size_t{1200}}) {
    for (auto [from, to] : {std::pair{&p.client, &p.server}, std::pair{&p.server, &p.client}}) {
      const auto payload = pattern(size, static_cast<uint8_t>(size));
      REQUIRE(from->send(payload).ok());
      const auto datagram = take_one(*from);
      CHECK_FALSE(from->poll_transmit());
      CHECK(datagram.size() == size + kGcmRecordOverhead);
      const auto records = parse_records(datagram);
      REQUIRE(records.size() == 1);
      CHECK(records[0].type == 23);
      CHECK(records[0].epoch == 1);
      REQUIRE(to->handle_datagram(datagram, kStart).ok());
      auto got = to->poll_received();
      REQUIRE(got);
      CHECK(std::vector<uint8_t>(got->begin(), got->end()) == payload);
      CHECK_FALSE(to->poll_received());
    }
  }
  CHECK(p.client.stats().records_sent == 4);
  CHECK(p.client.stats().records_received == 4);
  CHECK(p.server.stats().records_received == 4);
  CHECK(p.server.stats().records_dropped == 0);

  // Several records queued before the peer reads them arrive in order.
  for (uint8_t i = 0; i < 5; ++i) REQUIRE(p.client.send(pattern(50 + i, i)).ok());
  deliver(p.client, p.server, kStart);
  for (uint8_t i = 0; i < 5; ++i) {
    auto got = p.server.poll_received();
    REQUIRE(got);
    CHECK(std::vector<uint8_t>(got->begin(), got->end()) == pattern(50 + i, i));
  }
}

TEST_CASE("DTLS: send() checks state, size and the outgoing queue", "[dtls]") {
  Pair idle = make_pair();
  CHECK(idle.client.send(pattern(10, 1)).code() == Errc::invalid_argument);  // not connected
  REQUIRE(idle.client.start(kStart).ok());
  CHECK(idle.client.send(pattern(10, 1)).code() == Errc::invalid_argument);

  DtlsConfig small = client_config();
  small.max_queued = 8;
  small.max_record_payload = 1300;
  DtlsConfig small_server = server_config();
  small_server.max_queued = 8;
  Pair p = connected_pair(std::move(small), std::move(small_server));
  CHECK(p.client.max_record_payload() == 1300);
  CHECK(p.client.send({}).code() == Errc::invalid_argument);
  CHECK(p.client.send(pattern(1301, 1)).code() == Errc::invalid_argument);
  REQUIRE(p.client.send(pattern(1300, 1)).ok());  // larger than `mtu`: application records may be
  CHECK(take_one(p.client).size() == 1300 + kGcmRecordOverhead);
  CHECK(p.server.send(pattern(1201, 1)).code() == Errc::invalid_argument);  // the server's default 1200

  // The outgoing queue holds 8; the 9th send asks the caller to poll_transmit first.
  for (int i = 0; i < 8; ++i) REQUIRE(p.client.send(pattern(100, 1)).ok());
  CHECK(p.client.send(pattern(100, 1)).code() == Errc::resource_exhausted);
  CHECK(p.client.state() == DtlsState::connected);

  // The server's received queue holds 8 too: unread records beyond that are dropped and counted.
  deliver(p.client, p.server, kStart);
  for (int i = 0; i < 3; ++i) REQUIRE(p.client.send(pattern(100, 2)).ok());
  deliver(p.client, p.server, kStart);
  CHECK(p.server.stats().records_received == 8);
  CHECK(p.server.stats().received_overflow == 3);
  int drained = 0;
  while (p.server.poll_received()) ++drained;
  CHECK(drained == 8);
  REQUIRE(p.client.send(pattern(100, 3)).ok());
  deliver(p.client, p.server, kStart);
  CHECK(p.server.poll_received());
}

TEST_CASE("DTLS: a datagram sink takes every datagram as it is made, and send() never waits for a queue", "[dtls]") {
  struct Collect final : DtlsDatagramSink {
    std::vector<std::vector<uint8_t>> datagrams;
    void on_datagram(std::span<const uint8_t> d) override { datagrams.emplace_back(d.begin(), d.end()); }
  };
  DtlsConfig small = client_config();
  small.max_queued = 8;
  Pair p = make_pair(std::move(small));
  Collect to_server, to_client;
  p.client.set_datagram_sink(&to_server);
  p.server.set_datagram_sink(&to_client);
  REQUIRE(p.server.start(kStart).ok());
  REQUIRE(p.client.start(kStart).ok());
  // The handshake, through the sinks only.
  for (int round = 0; round < 10 && !(to_server.datagrams.empty() && to_client.datagrams.empty()); ++round) {
    CHECK_FALSE(p.client.poll_transmit());
    CHECK_FALSE(p.server.poll_transmit());
    for (const auto& d : std::exchange(to_server.datagrams, {})) (void)p.server.handle_datagram(d, kStart);
    for (const auto& d : std::exchange(to_client.datagrams, {})) (void)p.client.handle_datagram(d, kStart);
  }
  REQUIRE(p.client.state() == DtlsState::connected);
  REQUIRE(p.server.state() == DtlsState::connected);

  // Twice the queue's limit of records, none refused; one datagram each, in order, read back whole.
  for (uint8_t i = 0; i < 16; ++i) REQUIRE(p.client.send(pattern(1000 + i, i)).ok());
  CHECK_FALSE(p.client.poll_transmit());
  REQUIRE(to_server.datagrams.size() == 16);
  for (uint8_t i = 0; i < 16; ++i) {
    CHECK(to_server.datagrams[i].size() == 1000 + i + kGcmRecordOverhead);
    REQUIRE(p.server.handle_datagram(to_server.datagrams[i], kStart).ok());
    auto got = p.server.poll_received();
    REQUIRE(got);
    CHECK(std::vector<uint8_t>(got->begin(), got->end()) == pattern(1000 + i, i));
  }

  // Without the sink, the queue again.
  to_server.datagrams.clear();
  p.client.set_datagram_sink(nullptr);
  REQUIRE(p.client.send(pattern(10, 1)).ok());
  CHECK(to_server.datagrams.empty());
  CHECK(take_one(p.client).size() == 10 + kGcmRecordOverhead);
}

TEST_CASE("DTLS: close() sends close_notify and the peer closes too", "[dtls]") {
  Pair p = connected_pair();
  const auto keys_before = p.client.srtp_keys();
  REQUIRE(keys_before.ok());

  p.client.close();
  CHECK(p.client.state() == DtlsState::closed);
  const auto events = drain_events(p.client);
  REQUIRE(events.size() == 1);
  CHECK(events[0].state == DtlsState::closed);
  const auto notify = take_one(p.client);
  const auto records = parse_records(notify);
  REQUIRE(records.size() == 1);
  CHECK(records[0].type == 21);  // alert
  CHECK(records[0].epoch == 1);  // encrypted
  CHECK(p.client.send(pattern(10, 1)).code() == Errc::invalid_argument);
  CHECK(p.client.srtp_keys().ok());  // the keys of a session that completed stay readable

  REQUIRE(p.server.handle_datagram(notify, kStart).ok());
  CHECK(p.server.state() == DtlsState::closed);
  const auto server_events = drain_events(p.server);
  REQUIRE(server_events.size() == 1);
  CHECK(server_events[0].state == DtlsState::closed);
  CHECK(server_events[0].error == Errc::ok);
  // RFC 5246 section 7.2.1: the server answers with its own close_notify, which the closed client ignores.
  const auto answer = take_one(p.server);
  CHECK(parse_records(answer).at(0).type == 21);
  CHECK(p.client.handle_datagram(answer, kStart).ok());
  CHECK(p.client.state() == DtlsState::closed);
  CHECK(drain_events(p.client).empty());

  p.client.close();  // idempotent
  CHECK_FALSE(p.client.poll_transmit());
  CHECK(drain_events(p.client).empty());
}

TEST_CASE("DTLS: close() during the handshake stops it", "[dtls]") {
  Pair p = make_pair();
  REQUIRE(p.client.start(kStart).ok());
  REQUIRE(p.client.next_timeout());
  p.client.close();
  CHECK(p.client.state() == DtlsState::closed);
  CHECK_FALSE(p.client.next_timeout());
  const auto events = drain_events(p.client);
  REQUIRE(events.size() == 2);
  CHECK(events[1].state == DtlsState::closed);
}

TEST_CASE("DTLS: application data does not allocate after the handshake", "[dtls]") {
  Pair p = connected_pair();
  const auto payload = pattern(1200, 9);
  // Warm up: the first records size the reused buffers, and the server frees its handshake state.
  for (int i = 0; i < 4; ++i) {
    REQUIRE(p.client.send(payload).ok());
    REQUIRE(p.server.send(payload).ok());
    deliver(p.client, p.server, kStart);
    deliver(p.server, p.client, kStart);
    while (p.client.poll_received() || p.server.poll_received()) {
    }
  }

  size_t delivered = 0;
  bool all_ok = true;
  test::AllocationScope scope;
  for (int i = 0; i < 200; ++i) {
    for (auto [from, to] : {std::pair{&p.client, &p.server}, std::pair{&p.server, &p.client}}) {
      all_ok = from->send(payload).ok() && all_ok;
      auto d = from->poll_transmit();
      all_ok = d.has_value() && all_ok;
      if (d) all_ok = to->handle_datagram(*d, kStart).ok() && all_ok;
      if (auto r = to->poll_received(); r && r->size() == payload.size()) ++delivered;
    }
  }
  const uint64_t allocations = scope.count();
  const uint64_t mallocs = scope.malloc_count();
  CHECK(all_ok);
  CHECK(delivered == 400);
  CHECK(allocations == 0);
  CHECK(mallocs == 0);  // 0 by construction where malloc is not counted (sanitizers, wasm)
}
