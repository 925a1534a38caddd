#include "core/events/event_bus.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "support/alloc_counter.h"
#include "support/fake_platform.h"

using namespace tandem;
using events::EventBus;
using events::EventKind;
using events::Filter;
using events::Overflow;

namespace {
struct Delivered {
  uint64_t subscription;
  std::string bytes;
};

struct BusFixture {
  test::FakeClock clock;
  metrics::Registry registry;
  std::vector<Delivered> delivered;
  bool count_only = false;  // the sink then keeps nothing (and allocates nothing)
  size_t delivered_bytes = 0;
  int wakeups = 0;
  std::function<void(uint64_t, std::string)> on_deliver;
  EventBus bus{registry, clock,
               [this](uint64_t sub, std::span<const uint8_t> b) {
                 delivered_bytes += b.size();
                 if (count_only) return;
                 std::string s(b.begin(), b.end());
                 delivered.push_back({sub, s});
                 if (on_deliver) on_deliver(sub, s);
               },
               [this] { ++wakeups; }};

  size_t publish(EventKind kind, uint64_t key, const std::string& payload) {
    return bus.publish(kind, key, [&](std::string& out) { out = payload; });
  }
  uint64_t counter(const char* name, const char* label = "") { return registry.counter(name, label).value(); }
};

Filter kinds(std::initializer_list<EventKind> ks) {
  Filter f;
  for (auto k : ks) f.add(k);
  return f;
}
Filter keyed(EventKind k, uint64_t key) {
  Filter f = kinds({k});
  f.has_key = true;
  f.key = key;
  return f;
}
}  // namespace

TEST_CASE("events reach the subscribers whose filter matches", "[events]") {
  BusFixture f;
  REQUIRE(f.bus.subscribe(1, kinds({EventKind::synthetic}), 16, Overflow::drop_oldest).ok());
  REQUIRE(f.bus.subscribe(2, kinds({EventKind::log_batch, EventKind::synthetic}), 16, Overflow::drop_oldest).ok());
  REQUIRE(f.bus.subscribe(3, keyed(EventKind::synthetic, 42), 16, Overflow::drop_oldest).ok());
  REQUIRE(f.bus.subscribe(4, kinds({EventKind::metrics_report}), 16, Overflow::drop_oldest).ok());

  CHECK(f.publish(EventKind::synthetic, 7, "a") == 2);
  CHECK(f.publish(EventKind::synthetic, 42, "b") == 3);
  CHECK(f.publish(EventKind::log_batch, 0, "c") == 1);
  CHECK(f.delivered.empty());  // publish never delivers: delivery is deferred to drain()
  CHECK(f.wakeups == 1);       // one wake-up for the whole batch

  CHECK(f.bus.drain() == 6);
  std::vector<std::pair<uint64_t, std::string>> got;
  for (auto& d : f.delivered) got.emplace_back(d.subscription, d.bytes);
  // Round-robin over subscribers, each subscriber's own events in order.
  auto of = [&](uint64_t sub) {
    std::string s;
    for (auto& [id, b] : got) if (id == sub) s += b;
    return s;
  };
  CHECK(of(1) == "ab");
  CHECK(of(2) == "abc");
  CHECK(of(3) == "b");
  CHECK(of(4) == "");
  CHECK(f.counter("event_bus_delivered") == 6);
  CHECK(f.counter("event_bus_published") == 3);
  // (4 - 2) + (4 - 3) + (4 - 1) subscribers skipped by their filter.
  CHECK(f.counter("event_bus_filtered") == 6);
}

TEST_CASE("a subscriber whose filter does not match costs no allocation", "[events]") {
  BusFixture f;
  for (uint64_t i = 1; i <= 990; ++i) {
    REQUIRE(f.bus.subscribe(i, keyed(EventKind::synthetic, 1000 + i), 8, Overflow::drop_oldest).ok());
  }
  REQUIRE(f.bus.subscribe(5000, kinds({EventKind::metrics_report}), 8, Overflow::drop_oldest).ok());
  const std::string payload(200, 'x');
  int encodes = 0;
  // Warm up anything lazily sized, then measure.
  f.bus.publish(EventKind::synthetic, 1, [&](std::string& out) { ++encodes; out = payload; });
  test::AllocationScope scope;
  for (int i = 0; i < 1000; ++i) {
    f.bus.publish(EventKind::synthetic, 1, [&](std::string& out) { ++encodes; out = payload; });
  }
  CHECK(scope.count() == 0);
  CHECK(encodes == 0);  // nothing matched, so nothing was encoded
  CHECK(f.counter("event_bus_unmatched") == 1001);
}

TEST_CASE("matching subscribers share one encoding, and steady state allocates nothing", "[events]") {
  BusFixture f;
  for (uint64_t i = 1; i <= 10; ++i) REQUIRE(f.bus.subscribe(i, kinds({EventKind::synthetic}), 64, Overflow::drop_oldest).ok());
  const std::string payload(300, 'y');
  int encodes = 0;
  auto publish = [&] { f.bus.publish(EventKind::synthetic, 0, [&](std::string& out) { ++encodes; out.assign(payload); }); };
  for (int i = 0; i < 32; ++i) publish();  // grow the buffer pool once
  f.bus.drain();
  f.count_only = true;
  f.delivered_bytes = 0;
  encodes = 0;
  test::AllocationScope scope;
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 32; ++i) publish();
    f.bus.drain();
  }
  CHECK(scope.count() == 0);
  CHECK(encodes == 320);
  CHECK(f.delivered_bytes == 320 * 10 * payload.size());
}

