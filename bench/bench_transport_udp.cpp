// The transport cases of bench_transport.cpp over real loopback UDP (native only; bench/CMakeLists.txt leaves
// this file out of the wasm build): the two PeerConnections send through the native platform's UdpSockets
// (a non-blocking socket on 127.0.0.1 per side, sendmmsg batches, recvmmsg up to 32 at a time) and wait for
// them in epoll, as the runtime's loop does.
//
//   dc_throughput/udp_*, dc_rtt/udp_1KiB, dc_connect/udp   one thread drives both peers (as in the sim cases),
//       so cpu_s_per_gbit includes the system time of both ends' sockets and of loopback delivery.
//   dc_throughput/udp2t_*   the same transfer with each peer on a thread of its own once connected (the
//       receiver sleeps in epoll when idle): a core per end, in one process, so the two ends still share
//       usrsctp's global stack and its locks (as peers on several threads of one program would).
//   dc_throughput/udp2p_*   the same with the receiving peer in a process of its own (forked once connected,
//       before any data moves): a core per end as between two programs, each with its own usrsctp. The fork
//       copies both associations into both processes; each process drives only its own, and the idle copy of
//       the other (nothing in flight, heartbeats 30 s apart) does no work during a run.
//   udp2t and udp2p rows say how many CPUs were busy on average; on this shared 2-vCPU VM other work can leave
//   the two ends one CPU between them (bench/run.mjs sets such rows aside).
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "native/platform/udp_sockets.h"
#include "support/alloc_counter.h"
#include "transport_pair.h"

namespace tandem::bench {
namespace {

using transport_bench::now_ns;  // the platform's clock (transport_pair.h)

using transport_bench::Pair;
using transport_bench::Side;

constexpr uint64_t kMs = 1'000'000;

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// The machine's CPU time so far, all CPUs: total and stolen by the hypervisor (/proc/stat's first line, in
// USER_HZ ticks); {0, 0} if unreadable.
struct CpuTicks {
  uint64_t total = 0, steal = 0;
};
CpuTicks machine_cpu_ticks() {
  CpuTicks t;
  FILE* f = std::fopen("/proc/stat", "r");
  if (f == nullptr) return t;
  unsigned long long v[8] = {};  // user nice system idle iowait irq softirq steal
  if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                  &v[7]) == 8) {
    for (unsigned long long x : v) t.total += x;
    t.steal = v[7];
  }
  std::fclose(f);
  return t;
}

// epoll_pwait2: a nanosecond timeout (epoll_wait's milliseconds would oversleep the SCTP and ICE timers).
int wait_for(int epoll_fd, epoll_event* events, int max, uint64_t wait_until) {
  const uint64_t now = now_ns();
  const uint64_t wait_ns = wait_until > now ? wait_until - now : 0;
  timespec timeout{static_cast<time_t>(wait_ns / 1'000'000'000), static_cast<long>(wait_ns % 1'000'000'000)};
  const int n = static_cast<int>(::syscall(SYS_epoll_pwait2, epoll_fd, events, max, &timeout, nullptr, 0));
  return n < 0 ? 0 : n;
}

