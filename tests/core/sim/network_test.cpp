#include "core/sim/network.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <vector>

#include "support/alloc_counter.h"

using namespace tandem;
using namespace tandem::sim;

namespace {

constexpr uint64_t kMs = 1'000'000;

NetworkLink make_link(const Impairments& m, uint64_t seed = 7, size_t capacity = 4096) {
  LinkConfig config;
  config.seed = seed;
  config.capacity = capacity;
  config.impairments = m;
  auto link = NetworkLink::create(config);
  REQUIRE(link.ok());
  return std::move(link).value();
}

struct Delivery {
  uint64_t id;
  uint64_t sent_ns;
  uint64_t arrival_ns;
  uint64_t polled_ns;
  bool duplicate;
  bool operator==(const Delivery&) const = default;
};

// Sends `count` datagrams of `size` bytes, one every `interval_ns`, each carrying its index; polls every
// millisecond and returns what arrived, in arrival order. The datagrams' contents are checked on the way.
std::vector<Delivery> run(NetworkLink& link, size_t count, uint64_t interval_ns, size_t size = 16) {
  std::vector<Delivery> out;
  std::vector<uint8_t> buf(size);
  uint64_t now = 0;
  size_t sent = 0;
  const uint64_t end = count * interval_ns + 5000 * kMs;
  for (; now <= end; now += kMs) {
    while (sent < count && sent * interval_ns <= now) {
      for (size_t i = 0; i < size; ++i) buf[i] = static_cast<uint8_t>(sent + i);
      REQUIRE(link.send(buf, sent * interval_ns).ok());
      ++sent;
    }
    while (auto d = link.poll_receive(now)) {
      REQUIRE(d->bytes.size() == size);
      CHECK(d->bytes[0] == static_cast<uint8_t>(d->id));
      CHECK(d->arrival_ns <= now);
      out.push_back({d->id, d->sent_ns, d->arrival_ns, now, d->duplicate});
    }
  }
  return out;
}

double ratio(uint64_t part, uint64_t whole) { return static_cast<double>(part) / static_cast<double>(whole); }

}  // namespace

TEST_CASE("Network link rejects invalid settings", "[sim]") {
  LinkConfig config;
  config.impairments.loss = 1.5;
  CHECK(NetworkLink::create(config).code() == Errc::invalid_argument);
  config.impairments.loss = NAN;
  CHECK(NetworkLink::create(config).code() == Errc::invalid_argument);
  config.impairments = {};
  config.impairments.burst_enter = 0.1;
  config.impairments.burst_exit = 0.0;
  CHECK(NetworkLink::create(config).code() == Errc::invalid_argument);
  config.impairments = {};
  config.capacity = 0;
  CHECK(NetworkLink::create(config).code() == Errc::invalid_argument);

  auto link = make_link({});
  Impairments bad;
  bad.duplicate = -0.1;
  CHECK(link.set_impairments(bad).code() == Errc::invalid_argument);
  std::vector<uint8_t> huge(1501);
  CHECK(link.send(huge, 0).code() == Errc::invalid_argument);
  CHECK(link.stats().sent == 0);
}

TEST_CASE("Network link without impairments delivers everything in order after the delay", "[sim]") {
  Impairments m;
  m.delay_ns = 30 * kMs;
  auto link = make_link(m);
  CHECK_FALSE(link.next_timeout());
  const uint8_t a[] = {1, 2, 3};
  REQUIRE(link.send(a, 10 * kMs).ok());
  REQUIRE(link.send({}, 11 * kMs).ok());  // empty datagrams are legal (UDP allows them)
  CHECK(link.in_flight() == 2);
  CHECK(link.next_timeout() == 40 * kMs);
  CHECK_FALSE(link.poll_receive(40 * kMs - 1));
  auto first = link.poll_receive(40 * kMs);
  REQUIRE(first);
  CHECK(first->id == 0);
  CHECK(first->arrival_ns == 40 * kMs);
  CHECK(std::vector<uint8_t>(first->bytes.begin(), first->bytes.end()) == std::vector<uint8_t>{1, 2, 3});
  auto second = link.poll_receive(100 * kMs);
  REQUIRE(second);
  CHECK(second->id == 1);
  CHECK(second->bytes.empty());
  CHECK_FALSE(link.poll_receive(100 * kMs));
  CHECK_FALSE(link.next_timeout());
  CHECK(link.stats().delivered == 2);
  CHECK(link.stats().bytes_delivered == 3);
  CHECK(link.stats().dropped() == 0);
}

