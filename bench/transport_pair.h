// Two PeerConnections (full ICE + DTLS + SCTP) in one thread, joined by a Wire and driven on the wall clock,
// and the three measurements the transport benchmarks take over them: data channel throughput, 1 KiB round
// trips and connect time. bench_transport.cpp runs them over the in-memory simulated link (both targets),
// bench_transport_udp.cpp over loopback UDP sockets (native).
//
// Both peers run on the calling thread, so every CPU figure is the cost of BOTH ends (sender and receiver) of
// one connection, and a wall-clock figure is bounded by one core doing both ends' work (unless each side is
// then driven by a thread of its own with Pair::turn_side, as bench_transport_udp.cpp's udp2t cases do).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "clocks.h"
#include "core/transport/peer/peer_connection.h"
#include "harness.h"

namespace tandem::bench::transport_bench {

// The time the peers and the driver read: the clock a core runs with on this target (natively the calibrated
// TSC, ~11 ns a read; the steady clock's vDSO read was ~6 % of a sender thread's CPU here), performance.now()
// in wasm. Hides bench::now_ns() for the transport benchmarks.
inline uint64_t now_ns() { return platform_clock().now_ns(); }

class Pair;

// Carries datagrams between side 0 (the offerer, "a") and side 1 ("b").
class Wire {
 public:
  virtual ~Wire() = default;
  // The address side 0 or 1 sends from and receives on (its only host candidate).
  virtual platform::SocketAddress address(int side) const = 0;
  // Hands one side's batch of datagrams to the network.
  virtual void send(int from, std::span<const transport::PeerTransmit> batch, uint64_t now_ns) = 0;
  // Delivers every datagram that has arrived to its peer (Pair::deliver) and returns how many. When none has
  // arrived it may wait until one does or `wait_until_ns` (now_ns() time) passes, whichever is first.
  virtual size_t receive(Pair& pair, uint64_t wait_until_ns) = 0;
  // The same for one side only, for wires whose sides can be driven by a thread each (Pair::turn_side).
  virtual size_t receive_side(Pair& pair, int side, uint64_t wait_until_ns) { return 0; }
  // Anything worth a note ("" if nothing): drops, system calls.
  virtual std::string describe() const { return {}; }
};

struct Side {
  std::unique_ptr<transport::PeerConnection> peer;
  platform::SocketAddress address;
  uint32_t channel = 0;  // the benchmark channel's key on this side, once open
  bool open = false;
  uint64_t messages = 0, bytes = 0;  // received on any channel
  std::string error;
  // When the connect phases ended on this side (steady-clock ns; 0: not yet).
  uint64_t ice_connected_ns = 0, dtls_connected_ns = 0, sctp_connected_ns = 0, open_ns = 0;
  // Wall time spent inside this peer's calls (timers, events and transmits, received datagrams, and the
  // benchmark's sends): how the one thread's work splits between the two ends.
  uint64_t busy_ns = 0;
};

class Pair {
 public:
  // Fresh peers (certificates are made once per process and reused, as an application may). a creates the
  // benchmark channel `init` before the offer, as a browser page creates its channel before createOffer().
  static std::unique_ptr<Pair> create(Wire& wire, const transport::DataChannelInit& init, std::string& error);

  Side& side(int i) { return i == 0 ? a_ : b_; }
  Side& a() { return a_; }
  Side& b() { return b_; }

  // Offer from a, answer from b, handed over in-process; candidates trickle as events (see turn()).
  bool negotiate(std::string& error);
  // One round: due timers, events and transmits of both peers, then what the wire delivers. With `wait`, an
  // idle round waits on the wire until a datagram arrives or the next timer is due (at most 10 ms).
  void turn(bool wait);
  // The same for side `i` alone, over Wire::receive_side: once connected, each side may then be driven by a
  // thread of its own (a peer belongs to one thread at a time; usrsctp's shared stack has its own locks).
  void turn_side(int i, bool wait);
  // Turns (waiting) until `done` or `timeout_ns` of wall time; returns done().
  bool run_until(const std::function<bool()>& done, uint64_t timeout_ns);
  bool failed() const { return !a_.error.empty() || !b_.error.empty(); }

  // Called by the wire for each datagram that arrived for side `to`. Writable: the peer may decrypt in place.
  void deliver(int to, const platform::SocketAddress& from, std::span<uint8_t> bytes, uint64_t now_ns);

  // Called for every data channel message (side, payload; the view dies at the next poll).
  std::function<void(int, std::span<const uint8_t>)> on_message;

 private:
  explicit Pair(Wire& wire) : wire_(wire) {}
  void flush(int i, uint64_t now_ns);
  void turn_sides(int only, bool wait);  // only: -1 for both

