// Steady-state messaging allocates nothing in our layer (operator new), and a throwaway throughput
// measurement (hidden: run with "[.sctp_throughput]").
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <vector>

#include "support/alloc_counter.h"
#include "tests/core/transport/sctp/data_channel_harness.h"

using namespace tandem;
using namespace tandem::transport;
using namespace tandem::test::dc;
using Kind = DataChannelEventKind;

namespace {

// Packets straight from one transport to the other: a lossless, zero-delay, in-memory link.
struct Direct {
  DataChannelTransport& a;
  DataChannelTransport& b;
  uint64_t received_messages = 0, received_bytes = 0;
  bool all_ok = true;
  void pump(uint64_t now) {
    for (bool moved = true; moved;) {
      moved = false;
      while (auto e = a.poll_event()) {
      }
      while (auto e = b.poll_event()) {
        if (e->kind == Kind::message) {
          ++received_messages;
          received_bytes += e->payload.size();
        }
      }
      while (auto p = a.poll_transmit()) {
        all_ok = b.handle_datagram(*p, now).ok() && all_ok;
        moved = true;
      }
      while (auto p = b.poll_transmit()) {
        all_ok = a.handle_datagram(*p, now).ok() && all_ok;
        moved = true;
      }
    }
    for (DataChannelTransport* t : {&a, &b}) {
      if (auto due = t->next_timeout(); due && *due <= now) all_ok = t->handle_timeout(now).ok() && all_ok;
    }
  }
};

void connect(Direct& d, uint64_t& now, uint64_t step) {
  REQUIRE(d.a.start(now).ok());
  REQUIRE(d.b.start(now).ok());
  for (int i = 0; i < 10'000 && !(d.a.is_connected() && d.b.is_connected()); ++i) d.pump(now += step);
  REQUIRE(d.a.is_connected());
}

uint64_t wall_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

}  // namespace

TEST_CASE("Data channels: steady-state send and receive allocate nothing in our layer", "[datachannel]") {
  DataChannelTransport a = make_transport(true);
  DataChannelTransport b = make_transport(false);
  Direct d{a, b};
  uint64_t now = 1'000 * kMs;
  connect(d, now, kMs);
  auto id = a.create_channel(DataChannelInit{"alloc", "", true, {}, {}, {}, 256});
  REQUIRE(id.ok());
  const std::vector<uint8_t> small(1024, 1), large(16 * 1024, 2);

  // Warm-up grows every reusable buffer (packet ring, queues, receive buffer) to its working size, including
  // the path where usrsctp is full and messages wait in our queue.
  auto run = [&](int messages) {
    for (int i = 0; i < messages; ++i) {
      const auto& m = i % 4 == 0 ? large : small;
      d.all_ok = a.send(*id, m, true, now).ok() && d.all_ok;
      if (i % 64 == 0) d.pump(now += kMs);
    }
    for (int i = 0; i < 1000 && a.buffered_amount(*id) > 0; ++i) d.pump(now += kMs);
    d.pump(now += kMs);
  };
  run(4000);
  const uint64_t before = d.received_messages;
  test::AllocationScope scope;
  run(4000);
  const uint64_t news = scope.count();
  const uint64_t mallocs = scope.malloc_count();
  REQUIRE(d.all_ok);
  CHECK(d.received_messages - before == 4000);
  CHECK(news == 0);
  if (test::kCountsMalloc) {
    // usrsctp's own allocations (mbufs, chunk records), for the record: they are usrsctp's, not ours.
    WARN("usrsctp mallocs per message (send + receive, 1 and 16 KiB mix): " << double(mallocs) / 4000);
  }
}

struct TuningCase {
  const char* name;
  SctpTuning tuning;
};

std::vector<TuningCase> tuning_cases() {
  SctpTuning default_chunks;  // our tuning but usrsctp's 512-chunk queue limit
  default_chunks.max_chunks_on_queue = 0;
  SctpTuning sack_every_2nd;  // our tuning but RFC 4960's SACK frequency
  sack_every_2nd.sack_every_packets = 2;
  return {{"tuned", SctpTuning{}},
          {"tuned-512chunks", default_chunks},
          {"tuned-sack2", sack_every_2nd},
          {"defaults", SctpTuning::usrsctp_defaults()}};
}

// Throwaway measurement, not a test: in-process throughput of one reliable channel over a lossless zero-delay
// in-memory link, real time, tuned vs usrsctp's defaults. Run: tandem_tests "[.sctp_throughput]"
TEST_CASE("Data channels: throughput measurement", "[.sctp_throughput]") {
  for (const TuningCase& c : tuning_cases()) {
    for (size_t size : {size_t(16 * 1024), size_t(1024)}) {
      DataChannelTransportOptions options;
      options.sctp.tuning = c.tuning;
      options.sctp.max_message_size = 64 * 1024;  // fits usrsctp's default send buffer too
      DataChannelTransport a = make_transport(true, options);
      DataChannelTransport b = make_transport(false, options);
      Direct d{a, b};
      uint64_t now = wall_ns();
      connect(d, now, 0);
      auto id = a.create_channel(DataChannelInit{"bench", "", true, {}, {}, {}, 256});
      REQUIRE(id.ok());
      d.pump(now = wall_ns());
      const std::vector<uint8_t> payload(size, 0x77);
      const uint64_t start = wall_ns();
      const uint64_t base_messages = d.received_messages, base_bytes = d.received_bytes;
      uint64_t sent = 0;
      const uint64_t send_for_ns = 2'000'000'000;
      while ((now = wall_ns()) - start < send_for_ns) {
        while (a.buffered_amount(*id) < 64 * 1024) {
          REQUIRE(a.send(*id, payload, true, now).ok());
          ++sent;
        }
        d.pump(now);
      }
      while (d.received_messages - base_messages < sent && (now = wall_ns()) - start < 30 * send_for_ns) d.pump(now);
      const double seconds = double(wall_ns() - start) / 1e9;
      const double bytes = double(d.received_bytes - base_bytes);
      std::printf("sctp_throughput in-memory %-16s %5zu B: %8.1f Mbit/s %9.0f msg/s\n", c.name, size,
                  bytes * 8 / seconds / 1e6, double(d.received_messages - base_messages) / seconds);
      CHECK(d.received_messages - base_messages == sent);
      CHECK(d.all_ok);
    }
  }
}

// The same over a simulated path where tuning matters: 100 Mbit/s bottleneck (1 BDP of queue), 50 ms RTT,
// without loss, 0.1 % and 1 % loss; goodput over 30 simulated seconds. Run: tandem_tests "[.sctp_throughput]"
TEST_CASE("Data channels: throughput over a simulated 50 ms path", "[.sctp_throughput]") {
  for (double loss : {0.0, 0.001, 0.01}) {
    for (const TuningCase& c : tuning_cases()) {
      for (size_t size : {size_t(16 * 1024), size_t(1024)}) {
        const BulkResult r = bulk_over_50ms_path(c.tuning, loss, size, 30'000, 99);
        std::printf("sctp_throughput 50ms-rtt loss %.1f%% %-16s %5zu B: %6.1f Mbit/s goodput "
                    "(%llu rtx chunks, %u T3)\n",
                    loss * 100, c.name, size, double(r.received_bytes) * 8 / r.seconds / 1e6,
                    (unsigned long long)r.retransmitted_chunks, r.t3_expirations);
      }
    }
  }
}