TEST_CASE("Network link loss matches its probability", "[sim]") {
  Impairments m;
  m.loss = 0.1;
  auto link = make_link(m);
  const auto got = run(link, 20000, kMs);
  const LinkStats& s = link.stats();
  CHECK(s.sent == 20000);
  CHECK(ratio(s.dropped_loss, s.sent) == Approx(0.1).margin(0.01));
  CHECK(s.delivered == s.sent - s.dropped_loss);
  CHECK(got.size() == s.delivered);
}

TEST_CASE("Gilbert-Elliott loss comes in bursts of the configured mean length", "[sim]") {
  Impairments m;
  m.burst_enter = 0.02;
  m.burst_exit = 0.25;  // mean burst 4 datagrams
  m.burst_loss = 1.0;
  auto link = make_link(m);
  const auto got = run(link, 50000, kMs);
  // Stationary share of the bad state: enter / (enter + exit).
  CHECK(ratio(link.stats().dropped_loss, 50000) == Approx(0.02 / 0.27).margin(0.01));
  uint64_t bursts = 0, lost = 0;
  for (size_t i = 1; i < got.size(); ++i) {
    if (got[i].id != got[i - 1].id + 1) {
      ++bursts;
      lost += got[i].id - got[i - 1].id - 1;
    }
  }
  REQUIRE(bursts > 100);
  CHECK(static_cast<double>(lost) / static_cast<double>(bursts) == Approx(4.0).margin(0.4));
}

TEST_CASE("Network link delay and jitter stay within their bounds", "[sim]") {
  Impairments m;
  m.delay_ns = 50 * kMs;
  m.jitter_ns = 20 * kMs;

  SECTION("jitter that may reorder: uniform extra delay") {
    m.jitter_reorders = true;
    auto link = make_link(m);
    const auto got = run(link, 5000, kMs);
    REQUIRE(got.size() == 5000);
    double sum = 0;
    for (const auto& d : got) {
      const uint64_t delay = d.arrival_ns - d.sent_ns;
      CHECK(delay >= 50 * kMs);
      CHECK(delay <= 70 * kMs);
      sum += static_cast<double>(delay);
    }
    CHECK(sum / got.size() / kMs == Approx(60.0).margin(0.5));
    CHECK(link.stats().reordered > 1000);  // 1 ms apart with 20 ms of jitter: overtaking is common
  }
  SECTION("jitter as a queue: never reorders") {
    auto link = make_link(m);
    const auto got = run(link, 5000, kMs);
    REQUIRE(got.size() == 5000);
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].id == i);
      CHECK(got[i].arrival_ns - got[i].sent_ns >= 50 * kMs);
      if (i > 0) CHECK(got[i].arrival_ns >= got[i - 1].arrival_ns);
    }
    CHECK(link.stats().reordered == 0);
  }
}

TEST_CASE("Network link reorders and duplicates at the configured rates", "[sim]") {
  Impairments m;
  m.delay_ns = 10 * kMs;
  m.reorder = 0.05;
  m.reorder_delay_ns = 20 * kMs;
  m.duplicate = 0.03;
  auto link = make_link(m);
  const auto got = run(link, 20000, kMs);
  const LinkStats& s = link.stats();
  // Held back 20 ms while one datagram is sent per ms: every held datagram is overtaken.
  CHECK(ratio(s.reordered, s.sent) == Approx(0.05).margin(0.006));
  CHECK(ratio(s.duplicated, s.sent) == Approx(0.03).margin(0.005));
  CHECK(s.delivered == s.sent + s.duplicated);
  CHECK(got.size() == s.delivered);
  size_t duplicates = 0;
  for (const auto& d : got) duplicates += d.duplicate;
  CHECK(duplicates == s.duplicated);
  // The measured reordering agrees with an independent count over the arrival sequence.
  uint64_t newest = 0, late = 0;
  for (const auto& d : got) {
    if (d.duplicate) continue;
    if (d.id < newest) ++late;
    newest = std::max(newest, d.id);
  }
  CHECK(late == s.reordered);
}