// One socket per side, each in an epoll set of its own (so a thread per side can wait on its own), and both
// sets in a top-level one for when one thread drives both sides.
class UdpWire final : public transport_bench::Wire {
 public:
  UdpWire() : top_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
    for (int i : {0, 1}) {
      End& end = ends_[i];
      end.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
      end.sockets = std::make_unique<platform::UdpSockets>(end.epoll_fd);
      end.receiver.wire = this;
      end.receiver.side = i;
      auto opened = end.sockets->open({platform::IpAddress::v4(127, 0, 0, 1), 0}, end.receiver);
      if (opened.id == 0) {
        std::fprintf(stderr, "bench_transport_udp: %s\n", opened.error.c_str());
        std::abort();  // a benchmark without sockets has nothing to measure
      }
      end.id = opened.id;
      end.bound = opened.bound;
      end.outgoing.reserve(4096);
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u32 = static_cast<uint32_t>(i);
      ::epoll_ctl(top_fd_, EPOLL_CTL_ADD, end.epoll_fd, &event);
    }
  }

  ~UdpWire() override {
    for (End& end : ends_) {
      end.sockets.reset();
      ::close(end.epoll_fd);
    }
    ::close(top_fd_);
  }

  platform::SocketAddress address(int side) const override { return ends_[side].bound; }

  void send(int from, std::span<const transport::PeerTransmit> batch, uint64_t) override {
    End& end = ends_[from];
    end.outgoing.clear();
    for (const auto& t : batch) end.outgoing.push_back({t.remote, t.bytes});
    end.sockets->send(end.id, end.outgoing);
  }

  size_t receive(Pair& pair, uint64_t wait_until) override {
    std::array<epoll_event, 2> ready;
    const int n = wait_for(top_fd_, ready.data(), 2, wait_until);
    size_t delivered = 0;
    for (int i = 0; i < n; ++i) delivered += drain(pair, static_cast<int>(ready[static_cast<size_t>(i)].data.u32));
    return delivered;
  }

  size_t receive_side(Pair& pair, int side, uint64_t wait_until) override {
    std::array<epoll_event, 1> ready;
    return wait_for(ends_[side].epoll_fd, ready.data(), 1, wait_until) > 0 ? drain(pair, side) : 0;
  }

  platform::DatagramStats side_stats(int side) const {
    return ends_[side].forked ? *ends_[side].forked : ends_[side].sockets->stats();
  }
  // A side driven by a forked process counts in the child's copy of its socket: the child reports them here.
  void set_forked_stats(int side, const platform::DatagramStats& s) { ends_[side].forked = s; }

  std::string describe() const override {
    platform::DatagramStats s;
    for (int side : {0, 1}) {
      const auto e = side_stats(side);
      s.datagrams_sent += e.datagrams_sent;
      s.send_calls += e.send_calls;
      s.datagrams_received += e.datagrams_received;
      s.receive_calls += e.receive_calls;
      s.send_drops += e.send_drops;
    }
    char text[200];
    std::snprintf(text, sizeof(text), "udp: %llu datagrams sent in %llu sendmmsg, %llu received in %llu recvmmsg, "
                  "%llu send drops",
                  static_cast<unsigned long long>(s.datagrams_sent), static_cast<unsigned long long>(s.send_calls),
                  static_cast<unsigned long long>(s.datagrams_received),
                  static_cast<unsigned long long>(s.receive_calls), static_cast<unsigned long long>(s.send_drops));
    return text;
  }

 private:
  struct Receiver final : platform::DatagramReceiver {
    UdpWire* wire = nullptr;
    int side = 0;
    Pair* pair = nullptr;  // during drain()
    size_t delivered = 0;
    void on_datagrams(platform::SocketId, std::span<const platform::ReceivedDatagram> datagrams) override {
      const uint64_t now = now_ns();
      for (const auto& d : datagrams) {
        // The receive buffer is the platform's and ours during the callback (as in PeerHub): decrypt in place.
        auto* bytes = const_cast<uint8_t*>(d.bytes.data());
        pair->deliver(side, d.from, std::span<uint8_t>(bytes, d.bytes.size()), now);
      }
      delivered += datagrams.size();
    }
  };
  struct End {
    int epoll_fd = -1;
    std::unique_ptr<platform::UdpSockets> sockets;
    platform::SocketId id = 0;
    platform::SocketAddress bound;
    Receiver receiver;
    std::vector<platform::OutgoingDatagram> outgoing;
    std::optional<platform::DatagramStats> forked;
  };

  // Reads side `side`'s socket (recvmmsg batches; the socket is the only one in its epoll set).
  size_t drain(Pair& pair, int side) {
    End& end = ends_[side];
    end.receiver.pair = &pair;
    end.receiver.delivered = 0;
    end.sockets->on_readable(end.id);
    end.receiver.pair = nullptr;
    return end.receiver.delivered;
  }

  int top_fd_;
  End ends_[2];
};

// What b's end leaves for a's: a snapshot every 10 ms. In memory shared with a forked child (udp2p), so one
// layout serves both the thread and the process.
struct Snapshot {
  uint64_t at_ns, messages, bytes, cpu_ns, allocations, mallocs;
};
struct ReceiverLog {
  std::atomic<bool> stop{false};
  std::atomic<size_t> count{0};
  char error[240] = {};
  platform::DatagramStats sockets;  // b's socket, as b's end counted it
  size_t capacity = 0;
  Snapshot* snapshots() { return reinterpret_cast<Snapshot*>(this + 1); }  // `capacity` follow the header

  static ReceiverLog* map(size_t capacity) {
    const size_t bytes = sizeof(ReceiverLog) + capacity * sizeof(Snapshot);
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    auto* log = new (p) ReceiverLog;
    log->capacity = capacity;
    return log;
  }
  static void unmap(ReceiverLog* log) {
    const size_t bytes = sizeof(ReceiverLog) + log->capacity * sizeof(Snapshot);
    log->~ReceiverLog();
    ::munmap(log, bytes);
  }
};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<size_t>::is_always_lock_free,
              "shared between processes: the atomics must not hide a lock");