TEST_CASE("overflow policies drop and count", "[events]") {
  BusFixture f;
  REQUIRE(f.bus.subscribe(1, kinds({EventKind::synthetic}), 3, Overflow::drop_oldest).ok());
  REQUIRE(f.bus.subscribe(2, kinds({EventKind::synthetic}), 3, Overflow::drop_newest).ok());
  for (char c : std::string("abcde")) f.publish(EventKind::synthetic, 0, std::string(1, c));
  CHECK(f.bus.stats(1)->dropped == 2);
  CHECK(f.bus.stats(2)->dropped == 2);
  CHECK(f.bus.stats(1)->queued == 3);
  f.bus.drain();
  std::string one, two;
  for (auto& d : f.delivered) (d.subscription == 1 ? one : two) += d.bytes;
  CHECK(one == "cde");  // kept the freshest
  CHECK(two == "abc");  // kept the oldest
  CHECK(f.counter("event_bus_dropped", "policy=drop_oldest") == 2);
  CHECK(f.counter("event_bus_dropped", "policy=drop_newest") == 2);
}

TEST_CASE("a sink that publishes does not recurse", "[events]") {
  BusFixture f;
  REQUIRE(f.bus.subscribe(1, kinds({EventKind::synthetic}), 16, Overflow::drop_oldest).ok());
  int depth = 0, max_depth = 0;
  std::vector<std::string> order;
  f.on_deliver = [&](uint64_t, const std::string& s) {
    ++depth;
    max_depth = std::max(max_depth, depth);
    order.push_back("begin " + s);
    if (s.size() < 3) {
      f.publish(EventKind::synthetic, 0, s + "+");
      CHECK(f.bus.drain() == 0);  // nested drain: returns at once, the outer loop delivers
    }
    order.push_back("end " + s);
    --depth;
  };
  f.publish(EventKind::synthetic, 0, "a");
  CHECK(f.bus.drain() == 3);
  CHECK(max_depth == 1);
  CHECK(order == std::vector<std::string>{"begin a", "end a", "begin a+", "end a+", "begin a++", "end a++"});
}

TEST_CASE("a completion reaches its request's waiter only", "[events]") {
  BusFixture f;
  REQUIRE(f.bus.subscribe(1, kinds({EventKind::synthetic, EventKind::log_batch, EventKind::metrics_report}), 16,
                          Overflow::drop_oldest).ok());
  // Nobody may subscribe to completions.
  CHECK(f.bus.subscribe(2, kinds({EventKind::request_complete}), 16, Overflow::drop_oldest).code() ==
        Errc::invalid_argument);
  REQUIRE(f.bus.add_waiter(77).ok());
  REQUIRE(f.bus.add_waiter(78).ok());
  CHECK(f.bus.complete(77, [](std::string& out) { out = "done-77"; }));
  CHECK_FALSE(f.bus.complete(77, [](std::string& out) { out = "again"; }));  // one-shot
  CHECK_FALSE(f.bus.complete(99, [](std::string& out) { out = "nobody"; }));
  f.bus.drain();
  REQUIRE(f.delivered.size() == 1);
  CHECK(f.delivered[0].subscription == 0);
  CHECK(f.delivered[0].bytes == "done-77");
  CHECK(f.bus.remove_waiter(78));
  CHECK_FALSE(f.bus.remove_waiter(78));
}

TEST_CASE("unsubscribe discards queued events; bad subscriptions are rejected", "[events]") {
  BusFixture f;
  REQUIRE(f.bus.subscribe(1, kinds({EventKind::synthetic}), 4, Overflow::drop_oldest).ok());
  f.publish(EventKind::synthetic, 0, "x");
  CHECK(f.bus.unsubscribe(1));
  CHECK_FALSE(f.bus.unsubscribe(1));
  CHECK(f.bus.drain() == 0);
  CHECK(f.bus.subscribe(0, kinds({EventKind::synthetic}), 4, Overflow::drop_oldest).code() == Errc::invalid_argument);
  CHECK(f.bus.subscribe(5, Filter{}, 4, Overflow::drop_oldest).code() == Errc::invalid_argument);
  CHECK(f.bus.subscribe(5, kinds({EventKind::synthetic}), 0, Overflow::drop_oldest).code() == Errc::invalid_argument);
  Filter unknown;
  unknown.kinds = uint64_t{1} << 40;
  CHECK(f.bus.subscribe(5, unknown, 4, Overflow::drop_oldest).code() == Errc::invalid_argument);
  REQUIRE(f.bus.subscribe(5, kinds({EventKind::synthetic}), 4, Overflow::drop_oldest).ok());
  CHECK(f.bus.subscribe(5, kinds({EventKind::synthetic}), 4, Overflow::drop_oldest).code() == Errc::invalid_argument);
  CHECK(f.bus.subscriber_count() == 1);
}

TEST_CASE("drain honours its limit and asks for another turn", "[events]") {
  BusFixture f;
  REQUIRE(f.bus.subscribe(1, kinds({EventKind::synthetic}), 16, Overflow::drop_oldest).ok());
  for (int i = 0; i < 5; ++i) f.publish(EventKind::synthetic, 0, "e");
  CHECK(f.wakeups == 1);
  CHECK(f.bus.drain(2) == 2);
  CHECK(f.wakeups == 2);
  CHECK(f.bus.drain() == 3);
}