TEST_CASE("Network link bandwidth cap paces datagrams and drops what overflows the queue", "[sim]") {
  Impairments m;
  m.bandwidth_bps = 1'000'000;  // 1000-byte datagrams take 8 ms each
  m.queue_bytes = 10'000;
  auto link = make_link(m);
  const auto got = run(link, 2000, kMs, 1000);  // 8 Mbit/s offered
  const LinkStats& s = link.stats();
  CHECK(s.dropped_queue > 0);
  CHECK(s.delivered + s.dropped_queue == s.sent);
  // Delivered rate: one datagram per 8 ms while the queue is busy.
  CHECK(ratio(s.delivered, s.sent) == Approx(1.0 / 8).margin(0.01));
  for (size_t i = 1; i < got.size(); ++i) CHECK(got[i].arrival_ns - got[i - 1].arrival_ns >= 8 * kMs);
  for (const auto& d : got) CHECK(d.arrival_ns - d.sent_ns <= 90 * kMs);  // queue of 10 kB is 80 ms + one
}

TEST_CASE("Network link is deterministic per seed", "[sim]") {
  Impairments m;
  m.loss = 0.05;
  m.burst_enter = 0.01;
  m.delay_ns = 20 * kMs;
  m.jitter_ns = 15 * kMs;
  m.jitter_reorders = true;
  m.reorder = 0.02;
  m.duplicate = 0.02;
  auto a = make_link(m, 99);
  auto b = make_link(m, 99);
  auto c = make_link(m, 100);
  const auto ra = run(a, 3000, kMs);
  const auto rb = run(b, 3000, kMs);
  const auto rc = run(c, 3000, kMs);
  CHECK(ra == rb);
  CHECK_FALSE(ra == rc);
}

TEST_CASE("Network link impairments change mid-run", "[sim]") {
  auto link = make_link({});
  std::vector<uint8_t> buf(8);
  for (int i = 0; i < 1000; ++i) REQUIRE(link.send(buf, 0).ok());
  Impairments lossy;
  lossy.loss = 1.0;
  REQUIRE(link.set_impairments(lossy).ok());
  for (int i = 0; i < 1000; ++i) REQUIRE(link.send(buf, 0).ok());
  CHECK(link.stats().dropped_loss == 1000);
  size_t delivered = 0;
  while (link.poll_receive(0)) ++delivered;
  CHECK(delivered == 1000);
}

TEST_CASE("Network link counts datagrams beyond its capacity as dropped", "[sim]") {
  Impairments m;
  m.delay_ns = 10 * kMs;
  m.duplicate = 1.0;  // copies need slots too; they are best effort
  auto link = make_link(m, 1, 5);
  std::vector<uint8_t> buf(4);
  for (int i = 0; i < 4; ++i) REQUIRE(link.send(buf, 0).ok());
  // 3 datagrams + 2 copies fill 5 slots; the 3rd gets no copy; the 4th finds no slot.
  CHECK(link.stats().duplicated == 2);
  CHECK(link.stats().dropped_overflow == 1);
  CHECK(link.in_flight() == 5);
  size_t n = 0;
  while (link.poll_receive(10 * kMs)) ++n;
  CHECK(n == 5);
}

TEST_CASE("Network link send and receive do not allocate", "[sim]") {
  Impairments m;
  m.loss = 0.05;
  m.delay_ns = 20 * kMs;
  m.jitter_ns = 10 * kMs;
  m.reorder = 0.05;
  m.duplicate = 0.05;
  m.bandwidth_bps = 50'000'000;
  auto link = make_link(m);
  std::vector<uint8_t> buf(1200, 0xAB);
  uint64_t delivered = 0;
  test::AllocationScope scope;
  for (uint64_t now = 0; now < 20'000 * kMs; now += kMs) {
    if (!link.send(buf, now).ok()) FAIL("send failed");
    while (auto d = link.poll_receive(now)) delivered += d->bytes.size() == buf.size();
  }
  CHECK(scope.count() == 0);
  CHECK(delivered > 18'000);
}
