#include "core/transport/sctp/sctp_stack.h"

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

using namespace tandem;
using namespace tandem::transport;

namespace {

constexpr uint64_t kMs = 1'000'000;

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
  return v;
}

SctpEndpoint make_endpoint(uint16_t port = 5000) {
  SctpOptions options;
  options.local_port = port;
  auto e = SctpEndpoint::create(options);
  REQUIRE(e.ok());
  return std::move(e).value();
}

// An SctpEvent with its views copied (they expire at the next poll_event).
struct Received {
  SctpEventKind kind;
  uint16_t stream;
  uint32_t ppid;
  std::vector<uint8_t> payload;
  std::vector<uint16_t> streams;
  bool incoming, outgoing, failed;
};

Received copy(const SctpEvent& e) {
  return {e.kind, e.stream, e.ppid, {e.payload.begin(), e.payload.end()}, {e.streams.begin(), e.streams.end()},
          e.incoming, e.outgoing, e.failed};
}

SctpSendOptions unordered_send() {
  SctpSendOptions how;
  how.unordered = true;
  return how;
}

// A simulated wire between two endpoints and a fake clock: the test moves packets and time, nothing else does.
struct Wire {
  Wire(SctpEndpoint& a, SctpEndpoint& b, uint64_t now = 7'000 * kMs) : a(a), b(b), now(now) {}
  SctpEndpoint& a;
  SctpEndpoint& b;
  uint64_t now;
  bool drop = false;  // lose every packet instead of delivering it
  size_t delivered = 0, dropped = 0, largest = 0;
  std::vector<Received> a_events, b_events;

  // Delivers everything both sides want to send, until neither has anything left (answers included).
  void exchange() {
    for (bool moved = true; moved;) {
      while (auto ev = a.poll_event()) a_events.push_back(copy(*ev));  // events first: reading may answer
      while (auto ev = b.poll_event()) b_events.push_back(copy(*ev));
      moved = carry(a, b) + carry(b, a) > 0;
    }
    while (auto ev = a.poll_event()) a_events.push_back(copy(*ev));
    while (auto ev = b.poll_event()) b_events.push_back(copy(*ev));
  }
  size_t carry(SctpEndpoint& from, SctpEndpoint& to) {
    size_t n = 0;
    while (auto packet = from.poll_transmit()) {
      ++n;
      largest = std::max(largest, packet->size());
      if (drop) {
        ++dropped;
        continue;
      }
      ++delivered;
      CHECK(to.handle_datagram(*packet, now).ok());
    }
    return n;
  }
  // Moves the clock in steps of `step_ms`, running due timers and exchanging packets, until `done` or `limit_ms`.
  bool run(const std::function<bool()>& done, uint64_t limit_ms, uint64_t step_ms = 10) {
    const uint64_t end = now + limit_ms * kMs;
    exchange();
    while (!done()) {
      if (now >= end) return false;
      now += step_ms * kMs;
      for (SctpEndpoint* e : {&a, &b}) {
        if (auto t = e->next_timeout(); t && *t <= now) CHECK(e->handle_timeout(now).ok());
      }
      exchange();
    }
    return true;
  }
  static size_t count(const std::vector<Received>& events, SctpEventKind kind) {
    size_t n = 0;
    for (const auto& e : events) n += e.kind == kind;
    return n;
  }
  bool both_connected() const {
    return count(a_events, SctpEventKind::connected) == 1 && count(b_events, SctpEventKind::connected) == 1;
  }
  static const Received* message(const std::vector<Received>& events, uint16_t stream) {
    for (const auto& e : events) {
      if (e.kind == SctpEventKind::message && e.stream == stream) return &e;
    }
    return nullptr;
  }
};

void associate(Wire& wire, uint16_t a_remote_port, uint16_t b_remote_port) {
  REQUIRE(wire.a.connect(a_remote_port, wire.now).ok());
  REQUIRE(wire.b.connect(b_remote_port, wire.now).ok());
  REQUIRE(wire.run([&] { return wire.both_connected(); }, 5'000));
  CHECK(wire.a.is_connected());
  CHECK(wire.b.is_connected());
}

}  // namespace

TEST_CASE("SCTP: two endpoints associate over AF_CONN and exchange messages", "[sctp]") {
  const bool same_port = GENERATE(true, false);
  INFO((same_port ? "both on port 5000" : "ports 5000 and 5001"));
  SctpEndpoint a = make_endpoint(5000);
  SctpEndpoint b = make_endpoint(same_port ? 5000 : 5001);
  Wire wire{a, b};
  associate(wire, same_port ? 5000 : 5001, 5000);
  CHECK(a.next_timeout());  // an association needs its timers driven

  const auto hello = bytes("hello from a");
  const auto blob = pattern(3000, 1);         // several packets
  const auto large = pattern(100'000, 9);     // beyond one receive window's worth of packets in flight
  const auto unordered = bytes("unordered");
  REQUIRE(a.send(1, 51, hello, {}, wire.now).ok());
  REQUIRE(b.send(2, 53, blob, {}, wire.now).ok());
  REQUIRE(a.send(3, 53, large, {}, wire.now).ok());
  REQUIRE(b.send(4, 51, unordered, unordered_send(), wire.now).ok());
  REQUIRE(wire.run([&] { return Wire::message(wire.b_events, 3) && Wire::message(wire.a_events, 4); }, 5'000));

  const Received* got_hello = Wire::message(wire.b_events, 1);
  REQUIRE(got_hello);
  CHECK(got_hello->ppid == 51);
  CHECK(got_hello->payload == hello);
  const Received* got_blob = Wire::message(wire.a_events, 2);
  REQUIRE(got_blob);
  CHECK(got_blob->ppid == 53);
  CHECK(got_blob->payload == blob);
  const Received* got_large = Wire::message(wire.b_events, 3);
  REQUIRE(got_large);
  CHECK(got_large->payload == large);
  const Received* got_unordered = Wire::message(wire.a_events, 4);
  REQUIRE(got_unordered);
  CHECK(got_unordered->payload == unordered);

  CHECK(wire.largest <= SctpOptions{}.mtu);  // the fixed path MTU holds for every packet
  CHECK(Wire::count(wire.a_events, SctpEventKind::closed) == 0);
}

TEST_CASE("SCTP: lost INITs are retransmitted only as the caller's time advances", "[sctp]") {
  SctpEndpoint a = make_endpoint();
  SctpEndpoint b = make_endpoint();
  Wire wire{a, b};
  wire.drop = true;
  REQUIRE(a.connect(5000, wire.now).ok());
  REQUIRE(b.connect(5000, wire.now).ok());
  wire.exchange();
  CHECK(wire.dropped == 2);  // one INIT each, lost

  // The same instant, over and over: no timer can fire.
  for (int i = 0; i < 10; ++i) {
    CHECK(a.handle_timeout(wire.now).ok());
    wire.exchange();
  }
  CHECK(wire.dropped == 2);

  // Advancing the clock: nothing before the minimum RTO of one second (RFC 4960 6.3.1), then retransmissions.
  const uint64_t start = wire.now;
  REQUIRE(wire.run([&] { return wire.dropped > 2; }, 10'000));
  CHECK(wire.now - start >= 1'000 * kMs);

  wire.drop = false;
  REQUIRE(wire.run([&] { return wire.both_connected(); }, 30'000));
  REQUIRE(a.send(0, 51, bytes("late but fine"), {}, wire.now).ok());
  REQUIRE(wire.run([&] { return Wire::message(wire.b_events, 0) != nullptr; }, 5'000));
  CHECK(Wire::message(wire.b_events, 0)->payload == bytes("late but fine"));
}

TEST_CASE("SCTP: malformed packets are rejected and the association carries on", "[sctp]") {
  SctpEndpoint a = make_endpoint();
  SctpEndpoint b = make_endpoint();
  Wire wire{a, b};
  associate(wire, 5000, 5000);

  CHECK(b.handle_datagram({}, wire.now).code() == Errc::malformed_packet);
  const std::vector<uint8_t> tiny = {0x13, 0x88, 0x13, 0x88, 0};
  CHECK(b.handle_datagram(tiny, wire.now).code() == Errc::malformed_packet);
  uint32_t state = 3;
  for (int round = 0; round < 200; ++round) {
    std::vector<uint8_t> junk(12 + round * 5);
    for (auto& x : junk) x = static_cast<uint8_t>((state = state * 1103515245u + 12345u) >> 24);
    CHECK(b.handle_datagram(junk, wire.now).code() == Errc::malformed_packet);
  }

  // A genuine packet damaged in transit fails the checksum; the genuine one is still accepted afterwards.
  const auto payload = bytes("checksummed");
  REQUIRE(a.send(7, 51, payload, {}, wire.now).ok());
  auto view = a.poll_transmit();
  REQUIRE(view);
  const std::vector<uint8_t> packet(view->begin(), view->end());
  auto damaged = packet;
  damaged[damaged.size() - 1] ^= 0x20;
  CHECK(b.handle_datagram(damaged, wire.now).code() == Errc::malformed_packet);
  CHECK(b.handle_datagram(packet, wire.now).ok());
  REQUIRE(wire.run([&] { return Wire::message(wire.b_events, 7) != nullptr; }, 5'000));
  CHECK(Wire::message(wire.b_events, 7)->payload == payload);
  CHECK(b.is_connected());
}

TEST_CASE("SCTP: closing one side is reported to the other", "[sctp]") {
  SctpEndpoint a = make_endpoint();
  SctpEndpoint b = make_endpoint();
  Wire wire{a, b};
  associate(wire, 5000, 5000);

  a.close();
  CHECK_FALSE(a.is_connected());
  CHECK_FALSE(a.next_timeout());
  CHECK(a.send(0, 51, bytes("x"), {}, wire.now).code() == Errc::invalid_argument);
  wire.exchange();  // carries the ABORT
  REQUIRE(Wire::count(wire.b_events, SctpEventKind::closed) == 1);
  CHECK_FALSE(b.is_connected());
  CHECK_FALSE(b.next_timeout());
  CHECK(b.send(0, 51, bytes("x"), {}, wire.now).code() == Errc::invalid_argument);
}

TEST_CASE("SCTP: a full send buffer is resource_exhausted until packets flow", "[sctp]") {
  SctpEndpoint a = make_endpoint();
  SctpEndpoint b = make_endpoint();
  Wire wire{a, b};
  associate(wire, 5000, 5000);

  const auto chunk = pattern(32 * 1024, 3);
  int accepted = 0;
  Result<void> r;
  while ((r = a.send(1, 53, chunk, {}, wire.now)).ok() && accepted < 1000) ++accepted;
  CHECK(r.code() == Errc::resource_exhausted);
  CHECK(accepted > 0);

  // Nothing is lost: every accepted message arrives, after which the buffer takes more again.
  REQUIRE(wire.run([&] { return Wire::count(wire.b_events, SctpEventKind::message) == size_t(accepted); }, 10'000));
  for (const auto& ev : wire.b_events) {
    if (ev.kind == SctpEventKind::message) CHECK(ev.payload == chunk);
  }
  CHECK(a.send(1, 53, chunk, {}, wire.now).ok());
}

TEST_CASE("SCTP: misuse is an error", "[sctp]") {
  SctpOptions no_streams;
  no_streams.streams = 0;
  CHECK(SctpEndpoint::create(no_streams).code() == Errc::invalid_argument);

  SctpEndpoint a = make_endpoint();
  SctpEndpoint b = make_endpoint();
  CHECK_FALSE(a.next_timeout());  // nothing to time before connect()
  CHECK(a.send(0, 51, bytes("too early"), {}, 0).code() == Errc::invalid_argument);
  Wire wire{a, b};
  associate(wire, 5000, 5000);
  CHECK(a.connect(5000, wire.now).code() == Errc::invalid_argument);
  CHECK(a.send(0, 51, {}, {}, wire.now).code() == Errc::invalid_argument);
  CHECK(a.send(SctpOptions{}.streams, 51, bytes("x"), {}, wire.now).code() == Errc::invalid_argument);

  // Endpoints move without losing their association (usrsctp finds them by address, not by object).
  SctpEndpoint moved = std::move(a);
  REQUIRE(moved.send(5, 53, bytes("moved"), {}, wire.now).ok());
  Wire after_move{moved, b, wire.now};
  REQUIRE(after_move.run([&] { return Wire::message(after_move.b_events, 5) != nullptr; }, 5'000));
}
