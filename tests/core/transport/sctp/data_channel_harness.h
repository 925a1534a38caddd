// Two DataChannelTransports joined by two sim::NetworkLinks (one per direction) carrying SCTP packets directly
// (no DTLS), a fake clock the test advances, and the events each side saw, copied.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <usrsctp.h>

#include "core/sim/network.h"
#include "core/transport/sctp/data_channel_transport.h"

namespace tandem::test::dc {

constexpr uint64_t kMs = 1'000'000;

struct Seen {
  transport::DataChannelEventKind kind;
  uint16_t id = 0;
  bool binary = false;
  std::vector<uint8_t> payload;
  std::string label, protocol;
  bool remote = false, ordered = true, negotiated = false;
  std::optional<uint32_t> max_retransmits, max_packet_lifetime_ms;
  std::string reason;
};

inline Seen copy(const transport::DataChannelEvent& e) {
  Seen s{e.kind, e.id, e.binary, {e.payload.begin(), e.payload.end()}, {}, {}, false, true, false, {}, {},
         std::string(e.reason)};
  if (e.channel) {
    s.label = e.channel->label;
    s.protocol = e.channel->protocol;
    s.remote = e.channel->remote;
    s.ordered = e.channel->ordered;
    s.negotiated = e.channel->negotiated;
    s.max_retransmits = e.channel->max_retransmits;
    s.max_packet_lifetime_ms = e.channel->max_packet_lifetime_ms;
  }
  return s;
}

inline transport::DataChannelTransport make_transport(bool dtls_client,
                                                      transport::DataChannelTransportOptions options = {}) {
  options.dtls_client = dtls_client;
  auto t = transport::DataChannelTransport::create(options);
  REQUIRE(t.ok());
  return std::move(t).value();
}

inline sim::NetworkLink make_link(const sim::Impairments& impairments, uint64_t seed) {
  sim::LinkConfig config;
  config.seed = seed;
  config.capacity = 8192;
  config.impairments = impairments;
  auto link = sim::NetworkLink::create(config);
  REQUIRE(link.ok());
  return std::move(link).value();
}

struct Pair {
  Pair(transport::DataChannelTransport& a, transport::DataChannelTransport& b, const sim::Impairments& imp = {},
       uint64_t seed = 1)
      : a(a), b(b), ab(make_link(imp, seed)), ba(make_link(imp, seed + 1000)) {}

  transport::DataChannelTransport& a;
  transport::DataChannelTransport& b;
  sim::NetworkLink ab, ba;
  uint64_t now = 1'000 * kMs;
  std::vector<Seen> a_events, b_events;
  // Called for every event instead of recording it, when set (bulk transfers check messages on the fly).
  std::function<void(const transport::DataChannelEvent&)> on_a, on_b;
  bool garbage = false;  // handle_datagram must accept every packet (the link does not corrupt)

  void drain_events() {
    while (auto e = a.poll_event()) on_a ? on_a(*e) : a_events.push_back(copy(*e));
    while (auto e = b.poll_event()) on_b ? on_b(*e) : b_events.push_back(copy(*e));
  }
  // Moves everything that is due now, until nothing moves.
  void pump() {
    for (bool moved = true; moved;) {
      moved = false;
      drain_events();  // before packets: reading may answer (ACKs, resets, window updates)
      while (auto p = a.poll_transmit()) moved = ab.send(*p, now).ok() || moved;
      while (auto p = b.poll_transmit()) moved = ba.send(*p, now).ok() || moved;
      while (auto d = ab.poll_receive(now)) {
        CHECK(b.handle_datagram(d->bytes, now).ok());
        moved = true;
      }
      while (auto d = ba.poll_receive(now)) {
        CHECK(a.handle_datagram(d->bytes, now).ok());
        moved = true;
      }
    }
  }
  void step(uint64_t step_ns = kMs) {
    now += step_ns;
    for (transport::DataChannelTransport* t : {&a, &b}) {
      if (auto due = t->next_timeout(); due && *due <= now) CHECK(t->handle_timeout(now).ok());
    }
    pump();
  }
  // Steps the clock until `done` or `limit_ms` of simulated time.
  bool run(const std::function<bool()>& done, uint64_t limit_ms, uint64_t step_ms = 1) {
    const uint64_t end = now + limit_ms * kMs;
    pump();
    while (!done()) {
      if (now >= end) return false;
      step(step_ms * kMs);
    }
    return true;
  }