// b's end: waits in epoll, counts, logs.
void receive_until_stopped(Pair& pair, const UdpWire& wire, ReceiverLog& log) {
  Side& b = pair.b();
  uint64_t next = 0;
  while (!log.stop.load(std::memory_order_relaxed)) {
    pair.turn_side(1, true);
    const uint64_t now = now_ns();
    const size_t n = log.count.load(std::memory_order_relaxed);
    if (now >= next && n < log.capacity) {
      log.snapshots()[n] = {now, b.messages, b.bytes, thread_cpu_ns(), allocations(), test::mallocs_on_this_thread()};
      log.count.store(n + 1, std::memory_order_release);
      next = now + 10 * kMs;
    }
  }
  std::snprintf(log.error, sizeof(log.error), "%s", b.error.c_str());
  log.sockets = wire.side_stats(1);
}

enum class ReceiverIn { thread, process };

// The throughput measurement of transport_pair.cpp with b on a thread or in a process of its own: a (this
// thread) sends and polls its socket without waiting; b waits in epoll and counts, leaving a snapshot every
// 10 ms. A forked b (udp2p) runs on its copy of everything, including usrsctp's stack, and leaves with
// _exit(): the parent's b and the child's a are never driven again.
transport_bench::ThroughputResult measure_a_core_per_end(Pair& pair, UdpWire& wire, size_t size, double warmup_ms,
                                                         double timed_ms, ReceiverIn where) {
  transport_bench::ThroughputResult r;
  r.threaded = true;
  Side& a = pair.a();
  pair.on_message = nullptr;
  ReceiverLog* log = ReceiverLog::map(static_cast<size_t>((warmup_ms + timed_ms) / 10) + 1024);
  if (log == nullptr) {
    const int error = errno;
    r.error = std::string("mmap: ") + std::strerror(error);
    return r;
  }
  std::thread receiver;
  pid_t child = -1;
  if (where == ReceiverIn::thread) {
    receiver = std::thread([&] { receive_until_stopped(pair, wire, *log); });
  } else {
    std::fflush(nullptr);  // the child must not write the parent's buffered output again
    child = ::fork();
    if (child == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a sender that dies never sets `stop`
      receive_until_stopped(pair, wire, *log);
      ::_exit(0);
    }
    if (child < 0) {
      const int error = errno;
      r.error = std::string("fork: ") + std::strerror(error);
      ReceiverLog::unmap(log);
      return r;
    }
  }

  transport_bench::Sender sender(a, size, transport_bench::kKeepBuffered);
  const uint64_t start = now_ns();
  const uint64_t t0 = start + static_cast<uint64_t>(warmup_ms * 1e6);
  const uint64_t t1 = t0 + static_cast<uint64_t>(timed_ms * 1e6);
  uint64_t sent0 = 0, cpu_a0 = 0, process0 = 0, allocs0 = 0, mallocs0 = 0, rtx0 = 0;
  CpuTicks ticks0;
  double queued_sum = 0;
  size_t queued_samples = 0;
  bool timing = false;
  uint64_t next_sample = t0;
  uint64_t now = start;
  for (; now < t1; now = now_ns()) {
    if (!timing && now >= t0) {
      timing = true;
      ticks0 = machine_cpu_ticks();  // first and (ticks1) last: reading /proc/stat stays out of the figures
      sent0 = sender.sent;
      cpu_a0 = thread_cpu_ns();
      process0 = transport_bench::process_cpu_ns();
      allocs0 = allocations();
      mallocs0 = test::mallocs_on_this_thread();
      rtx0 = a.peer->sctp_stats() ? a.peer->sctp_stats()->sctp.retransmitted_data_chunks : 0;
    }
    if (!sender.fill(now) || !a.error.empty()) break;  // b's error is b's thread's to write: read after join
    pair.turn_side(0, false);
    if (timing && now >= next_sample) {
      queued_sum += static_cast<double>(a.peer->buffered_amount(a.channel));
      ++queued_samples;
      next_sample = now + 10 * kMs;
    }
  }
  const uint64_t cpu_a1 = thread_cpu_ns(), process1 = transport_bench::process_cpu_ns();
  const uint64_t allocs1 = allocations(), mallocs1 = test::mallocs_on_this_thread();
  const uint64_t rtx1 = a.peer->sctp_stats() ? a.peer->sctp_stats()->sctp.retransmitted_data_chunks : 0;
  const CpuTicks ticks1 = machine_cpu_ticks();
  log->stop = true;
  if (receiver.joinable()) receiver.join();
  if (child > 0) {
    int status = 0;
    pid_t waited;
    do {
      waited = ::waitpid(child, &status, 0);
    } while (waited < 0 && errno == EINTR);
    if (waited != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::snprintf(log->error, sizeof(log->error), "the receiving process did not exit cleanly");
    }
  }
  const std::vector<Snapshot> snapshots(log->snapshots(), log->snapshots() + log->count.load(std::memory_order_acquire));
  if (child > 0) wire.set_forked_stats(1, log->sockets);
  const std::string b_error = log->error;
  ReceiverLog::unmap(log);
  if (!sender.error.empty() || !a.error.empty() || !b_error.empty()) {
    r.error = sender.error.empty() ? a.error + b_error : sender.error;
    return r;
  }
  // b's snapshots bracketing the timed part.
  const Snapshot* first = nullptr;
  const Snapshot* last = nullptr;
  for (const Snapshot& s : snapshots) {
    if (s.at_ns >= t0 && first == nullptr) first = &s;
    if (s.at_ns <= t1) last = &s;
  }
  if (first == nullptr || last == nullptr || last <= first) {
    r.error = "the receiving end left too few samples";
    return r;
  }
  for (const Snapshot* s = first + 1; s <= last; ++s) {
    const uint64_t n = std::max<uint64_t>(1, s->messages - (s - 1)->messages);
    r.window_ns_per_message.push_back(static_cast<double>(s->at_ns - (s - 1)->at_ns) / static_cast<double>(n));
  }
  r.seconds = static_cast<double>(last->at_ns - first->at_ns) / 1e9;
  r.messages = last->messages - first->messages;
  r.bytes = last->bytes - first->bytes;
  r.sent = sender.sent - sent0;
  // a's clocks ran over [t0, now], b's snapshots over [first, last]: a's figures are scaled to b's interval
  // (they differ by at most a 10 ms snapshot period in >= 1 s).
  const double scale = r.seconds / (static_cast<double>(now - t0) / 1e9);
  r.sender_seconds = static_cast<double>(cpu_a1 - cpu_a0) / 1e9 * scale;
  r.receiver_seconds = static_cast<double>(last->cpu_ns - first->cpu_ns) / 1e9;
  r.cpu_seconds = static_cast<double>(process1 - process0) / 1e9 * scale;
  // A forked b's CPU is not in this process's clock: its thread's (the child's only one) is added.
  if (where == ReceiverIn::process) r.cpu_seconds += r.receiver_seconds;
  r.retransmitted_chunks = rtx1 - rtx0;
  r.allocations = (allocs1 - allocs0) + (last->allocations - first->allocations);
  r.mallocs = (mallocs1 - mallocs0) + (last->mallocs - first->mallocs);
  r.queued_bytes_mean = queued_samples ? queued_sum / static_cast<double>(queued_samples) : 0;
  if (ticks0.total > 0 && ticks1.total > ticks0.total) {
    r.steal_fraction = static_cast<double>(ticks1.steal - ticks0.steal) / static_cast<double>(ticks1.total - ticks0.total);
  }
  return r;
}

void run(Harness& h) {
  transport_bench::run_suite(h, "udp", [] { return std::make_unique<UdpWire>(); });

  for (ReceiverIn where : {ReceiverIn::thread, ReceiverIn::process}) {
    for (bool reliable : {true, false}) {
      for (size_t size : transport_bench::kSizes) {
        const std::string variant = std::string(where == ReceiverIn::thread ? "udp2t_" : "udp2p_") +
                                    (reliable ? "reliable_" : "unreliable_") + transport_bench::size_name(size);
        if (!h.selected("dc_throughput", variant)) continue;
        UdpWire wire;
        std::string error;
        auto pair = transport_bench::connected_pair(wire, transport_bench::channel_init(reliable), error);
        transport_bench::ThroughputResult r;
        if (pair) {
          r = measure_a_core_per_end(*pair, wire, size, std::max(200.0, h.options().warmup_ms),
                               std::max(1000.0, h.options().min_time_ms), where);
        } else {
          r.error = error;
        }
        transport_bench::report_throughput(h, variant, r, wire);
      }
    }
  }
}

const Suite kSuite(91, "transport_udp", run);

}  // namespace
}  // namespace tandem::bench
