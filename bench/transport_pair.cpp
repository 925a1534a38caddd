#include "transport_pair.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <numeric>
#include <string_view>

#include "harness.h"
#include "support/alloc_counter.h"
#include "support/seeded_entropy.h"

namespace tandem::bench::transport_bench {
namespace {

using transport::DataChannelEventKind;
using transport::PeerEventKind;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kWindowNs = 10 * kMs;  // one throughput sample
constexpr size_t kFillBytes = 512 * 1024;  // sent per refill at most (see Sender)

using test::seeded_entropy;

// A P-256 key takes milliseconds to make; applications reuse an RTCCertificate across connections, so do we.
std::shared_ptr<const transport::DtlsCertificate> certificate(int side) {
  static std::shared_ptr<const transport::DtlsCertificate> certs[2];
  auto& c = certs[side];
  if (!c) c = transport::DtlsCertificate::generate(seeded_entropy(1000 + static_cast<uint64_t>(side))).value();
  return c;
}

uint64_t retransmitted_chunks(const Side& s) {
  const auto stats = s.peer->sctp_stats();
  return stats ? stats->sctp.retransmitted_data_chunks : 0;
}

}  // namespace

uint64_t process_cpu_ns() {
  timespec ts{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

double quantile(const std::vector<uint64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1]);
}

std::string size_name(size_t size) {
  return size % 1024 == 0 ? std::to_string(size / 1024) + "KiB" : std::to_string(size) + "B";
}

// ---- Pair -----------------------------------------------------------------------------------------------------

std::unique_ptr<Pair> Pair::create(Wire& wire, const transport::DataChannelInit& init, std::string& error) {
  static uint64_t seed = 1;
  std::unique_ptr<Pair> pair(new Pair(wire));
  const uint64_t now = now_ns();
  for (int i : {0, 1}) {
    Side& s = pair->side(i);
    transport::PeerConnectionConfig c;
    c.entropy = seeded_entropy(seed++);
    c.certificate = certificate(i);
    auto peer = transport::PeerConnection::create(std::move(c), transport::TransportMetrics::none());
    if (!peer) {
      error = peer.error().message;
      return nullptr;
    }
    s.peer = std::move(peer.value());
    s.address = wire.address(i);
    if (auto added = s.peer->add_local_address(s.address, now); !added) {
      error = added.error().message;
      return nullptr;
    }
    s.peer->set_local_gathering_complete();
  }
  auto key = pair->a_.peer->create_data_channel(init, now);
  if (!key) {
    error = key.error().message;
    return nullptr;
  }
  pair->a_.channel = key.value();
  return pair;
}

bool Pair::negotiate(std::string& error) {
  const uint64_t now = now_ns();
  auto failed = [&](const char* step, const Error& e) {
    error = std::string(step) + ": " + e.message;
    return false;
  };
  auto offer = a_.peer->create_offer(now);
  if (!offer) return failed("create_offer", offer.error());
  if (auto r = b_.peer->set_remote_description(transport::SdpKind::offer, offer.value(), now); !r)
    return failed("b: set offer", r.error());
  auto answer = b_.peer->create_answer(now);
  if (!answer) return failed("create_answer", answer.error());
  if (auto r = a_.peer->set_remote_description(transport::SdpKind::answer, answer.value(), now); !r)
    return failed("a: set answer", r.error());
  return true;
}

void Pair::flush(int i, uint64_t now) {
  Side& s = side(i);
  const uint64_t start = now_ns();
  Side& other = side(1 - i);
  while (auto e = s.peer->poll_event()) {
    switch (e->kind) {
      case PeerEventKind::local_candidate: (void)other.peer->add_remote_candidate(e->text, now); break;
      case PeerEventKind::ice_state:
        if ((e->ice_state == transport::IceState::connected || e->ice_state == transport::IceState::completed) &&
            s.ice_connected_ns == 0)
          s.ice_connected_ns = now_ns();
        break;
      case PeerEventKind::dtls_state:
        if (e->dtls_state == transport::DtlsState::connected && s.dtls_connected_ns == 0) {
          s.dtls_connected_ns = now_ns();
        }
        break;
      case PeerEventKind::connection_state:
        if (e->state == transport::PeerState::failed) s.error = "connection failed";
        break;
      case PeerEventKind::error: s.error = e->text; break;
      case PeerEventKind::data_channel: {
        const auto& ce = e->channel_event;
        switch (ce.kind) {
          case DataChannelEventKind::connected: s.sctp_connected_ns = now_ns(); break;
          case DataChannelEventKind::channel_open:
            if (!s.open) {
              s.open = true;
              s.channel = e->channel;
              s.open_ns = now_ns();
            }
            break;
          case DataChannelEventKind::message:
            ++s.messages;
            s.bytes += ce.payload.size();
            if (on_message) on_message(i, ce.payload);
            break;
          case DataChannelEventKind::closed: s.error = "SCTP association closed"; break;
          default: break;
        }
        break;
      }
      default: break;
    }
  }
  auto batch = s.peer->transmits();
  if (!batch.empty()) {
    wire_.send(i, batch, now);
    s.peer->clear_transmits();
  }
  s.busy_ns += now_ns() - start;
}

void Pair::deliver(int to, const platform::SocketAddress& from, std::span<uint8_t> bytes, uint64_t now) {
  Side& s = side(to);
  const uint64_t start = now_ns();
  (void)s.peer->handle_datagram(s.address, from, bytes, now);  // garbage is the peer's to count, not ours
  s.busy_ns += now_ns() - start;
}

void Pair::turn(bool wait) { turn_sides(-1, wait); }
void Pair::turn_side(int i, bool wait) { turn_sides(i, wait); }

void Pair::turn_sides(int only, bool wait) {
  const int first = only < 0 ? 0 : only, last = only < 0 ? 1 : only;
  uint64_t now = now_ns();
  for (int i = first; i <= last; ++i) {
    auto& peer = *side(i).peer;
    if (auto due = peer.next_timeout(); due && *due <= now) {
      const uint64_t start = now_ns();
      peer.handle_timeout(now);
      side(i).busy_ns += now_ns() - start;
    }
  }
  for (int i = first; i <= last; ++i) flush(i, now);
  uint64_t wait_until = now;
  if (wait) {
    wait_until = now + kWindowNs;
    for (int i = first; i <= last; ++i) {
      if (auto due = side(i).peer->next_timeout()) wait_until = std::min(wait_until, std::max(*due, now));
    }
  }
  const size_t received = only < 0 ? wire_.receive(*this, wait_until) : wire_.receive_side(*this, only, wait_until);
  if (received > 0) {
    now = now_ns();
    for (int i = first; i <= last; ++i) flush(i, now);
  }
}

bool Pair::run_until(const std::function<bool()>& done, uint64_t timeout_ns) {
  const uint64_t end = now_ns() + timeout_ns;
  while (!done()) {
    if (failed() || now_ns() > end) return done();
    turn(true);
  }
  return true;
}

// ---- measurements ---------------------------------------------------------------------------------------------

Sender::Sender(Side& a, size_t size, uint64_t keep_buffered)
    : a_(a), payload_(size, 0x5a), keep_buffered_(keep_buffered),
      max_per_fill_(std::max<size_t>(1, kFillBytes / size)) {}

bool Sender::fill(uint64_t now) {
  bool ok = true;
  for (size_t n = 0; ok && n < max_per_fill_ && a_.peer->buffered_amount(a_.channel) < keep_buffered_; ++n) {
    if (auto sent = a_.peer->send_data(a_.channel, payload_, true, now); !sent) {
      error = "send: " + sent.error().message;
      ok = false;
    } else {
      ++this->sent;
    }
  }
  a_.busy_ns += now_ns() - now;
  return ok;
}

ThroughputResult measure_throughput(Pair& pair, size_t size, uint64_t keep_buffered, double warmup_ms,
                                    double timed_ms) {
  ThroughputResult r;
  Side& a = pair.a();
  Side& b = pair.b();
  pair.on_message = nullptr;
  Sender sender(a, size, keep_buffered);
  auto fill = [&](uint64_t now) {
    const bool ok = sender.fill(now);
    if (!ok) r.error = sender.error;
    return ok;
  };
  uint64_t& sent = sender.sent;

  const uint64_t warm_end = now_ns() + static_cast<uint64_t>(warmup_ms * 1e6);
  for (uint64_t now = now_ns(); now < warm_end; now = now_ns()) {
    if (!fill(now) || pair.failed()) return r.error.empty() ? (r.error = a.error + b.error, r) : r;
    pair.turn(false);
  }

  r.window_ns_per_message.reserve(static_cast<size_t>(timed_ms * 1e6 / kWindowNs) + 64);
  const uint64_t base_messages = b.messages, base_bytes = b.bytes, base_sent = sent;
  const uint64_t base_rtx = retransmitted_chunks(a);
  const uint64_t base_allocs = allocations(), base_mallocs = test::mallocs_on_this_thread();
  const uint64_t base_busy_a = a.busy_ns, base_busy_b = b.busy_ns;
  const uint64_t cpu0 = process_cpu_ns();
  const uint64_t t0 = now_ns();
  const uint64_t timed_ns = static_cast<uint64_t>(timed_ms * 1e6);
  uint64_t window_start = t0, window_messages = b.messages;
  double queued_sum = 0;
  uint64_t now = t0;
  for (; now - t0 < timed_ns; now = now_ns()) {
    if (!fill(now) || pair.failed()) break;
    pair.turn(false);
    if (now - window_start >= kWindowNs) {
      // A window in which nothing arrived counts as one message in the whole window (a stall shows, finitely).
      const uint64_t n = std::max<uint64_t>(1, b.messages - window_messages);
      r.window_ns_per_message.push_back(static_cast<double>(now - window_start) / static_cast<double>(n));
      window_start = now;
      window_messages = b.messages;
      queued_sum += a.peer->buffered_amount(a.channel);
    }
  }
  const uint64_t cpu1 = process_cpu_ns();
  r.allocations = allocations() - base_allocs;
  r.mallocs = test::mallocs_on_this_thread() - base_mallocs;
  r.seconds = static_cast<double>(now - t0) / 1e9;
  r.cpu_seconds = cpu0 && cpu1 ? static_cast<double>(cpu1 - cpu0) / 1e9 : 0;
  r.messages = b.messages - base_messages;
  r.bytes = b.bytes - base_bytes;
  r.sent = sent - base_sent;
  r.retransmitted_chunks = retransmitted_chunks(a) - base_rtx;
  r.queued_bytes_mean = r.window_ns_per_message.empty() ? 0 : queued_sum / r.window_ns_per_message.size();
  r.sender_seconds = static_cast<double>(a.busy_ns - base_busy_a) / 1e9;
  r.receiver_seconds = static_cast<double>(b.busy_ns - base_busy_b) / 1e9;
  if (r.error.empty() && pair.failed()) r.error = a.error + b.error;
  return r;
}

RoundTripResult measure_round_trips(Pair& pair, size_t size, int warmup, size_t min_samples, double timed_ms) {
  RoundTripResult r;
  Side& a = pair.a();
  Side& b = pair.b();
  const std::vector<uint8_t> ping(size, 0x11), pong(size, 0x22);
  bool answered = false;
  pair.on_message = [&](int side, std::span<const uint8_t>) {
    if (side == 1) {
      (void)b.peer->send_data(b.channel, pong, true, now_ns());
    } else {
      answered = true;
    }
  };
  auto one = [&]() -> uint64_t {
    answered = false;
    const uint64_t t0 = now_ns();
    if (auto sent = a.peer->send_data(a.channel, ping, true, t0); !sent) {
      r.error = "send: " + sent.error().message;
      return 0;
    }
    while (!answered) {
      pair.turn(true);
      if (pair.failed() || now_ns() - t0 > 1'000 * kMs) {
        r.error = pair.failed() ? a.error + b.error : "no answer within 1 s";
        return 0;
      }
    }
    return now_ns() - t0;
  };
  for (int i = 0; i < warmup; ++i) {
    if (one() == 0) return r;
  }
  constexpr size_t kMaxSamples = size_t{1} << 20;
  r.rtt_ns.reserve(kMaxSamples);
  const uint64_t base_allocs = allocations();
  const uint64_t start = now_ns();
  const uint64_t timed_ns = static_cast<uint64_t>(timed_ms * 1e6);
  while ((r.rtt_ns.size() < min_samples || now_ns() - start < timed_ns) && r.rtt_ns.size() < kMaxSamples) {
    const uint64_t rtt = one();
    if (rtt == 0) break;
    r.rtt_ns.push_back(rtt);
  }
  r.seconds = static_cast<double>(now_ns() - start) / 1e9;
  r.allocations = allocations() - base_allocs;
  pair.on_message = nullptr;
  return r;
}

ConnectResult measure_connects(Wire& wire, int runs) {
  ConnectResult r;
  transport::DataChannelInit init;
  init.label = "bench";
  auto both_open = [](Pair& p) { return [&p] { return p.a().open && p.b().open; }; };
  // One connection stays up throughout: usrsctp is process-global and set up with the first association and
  // torn down after the last, which a long-lived process with other connections would not pay per connect.
  auto keeper = Pair::create(wire, init, r.error);
  const uint64_t first_start = now_ns();
  if (!keeper || !keeper->negotiate(r.error)) return r;
  if (!keeper->run_until(both_open(*keeper), 5'000 * kMs)) {
    r.error = "the first connection did not open: " + keeper->a().error + keeper->b().error;
    return r;
  }
  r.first_ns = now_ns() - first_start;
  for (int run = 0; run < runs; ++run) {
    auto pair = Pair::create(wire, init, r.error);
    if (!pair) return r;
    wire.receive(*pair, 0);  // stale datagrams of the previous connection: rejected by the new peers, untimed
    const uint64_t t0 = now_ns();
    if (!pair->negotiate(r.error)) return r;
    if (!pair->run_until(both_open(*pair), 5'000 * kMs)) {
      r.error = "connect " + std::to_string(run) + " did not open within 5 s: " + pair->a().error + pair->b().error;
      return r;
    }
    const Side& a = pair->a();
    auto since_start = [t0](uint64_t t) { return t > t0 ? t - t0 : 0; };  // 0: the phase's event never came
    r.total_ns.push_back(since_start(std::max(a.open_ns, pair->b().open_ns)));
    r.ice_ns.push_back(since_start(a.ice_connected_ns));
    r.dtls_ns.push_back(since_start(a.dtls_connected_ns));
    r.sctp_ns.push_back(since_start(a.sctp_connected_ns));
  }
  return r;
}

// ---- the suite ------------------------------------------------------------------------------------------------

namespace {

constexpr int kConnectRuns = 100;

std::string format(const char* f, ...) {
  char text[512];
  va_list args;
  va_start(args, f);
  std::vsnprintf(text, sizeof(text), f, args);
  va_end(args);
  return text;
}

bool native() { return std::string_view(Harness::target()) == "native"; }

void report_failure(Harness& h, const std::string& bench, const std::string& variant, const std::string& error) {
  Measurement m{bench, variant};
  m.note = "FAILED: " + error;
  h.report(std::move(m));
}

void throughput_case(Harness& h, const std::string& wire_name, Wire& wire, bool reliable, size_t size) {
  const std::string variant = wire_name + (reliable ? "_reliable_" : "_unreliable_") + size_name(size);
  std::string error;
  auto pair = connected_pair(wire, channel_init(reliable), error);
  if (!pair) return report_failure(h, "dc_throughput", variant, error);
  const double timed_ms = std::max(1000.0, h.options().min_time_ms);
  ThroughputResult r = measure_throughput(*pair, size, kKeepBuffered, std::max(200.0, h.options().warmup_ms), timed_ms);
  report_throughput(h, variant, r, wire);
}

void round_trip_case(Harness& h, const std::string& wire_name, Wire& wire) {
  const std::string variant = wire_name + "_1KiB";
  transport::DataChannelInit init;
  init.label = "bench";
  std::string error;
  auto pair = connected_pair(wire, init, error);
  if (!pair) return report_failure(h, "dc_rtt", variant, error);
  RoundTripResult r = measure_round_trips(*pair, 1024, 200, 10'000, std::max(1000.0, h.options().min_time_ms));
  if (!r.error.empty() || r.rtt_ns.empty()) return report_failure(h, "dc_rtt", variant, r.error);
  std::sort(r.rtt_ns.begin(), r.rtt_ns.end());
  Measurement m{"dc_rtt", variant};
  const double n = static_cast<double>(r.rtt_ns.size());
  m.ops = r.rtt_ns.size();
  m.ns_per_op = static_cast<double>(std::accumulate(r.rtt_ns.begin(), r.rtt_ns.end(), uint64_t{0})) / n;
  m.ops_per_s = n / r.seconds;
  m.allocs_per_op = static_cast<double>(r.allocations) / n;
  m.p50_ns = quantile(r.rtt_ns, 0.50);
  m.p99_ns = quantile(r.rtt_ns, 0.99);
  const double p999 = quantile(r.rtt_ns, 0.999);
  m.extra = {{"p999_ns", p999}, {"max_ns", static_cast<double>(r.rtt_ns.back())}};
  m.note = format("1 KiB there and back, %zu round trips: p50 %.1f us, p99 %.1f us, p999 %.1f us, max %.1f us",
                  r.rtt_ns.size(), m.p50_ns / 1e3, m.p99_ns / 1e3, p999 / 1e3,
                  static_cast<double>(r.rtt_ns.back()) / 1e3);
  if (const std::string w = wire.describe(); !w.empty()) m.note += ", " + w;
  h.report(std::move(m));
}

void connect_case(Harness& h, const std::string& wire_name, Wire& wire) {
  ConnectResult r = measure_connects(wire, kConnectRuns);
  if (!r.error.empty()) return report_failure(h, "dc_connect", wire_name, r.error);
  for (auto* v : {&r.total_ns, &r.ice_ns, &r.dtls_ns, &r.sctp_ns}) std::sort(v->begin(), v->end());
  Measurement m{"dc_connect", wire_name};
  const double n = static_cast<double>(r.total_ns.size());
  m.ops = r.total_ns.size();
  m.ns_per_op = static_cast<double>(std::accumulate(r.total_ns.begin(), r.total_ns.end(), uint64_t{0})) / n;
  m.ops_per_s = 1e9 / m.ns_per_op;
  m.p50_ns = quantile(r.total_ns, 0.50);
  m.p99_ns = quantile(r.total_ns, 0.99);
  m.extra = {{"ice_connected_p50_ns", quantile(r.ice_ns, 0.5)}, {"dtls_connected_p50_ns", quantile(r.dtls_ns, 0.5)},
             {"sctp_up_p50_ns", quantile(r.sctp_ns, 0.5)}, {"first_connect_ns", static_cast<double>(r.first_ns)}};
  m.note = format("create_offer -> channel open at both ends, %zu runs: p50 %.2f ms, p99 %.2f ms; offerer's phases "
                  "(p50 from create_offer): ICE connected %.2f, DTLS connected %.2f, SCTP up %.2f ms; first "
                  "connection in the process %.2f ms (untimed)",
                  r.total_ns.size(), m.p50_ns / 1e6, m.p99_ns / 1e6, quantile(r.ice_ns, 0.5) / 1e6,
                  quantile(r.dtls_ns, 0.5) / 1e6, quantile(r.sctp_ns, 0.5) / 1e6,
                  static_cast<double>(r.first_ns) / 1e6);
  h.report(std::move(m));
}

}  // namespace

transport::DataChannelInit channel_init(bool reliable) {
  transport::DataChannelInit init;
  init.label = "bench";
  if (!reliable) {  // unordered, sent once
    init.ordered = false;
    init.max_retransmits = 0;
  }
  return init;
}

std::unique_ptr<Pair> connected_pair(Wire& wire, const transport::DataChannelInit& init, std::string& error) {
  auto pair = Pair::create(wire, init, error);
  if (!pair || !pair->negotiate(error)) return nullptr;
  if (!pair->run_until([&p = *pair] { return p.a().open && p.b().open; }, 5'000 * kMs)) {
    error = "no open channel within 5 s: " + pair->a().error + pair->b().error;
    return nullptr;
  }
  return pair;
}

void report_throughput(Harness& h, const std::string& variant, ThroughputResult& r, const Wire& wire) {
  if (!r.error.empty() || r.messages == 0) {
    return report_failure(h, "dc_throughput", variant, r.error.empty() ? "nothing arrived" : r.error);
  }
  Measurement m{"dc_throughput", variant};
  const double messages = static_cast<double>(r.messages);
  const double gbit = static_cast<double>(r.bytes) * 8 / 1e9;
  m.ops = r.messages;
  m.ns_per_op = r.seconds * 1e9 / messages;
  m.ops_per_s = messages / r.seconds;
  m.allocs_per_op = static_cast<double>(r.allocations) / messages;
  set_percentiles(m, r.window_ns_per_message);
  const double mbps = gbit * 1e3 / r.seconds;
  m.extra = {{"mbit_per_s", mbps}, {"msg_per_s", m.ops_per_s}, {"messages_sent", static_cast<double>(r.sent)},
             {"retransmitted_chunks", static_cast<double>(r.retransmitted_chunks)},
             {"queued_bytes_mean", r.queued_bytes_mean}};
  std::string cost;
  if (native() && r.cpu_seconds > 0) {
    m.extra.push_back({"cpu_s_per_gbit", r.cpu_seconds / gbit});
    m.extra.push_back({"cpu_busy", r.cpu_seconds / r.seconds});
    m.extra.push_back({"mallocs_per_msg", static_cast<double>(r.mallocs) / messages});
    cost = format("%.2f CPU s/Gbit (process, both ends), mallocs/msg %.1f", r.cpu_seconds / gbit,
                  static_cast<double>(r.mallocs) / messages);
    // The phrase bench/run.mjs looks for: rows whose threads did not really run at once are set aside there.
    if (r.threaded) cost += format(", cpus busy on average: %.2f of 2 threads", r.cpu_seconds / r.seconds);
  } else {
    m.extra.push_back({"wall_s_per_gbit", r.seconds / gbit});  // one thread does both ends: wall = its CPU
    cost = format("%.2f wall s/Gbit (1 thread, both ends)", r.seconds / gbit);
  }
  // How the work splits between the ends: what one core per end could carry is set by the busier one.
  m.extra.push_back({"sender_s_per_gbit", r.sender_seconds / gbit});
  m.extra.push_back({"receiver_s_per_gbit", r.receiver_seconds / gbit});
  const char* split =
      r.threaded ? "thread a's CPU %.2f s/Gbit, thread b's %.2f" : "in a's calls %.2f s/Gbit, in b's %.2f";
  m.note = format("%.0f Mbit/s, %.0f msg/s, %s; ", mbps, m.ops_per_s, cost.c_str()) +
           format(split, r.sender_seconds / gbit, r.receiver_seconds / gbit) +
           format("; rtx %llu; bufferedAmount %.0f KiB", static_cast<unsigned long long>(r.retransmitted_chunks),
                  r.queued_bytes_mean / 1024);
  if (r.steal_fraction >= 0) {
    m.extra.push_back({"steal", r.steal_fraction});
    m.note += format("; host steal %.0f %%", r.steal_fraction * 100);
  }
  if (const std::string w = wire.describe(); !w.empty()) m.note += ", " + w;
  h.report(std::move(m));
}

void run_suite(Harness& h, const std::string& wire_name, const std::function<std::unique_ptr<Wire>()>& make_wire) {
  for (bool reliable : {true, false}) {
    for (size_t size : kSizes) {
      const std::string variant = wire_name + (reliable ? "_reliable_" : "_unreliable_") + size_name(size);
      if (h.selected("dc_throughput", variant)) throughput_case(h, wire_name, *make_wire(), reliable, size);
    }
  }
  if (h.selected("dc_rtt", wire_name + "_1KiB")) round_trip_case(h, wire_name, *make_wire());
  if (h.selected("dc_connect", wire_name)) connect_case(h, wire_name, *make_wire());
}

}  // namespace tandem::bench::transport_bench