  static size_t count(const std::vector<Seen>& events, transport::DataChannelEventKind kind) {
    size_t n = 0;
    for (const auto& e : events) n += e.kind == kind;
    return n;
  }
  static const Seen* find(const std::vector<Seen>& events, transport::DataChannelEventKind kind, uint16_t id) {
    for (const auto& e : events) {
      if (e.kind == kind && e.id == id) return &e;
    }
    return nullptr;
  }
  void connect() {
    REQUIRE(a.start(now).ok());
    REQUIRE(b.start(now).ok());
    REQUIRE(run([&] { return a.is_connected() && b.is_connected(); }, 10'000));
  }
};

// A bulk transfer where SCTP's tuning and congestion control show: one reliable channel from a to b kept
// saturated (a's queue topped up to 256 KiB) for `ms` of simulated time over a 100 Mbit/s bottleneck with one
// bandwidth-delay product of queue, a 50 ms RTT and `loss`.
struct BulkResult {
  uint64_t received_bytes = 0;   // message bytes b got while sending went on
  double seconds = 0;            // the simulated time they took
  uint64_t retransmitted_chunks = 0;
  // T3-rtx expirations while sending: usrsctp's process-wide count, but test cases run one at a time and the
  // associations of earlier ones are gone.
  uint32_t t3_expirations = 0;
};

inline uint32_t usrsctp_t3_expirations() {
  sctpstat s;
  std::memset(&s, 0, sizeof(s));
  usrsctp_get_stat(&s);
  return s.sctps_timodata;
}

inline BulkResult bulk_over_50ms_path(const transport::SctpTuning& tuning, double loss, size_t message_size,
                                      uint64_t ms, uint64_t seed) {
  transport::DataChannelTransportOptions options;
  options.sctp.tuning = tuning;
  options.sctp.max_message_size = 64 * 1024;  // fits usrsctp's default send buffer too
  transport::DataChannelTransport a = make_transport(true, options);
  transport::DataChannelTransport b = make_transport(false, options);
  sim::Impairments imp;
  imp.delay_ns = 25 * kMs;
  imp.loss = loss;
  imp.bandwidth_bps = 100'000'000;
  imp.queue_bytes = 625'000;
  Pair pair{a, b, imp, seed};
  pair.connect();
  auto id = a.create_channel(transport::DataChannelInit{"bulk", "", true, {}, {}, {}, 256});
  REQUIRE(id.ok());
  REQUIRE(pair.run([&] { return b.channel(*id) != nullptr; }, 5'000));
  BulkResult r;
  pair.on_b = [&](const transport::DataChannelEvent& e) {
    r.received_bytes += e.kind == transport::DataChannelEventKind::message ? e.payload.size() : 0;
  };
  const std::vector<uint8_t> payload(message_size, 0x55);
  const uint64_t start = pair.now;
  const uint32_t t3_before = usrsctp_t3_expirations();  // (the stack is up now: usrsctp_init zeroes the count)
  pair.run([&] {
    while (a.buffered_amount(*id) < 256 * 1024) REQUIRE(a.send(*id, payload, true, pair.now).ok());
    return false;
  }, ms);
  r.seconds = double(pair.now - start) / 1e9;
  r.retransmitted_chunks = a.stats().sctp.retransmitted_data_chunks;
  r.t3_expirations = usrsctp_t3_expirations() - t3_before;
  return r;
}

// Deterministic message contents: byte i of stream `seed` (cheap, position-dependent, seed-dependent).
inline uint8_t content_byte(uint64_t seed, uint64_t i) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
  x ^= x >> 29;
  return static_cast<uint8_t>(x * 0xBF58476D1CE4E5B9ull >> 56);
}

}  // namespace tandem::test::dc