  Wire& wire_;
  Side a_, b_;
};

// What a keeps in its channel queue beyond usrsctp's own 1 MiB send buffer (SctpTuning::send_buffer_bytes).
inline constexpr uint64_t kKeepBuffered = 1 << 20;

// A data channel as the throughput cases open it: reliable = ordered and reliable, else unordered and sent once
// (maxRetransmits 0).
transport::DataChannelInit channel_init(bool reliable);
// A new pair whose channel is open at both ends (nullptr and `error` if not within 5 s).
std::unique_ptr<Pair> connected_pair(Wire& wire, const transport::DataChannelInit& init, std::string& error);

// a's part of a throughput run: queues `size`-byte binary messages while a's bufferedAmount is under
// `keep_buffered`, at most 512 KiB per fill() (an application refilling on bufferedamountlow would do the
// same; 2 MiB of 64-byte sends in one go, ~100 ms, can outlast SCTP's 200 ms minimum RTO on a busy VM and
// cause spurious retransmissions).
class Sender {
 public:
  Sender(Side& a, size_t size, uint64_t keep_buffered);
  bool fill(uint64_t now_ns);  // false (and `error`) if send() refused a message
  uint64_t sent = 0;
  std::string error;

 private:
  Side& a_;
  std::vector<uint8_t> payload_;
  uint64_t keep_buffered_;
  size_t max_per_fill_;
};

// Throughput: a sends binary messages of `size` bytes on its channel as fast as bufferedAmount allows (it
// keeps `keep_buffered` bytes in its channel queue, on top of what usrsctp's own send buffer holds) for
// `warmup_ms`, then for `timed_ms`; b counts what arrives. Rates are over what b received in the timed part.
struct ThroughputResult {
  double seconds = 0;          // wall time of the timed part
  double cpu_seconds = 0;      // process CPU time (user + system) over the same part; 0 where not measured
  uint64_t messages = 0;       // received by b in the timed part
  uint64_t bytes = 0;
  uint64_t sent = 0;           // accepted by a's send() in the timed part
  uint64_t allocations = 0;    // operator new on this thread (both peers), timed part
  uint64_t mallocs = 0;        // malloc-family calls (natively without sanitizers; else 0)
  std::vector<double> window_ns_per_message;  // one per ~10 ms window of the timed part
  uint64_t retransmitted_chunks = 0;           // a's SCTP retransmissions in the timed part
  double sender_seconds = 0, receiver_seconds = 0;  // Side::busy_ns of a and b over the timed part
  double queued_bytes_mean = 0;  // a's bufferedAmount, mean over the window ends (> 0: usrsctp's buffer was full)
  // Where known (natively, Linux): the share of the machine's CPU time the hypervisor gave to others during the
  // timed part (/proc/stat "steal"), which a shared VM's figures vary with; < 0 where unknown.
  double steal_fraction = -1;
  // Each side on a thread of its own: sender/receiver_seconds are then the threads' CPU times, and allocations
  // and mallocs the sum over both threads.
  bool threaded = false;
  std::string error;
};
ThroughputResult measure_throughput(Pair& pair, size_t size, uint64_t keep_buffered, double warmup_ms,
                                    double timed_ms);

// One dc_throughput row (or a FAILED one).
void report_throughput(Harness& h, const std::string& variant, ThroughputResult& r, const Wire& wire);

// Round trips: a sends `size` bytes, b answers with `size` bytes as soon as the message is delivered, a
// waits for the answer before the next one. Runs `warmup` untimed, then at least `min_samples` and `timed_ms`.
struct RoundTripResult {
  std::vector<uint64_t> rtt_ns;
  double seconds = 0;
  uint64_t allocations = 0;
  std::string error;
};
RoundTripResult measure_round_trips(Pair& pair, size_t size, int warmup, size_t min_samples, double timed_ms);

// Connect time from a's create_offer() to the benchmark channel being open on both sides, `runs` times, each
// with new peers (created untimed). The phase times are from the same start to a's ICE connected, DTLS
// connected, SCTP up and channel open.
struct ConnectResult {
  uint64_t first_ns = 0;  // the untimed first connection (usrsctp's process-wide set-up included)
  std::vector<uint64_t> total_ns, ice_ns, dtls_ns, sctp_ns;
  std::string error;
};
ConnectResult measure_connects(Wire& wire, int runs);

// Every transport case (dc_throughput, dc_rtt, dc_connect) over wires from `make_wire`, one per case, with
// `wire_name` ("sim", "udp") leading the variant names.
void run_suite(Harness& h, const std::string& wire_name, const std::function<std::unique_ptr<Wire>()>& make_wire);

// Process CPU time (user + system, all threads) in ns; 0 if the target has no such clock.
uint64_t process_cpu_ns();
// Nearest-rank quantile of sorted values.
double quantile(const std::vector<uint64_t>& sorted, double q);
// "1KiB", "64B", ...
// The message sizes every throughput case runs.
inline constexpr size_t kSizes[] = {64, 1024, 16 * 1024, 64 * 1024};
std::string size_name(size_t size);

}  // namespace tandem::bench::transport_bench
