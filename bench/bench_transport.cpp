// Data channels end to end over the simulated network, on both targets: two PeerConnections (ICE, DTLS 1.2
// with AES-128-GCM, SCTP over usrsctp) in one thread, joined by two in-memory sim::NetworkLinks with no delay,
// no loss and no bandwidth cap, on the wall clock. So every figure is CPU-bound and counts BOTH ends of the
// connection on one core (sender and receiver); see bench/transport_pair.h for the cases:
//
//   dc_throughput/sim_{reliable,unreliable}_{64B,1KiB,16KiB,64KiB}
//       a sends as fast as bufferedAmount allows (1 MiB queued beyond usrsctp's 1 MiB send buffer) for >= 1 s;
//       reliable = ordered and reliable, unreliable = unordered with maxRetransmits 0. ns/op and ops/s are per
//       message received; p50/p99 over 10 ms windows; JSON adds mbit_per_s, msg_per_s and natively
//       cpu_s_per_gbit (process CPU seconds per Gbit carried), in wasm wall_s_per_gbit (one thread).
//   dc_rtt/sim_1KiB      1 KiB there, 1 KiB back, one at a time: p50/p99 (JSON: p999_ns) per round trip
//   dc_connect/sim       create_offer() to the channel open at both ends, new peers each time
//
// The same over loopback UDP sockets (native only): bench_transport_udp.cpp.
#include <memory>
#include <vector>

#include "core/sim/network.h"
#include "core/transport/net/address_text.h"
#include "transport_pair.h"

namespace tandem::bench {
namespace {

using transport_bench::now_ns;  // the platform's clock (transport_pair.h)

using transport_bench::Pair;

// Two lossless, zero-delay links: what one side sends, the other receives on the next receive().
class SimWire final : public transport_bench::Wire {
 public:
  SimWire() : links_{make_link(1), make_link(2)} { scratch_.reserve(2048); }

  platform::SocketAddress address(int side) const override {
    // Addresses are labels here: nothing leaves the process.
    return *transport::parse_socket_address(side == 0 ? "127.0.0.1:5000" : "127.0.0.1:6000");
  }

  void send(int from, std::span<const transport::PeerTransmit> batch, uint64_t now) override {
    for (const auto& t : batch) (void)links_[from].send(t.bytes, now);
  }

  size_t receive(Pair& pair, uint64_t wait_until) override {
    const platform::SocketAddress from[2] = {address(0), address(1)};
    for (;;) {
      const uint64_t now = now_ns();
      size_t delivered = 0;
      for (int sender : {0, 1}) {
        // At most what the UDP wire's recvmmsg loop takes in one go (8 x 32), so that the receiver reads its
        // messages and acknowledges as often as it would on sockets, instead of once per window-sized burst.
        size_t taken = 0;
        while (taken++ < kMaxPerReceive) {
          auto d = links_[sender].poll_receive(now);
          if (!d) break;
          // The link lends its slot read-only; the peer may decrypt in place, so it gets a copy.
          scratch_.assign(d->bytes.begin(), d->bytes.end());
          pair.deliver(1 - sender, from[sender], scratch_, now);
          ++delivered;
        }
      }
      // Nothing in flight: wait for the next timer by spinning (the links have no delay to wait for).
      if (delivered > 0 || now >= wait_until) return delivered;
    }
  }

  std::string describe() const override {
    const uint64_t dropped = links_[0].stats().dropped() + links_[1].stats().dropped();
    return dropped ? "sim link dropped " + std::to_string(dropped) + " datagrams (slots full)" : "";
  }

 private:
  static constexpr size_t kMaxPerReceive = 256;

  static sim::NetworkLink make_link(uint64_t seed) {
    sim::LinkConfig c;
    c.seed = seed;
    c.capacity = 4096;  // datagrams in flight at once; one flush of a full congestion window is under 1000
    return std::move(sim::NetworkLink::create(c).value());
  }

  sim::NetworkLink links_[2];
  std::vector<uint8_t> scratch_;
};

void run(Harness& h) {
  transport_bench::run_suite(h, "sim", [] { return std::make_unique<SimWire>(); });
}

const Suite kSuite(90, "transport", run);

}  // namespace
}  // namespace tandem::bench
